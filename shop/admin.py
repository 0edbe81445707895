from django import forms
from django.contrib import admin

from stylerecs.admin import ProductVariantsAdminMixin, thumbnail
from stylerecs.validators import ValidatedImageFormMixin

from .models import Category, Product, ProductImage


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ProductImageForm(ValidatedImageFormMixin, forms.ModelForm):
    """A product photo must decode fully (Django's ImageField only checks its header)."""

    image_fields = ("image",)

    class Meta:
        model = ProductImage
        fields = ["image", "alt", "position"]


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    extra = 1
    fields = ["preview", "image", "alt", "position"]
    readonly_fields = ["preview"]

    @admin.display(description="Preview")
    def preview(self, obj):
        if not obj.image:
            return "—"
        return thumbnail(obj.image, obj.alt or "Product photo", 80)


@admin.register(Product)
class ProductAdmin(ProductVariantsAdminMixin, admin.ModelAdmin):
    list_display = ["thumb", "title", "category", "price", "available"]
    list_display_links = ["thumb", "title"]
    list_filter = ["available", "category"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [ProductImageInline]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category").prefetch_related("images")

    @admin.display(description="Photo")
    def thumb(self, obj):
        first = obj.primary_image
        if not first:
            return "—"
        return thumbnail(first.image, first.alt or obj.title, 48)
