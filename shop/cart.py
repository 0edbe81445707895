"""The demo shop's cart: product ids and quantities kept in the session.

Signed-in and anonymous shoppers have the same cart; it lives as long as the session
(Django keeps the session data across login, so a cart survives signing in). There is
no Order model: placing an order records the purchase and empties the cart, which is all
the demo needs for its purchase events to be real.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .models import Product

SESSION_KEY = "shop_cart"
LAST_ORDER_KEY = "shop_last_order"
MAX_QUANTITY = 20


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int

    @property
    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity


class Cart:
    """A session cart: ``{"<product id>": quantity}`` under ``session["shop_cart"]``."""

    def __init__(self, session) -> None:
        self.session = session
        # Keys are strings: the session serialises to JSON, which has no integer keys.
        self.items: dict[str, int] = dict(session.get(SESSION_KEY, {}))

    def add(self, product: Product, quantity: int = 1) -> int:
        """Add ``quantity`` of a product (capped); return the new quantity."""
        key = str(product.pk)
        self.items[key] = max(1, min(MAX_QUANTITY, self.items.get(key, 0) + quantity))
        self._save()
        return self.items[key]

    def remove(self, product_id: int) -> None:
        """Take a product out of the cart (no error when it is not there)."""
        self.items.pop(str(product_id), None)
        self._save()

    def clear(self) -> None:
        self.items = {}
        self._save()

    def lines(self) -> list[Line]:
        """The cart's lines with their products, in the order they were added.

        A product that was deleted or sold out since it was added drops out here, so a
        shopper never checks out something the shop cannot sell.
        """
        products = Product.objects.filter(pk__in=self.items, available=True).prefetch_related(
            "images"
        )
        by_id = {str(p.pk): p for p in products}
        return [Line(by_id[key], qty) for key, qty in self.items.items() if key in by_id]

    def __len__(self) -> int:
        return sum(self.items.values())

    @staticmethod
    def total(lines: list[Line]) -> Decimal:
        return sum((line.subtotal for line in lines), Decimal("0.00"))

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.items
        self.session.modified = True
