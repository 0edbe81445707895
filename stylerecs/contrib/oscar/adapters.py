"""How stylerecs reads a django-oscar catalogue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models.fields.files import FieldFile
from oscar.core.loading import get_class

from ...adapters import ProductAdapter


class OscarProductAdapter(ProductAdapter):
    """``STYLERECS["PRODUCT_ADAPTER"]`` for ``STYLERECS_PRODUCT_MODEL = "catalogue.Product"``.

    Prices and availability come from oscar's strategy, so they are what the shop's own
    pages show: the default strategy of oscar's ``Selector`` (a shop that forked the
    partner app gets its own ``Selector``, the way oscar loads it). The strategy is
    the one for an anonymous shopper: stylerecs shows the same prices to everyone.
    """

    def __init__(self) -> None:
        # oscar's own loader: respects a host that forked the partner app.
        self._strategy = get_class("partner.strategy", "Selector")().strategy()

    def image_file(self, product: Any) -> FieldFile | None:
        """The ``original`` of the product's primary ``ProductImage`` (a child product
        without images uses its parent's, as oscar does); ``None`` for oscar's
        "missing image" placeholder."""
        image = product.primary_image()
        if isinstance(image, dict):  # oscar's placeholder: {"is_missing": True, ...}
            return None
        return image.original or None

    def title(self, product: Any) -> str:
        return product.get_title()

    def url(self, product: Any) -> str:
        return product.get_absolute_url()

    def _purchase_info(self, product: Any):
        if product.is_parent:
            return self._strategy.fetch_for_parent(product)
        return self._strategy.fetch_for_product(product)

    def price(self, product: Any) -> Decimal | None:
        """The price a shopper pays (incl. tax where the strategy knows the tax)."""
        price = self._purchase_info(product).price
        if not price.exists:
            return None
        return price.incl_tax if price.is_tax_known else price.excl_tax

    def price_display(self, product: Any) -> str:
        """The price in the strategy's currency, formatted the way oscar's pages do."""
        from oscar.templatetags.currency_filters import currency

        price = self._purchase_info(product).price
        if not price.exists:
            return ""
        amount = price.incl_tax if price.is_tax_known else price.excl_tax
        return currency(amount, price.currency)

    def is_available(self, product: Any) -> bool:
        if not product.is_public:
            return False
        return bool(self._purchase_info(product).availability.is_available_to_buy)

    def search_fields(self) -> list[str]:
        return ["title", "upc"]

    def image_queryset_prefetch(self) -> list[str]:
        return ["images"]
