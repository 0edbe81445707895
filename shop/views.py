"""The demo shop's pages: the catalogue and product pages."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from .models import Category, Product

PAGE_SIZE = 12


def catalogue(request):
    products = Product.objects.select_related("category").prefetch_related("images")
    categories = Category.objects.all()
    current = None
    slug = request.GET.get("category")
    if slug:
        current = get_object_or_404(Category, slug=slug)
        products = products.filter(category=current)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/catalogue.html",
        {"page": page, "categories": categories, "current_category": current},
    )


def product_detail(request, slug: str):
    product = get_object_or_404(
        Product.objects.select_related("category").prefetch_related("images"), slug=slug
    )
    return render(request, "shop/product_detail.html", {"product": product})
