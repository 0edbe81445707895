"""Request rates, from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.

DRF's throttles copy the rates into a class attribute when they are imported, so a
change of settings (``override_settings`` in tests, a reloaded config) would be ignored;
these read the rate each time instead.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _RateFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ShopperAnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Anonymous callers, by IP address (anon ids are free to make, addresses are not)."""


class ShopperUserThrottle(_RateFromSettings, UserRateThrottle):
    """Signed-in callers, by user."""


class EventRateThrottle(_RateFromSettings, SimpleRateThrottle):
    """Storefront events (likes, dislikes, views): per user, or per IP when anonymous.

    Also used outside DRF by the storefront's form/fetch endpoint: it only needs a
    request with ``user`` and ``META``.
    """

    scope = "stylerecs_events"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
