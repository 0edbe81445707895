"""Session authentication that also protects anonymous shoppers' writes from CSRF."""

from __future__ import annotations

from django.conf import settings
from rest_framework.authentication import SessionAuthentication


class ShopperSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, with CSRF enforced for anonymous sessions too.

    DRF checks CSRF only for a signed-in session user. Anonymous shoppers are also
    identified by their session (the anon id in it), so another site could make their
    browser like a product or delete their data; a write that carries a session cookie
    is therefore CSRF-checked whether or not anyone is signed in. Requests without a
    session cookie (token clients, first visits) have no identity to forge.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
        if result is None and unsafe and settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            self.enforce_csrf(request)
        return result
