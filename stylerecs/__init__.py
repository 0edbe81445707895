"""stylerecs: learn each shopper's visual style and show them products in it."""

__version__ = "0.1.0"
