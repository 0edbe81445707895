"""OpenAPI (drf-spectacular) extensions for the API's own classes.

Imported by ``urls.py``, so they are registered before any schema is generated.
"""

from drf_spectacular.authentication import SessionScheme


class ShopperSessionScheme(SessionScheme):
    """Our session authentication is DRF's (a session cookie, CSRF on writes)."""

    target_class = "stylerecs.api.authentication.ShopperSessionAuthentication"
    priority = 0
