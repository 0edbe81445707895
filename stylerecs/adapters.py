"""How stylerecs reads the host shop's products.

stylerecs never imports the shop: it points at the product model through
``STYLERECS_PRODUCT_MODEL`` and asks an adapter, named in ``STYLERECS["PRODUCT_ADAPTER"]``,
for what it needs to know about a product. A django-oscar shop writes its own adapter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models.fields.files import FieldFile


class ProductAdapter:
    """What a host shop must tell stylerecs about its products.

    Subclasses implement :meth:`image_file`; the other methods have defaults that read
    common attribute names.
    """

    def image_file(self, product: Any) -> FieldFile | None:
        """The product's primary image as a file in Django storage, or ``None``."""
        raise NotImplementedError("ProductAdapter subclasses must implement image_file()")

    def title(self, product: Any) -> str:
        """A human-readable name."""
        return str(getattr(product, "title", None) or getattr(product, "name", product))

    def url(self, product: Any) -> str:
        """The product page's URL."""
        return product.get_absolute_url()

    def price(self, product: Any) -> Decimal | None:
        """The current price, or ``None`` when it has none."""
        return getattr(product, "price", None)

    def price_display(self, product: Any) -> str:
        """The price as the shop writes it ("$24.50"); ``""`` when it has none.

        Override for another currency or locale (the oscar adapter uses oscar's).
        """
        price = self.price(product)
        return "" if price is None else f"${price}"

    def is_available(self, product: Any) -> bool:
        """Whether a shopper can buy it now."""
        return bool(getattr(product, "available", getattr(product, "is_active", True)))

    def search_fields(self) -> list[str]:
        """Fields of the product model the admin finds products by (their title).

        Default: ``title`` and/or ``name`` where the model has them. The stylerecs
        admin pages search ``product__<field>`` for each.
        """
        from .conf import get_product_model

        names = {field.name for field in get_product_model()._meta.get_fields()}
        return [name for name in ("title", "name") if name in names]

    def image_queryset_prefetch(self) -> list[str]:
        """``prefetch_related`` lookups that make :meth:`image_file` free in bulk."""
        return []


class DefaultProductAdapter(ProductAdapter):
    """For a product model with an ``image`` ImageField/FileField."""

    def image_file(self, product: Any) -> FieldFile | None:
        image = getattr(product, "image", None)
        return image if image else None
