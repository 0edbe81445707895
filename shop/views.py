"""The demo shop's pages: catalogue, product pages, the cart and checkout.

The shop tells stylerecs what shoppers do (views, add to cart, purchases) through its
one service, ``interaction_record``: one INSERT per event, scoring happens on a worker.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from stylerecs import selectors
from stylerecs.assignment import running_experiment, treatment_for
from stylerecs.models import InteractionKind, Style, Surface
from stylerecs.pictures import picture_sets
from stylerecs.services.events import interaction_record
from stylerecs.services.experiments import impressions_log
from stylerecs.shoppers import shopper_from_request

from .cart import LAST_ORDER_KEY, Cart
from .models import Category, Product

PAGE_SIZE = 12
SORTS = {"": "Featured", "for_you": "For you", "price": "Price: low to high"}
# How many of a style's best-matching products its filter shows.
STYLE_FILTER_LIMIT = 48


def _record(request, product: Product, kind: str) -> None:
    """Record a shopper's event (cheap: one INSERT; scoring runs on a worker)."""
    shopper = shopper_from_request(request)
    if shopper is not None:
        interaction_record(shopper=shopper, product_id=product.pk, kind=kind)


def _in_order(queryset, ids: list):
    """Keep only ``ids``, in their order (a rank from stylerecs)."""
    order = Case(*[When(pk=pk, then=i) for i, pk in enumerate(ids)], output_field=IntegerField())
    return queryset.filter(pk__in=ids).order_by(order)


def catalogue(request):
    """All products, by category; sorted "for you" or filtered to a style's best matches."""
    products = Product.objects.select_related("category").prefetch_related("images")
    categories = Category.objects.all()
    styles = Style.objects.filter(is_active=True)
    current = current_style = None
    slug = request.GET.get("category")
    if slug:
        current = get_object_or_404(Category, slug=slug)
        products = products.filter(category=current)
    style_slug = request.GET.get("style")
    if style_slug:
        current_style = get_object_or_404(Style, slug=style_slug, is_active=True)
        ids = selectors.products_for_style(style=current_style, limit=STYLE_FILTER_LIMIT)
        products = _in_order(products, list(ids))
    sort = request.GET.get("sort", "")
    if sort not in SORTS:
        sort = ""
    # stylerecs' experiment arm decides the "for you" order and the styled photos; a
    # visitor needs an id to be assigned one, made only while an experiment runs.
    shopper = shopper_from_request(request, create=running_experiment() is not None)
    treatment = treatment_for(shopper=shopper)
    if sort == "for_you" and not style_slug:
        recommended = (
            [
                row["product"].pk
                for row in selectors.recommendations_for(
                    shopper=shopper, limit=96, treatment=treatment
                )
            ]
            if shopper is not None
            else []
        )
        if recommended:
            # Recommended first, in their rank; then everything else as usual.
            rank = Case(
                *[When(pk=pk, then=i) for i, pk in enumerate(recommended)],
                default=len(recommended),
                output_field=IntegerField(),
            )
            products = products.order_by(rank, "title", "id")
        else:
            # A CASE without a WHEN is a constant, which PostgreSQL refuses in ORDER BY.
            products = products.order_by("title", "id")
    elif sort == "price":
        products = products.order_by("price", "title", "id")
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    # In a style's filter each card shows the product in that style, where staff approved one.
    styled = (
        selectors.approved_variants_in_style(product_ids=[p.pk for p in page], style=current_style)
        if treatment.shows_style(current_style)
        else {}
    )
    cards = [(product, styled.get(product.pk)) for product in page]
    impressions_log(
        shopper=shopper,
        surface=Surface.CATALOGUE,
        items=[(product.pk, variant.pk if variant else None) for product, variant in cards],
        treatment=treatment,
    )
    # The renditions of every card's picture in one query (stylerecs' <picture> tag).
    renditions = picture_sets(
        names=[
            variant.image.name if variant else product.primary_image.image.name
            for product, variant in cards
            if variant or product.primary_image
        ]
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "shop/catalogue.html",
        {
            "page": page,
            "cards": cards,
            "categories": categories,
            "styles": styles,
            "current_category": current,
            "current_style": current_style,
            "sort": sort,
            "sorts": SORTS,
            "query": query.urlencode(),
            "renditions": renditions,
        },
    )


def product_detail(request, slug: str):
    """A product page; viewing it is an event that teaches stylerecs the shopper's taste."""
    product = get_object_or_404(
        Product.objects.select_related("category").prefetch_related("images"), slug=slug
    )
    _record(request, product, InteractionKind.VIEW)
    return render(request, "shop/product_detail.html", {"product": product})


def cart_detail(request):
    """The cart, with quantities and the total."""
    lines = Cart(request.session).lines()
    return render(request, "shop/cart.html", {"lines": lines, "total": Cart.total(lines)})


@require_POST
def cart_add(request, product_id: int):
    """Add a product to the cart (a form POST from the product page)."""
    product = get_object_or_404(Product, pk=product_id)
    if not product.available:
        messages.error(request, f"Sorry, {product.title} is sold out.")
        return redirect(product.get_absolute_url())
    try:
        quantity = max(1, int(request.POST.get("quantity", 1)))
    except ValueError:
        quantity = 1
    Cart(request.session).add(product, quantity)
    _record(request, product, InteractionKind.ADD_TO_CART)
    messages.success(request, f"{product.title} is in your cart.")
    return redirect("shop:cart")


@require_POST
def cart_remove(request, product_id: int):
    """Take a product out of the cart."""
    Cart(request.session).remove(product_id)
    return redirect("shop:cart")


def checkout(request):
    """Review the order, then place it (no payment in the demo): one purchase per product."""
    cart = Cart(request.session)
    lines = cart.lines()
    if request.method == "POST":
        if not lines:
            messages.error(request, "Your cart is empty.")
            return redirect("shop:cart")
        for line in lines:
            _record(request, line.product, InteractionKind.PURCHASE)
        request.session[LAST_ORDER_KEY] = {
            "lines": [
                {
                    "title": line.product.title,
                    "quantity": line.quantity,
                    "price": str(line.subtotal),
                }
                for line in lines
            ],
            "total": str(Cart.total(lines)),
        }
        cart.clear()
        # Post/redirect/get: reloading the confirmation must not order twice.
        return redirect("shop:order_placed")
    if not lines:
        return redirect("shop:cart")
    return render(request, "shop/checkout.html", {"lines": lines, "total": Cart.total(lines)})


def order_placed(request):
    """The confirmation of the order just placed."""
    order = request.session.get(LAST_ORDER_KEY)
    if not order:
        raise Http404("No order was placed in this session.")
    return render(request, "shop/order_placed.html", {"order": order})
