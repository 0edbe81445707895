"""Template context for every page of the demo shop."""

from .cart import Cart


def cart(request) -> dict:
    """How many items are in the cart, for the header's "Cart (n)" link."""
    session = getattr(request, "session", None)
    return {"cart_count": len(Cart(session)) if session is not None else 0}
