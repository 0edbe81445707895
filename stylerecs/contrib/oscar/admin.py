"""The stylerecs gallery and generate action on oscar's Product in the Django admin."""

from __future__ import annotations

from django.contrib import admin
from oscar.core.loading import get_model

from ...admin import ProductVariantsAdminMixin


def register_product_admin(site: admin.AdminSite | None = None) -> type[admin.ModelAdmin]:
    """Re-register oscar's Product with its own ModelAdmin plus
    :class:`~stylerecs.admin.ProductVariantsAdminMixin`; returns the new class.

    Keeps oscar's list columns, filters and inlines; adds the variant gallery, the style
    profile and the "Generate stylized variants…" action. Idempotent.
    """
    site = site or admin.site
    product = get_model("catalogue", "Product")
    current = site._registry.get(product)
    base = type(current) if current is not None else admin.ModelAdmin
    if issubclass(base, ProductVariantsAdminMixin):
        return base
    if current is not None:
        site.unregister(product)
    product_admin = type(
        f"Stylerecs{base.__name__}",
        (ProductVariantsAdminMixin, base),
        {"__module__": __name__, "actions": [*(base.actions or []), "generate_variants"]},
    )
    site.register(product, product_admin)
    return product_admin
