"""Request rates, from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.

DRF's throttles copy the rates into a class attribute when they are imported, so a
change of settings (``override_settings`` in tests, a reloaded config) would be ignored;
these read the rate each time instead.

Anonymous callers are counted by address, and the address is ``REMOTE_ADDR`` unless
``REST_FRAMEWORK["NUM_PROXIES"]`` says how many proxies in front of the site append to
``X-Forwarded-For``. DRF itself trusts the whole client-sent header while NUM_PROXIES
is unset (None), so a script could send a new forged address with every request and
never be throttled; here unset means no proxy.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


def client_address(request) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or the entry that the last trusted proxy
    wrote into ``X-Forwarded-For`` (``REST_FRAMEWORK["NUM_PROXIES"]`` of them, default 0).

    Entries left of it were written by the client and may be forged. Also the
    ``AXES_CLIENT_IP_CALLABLE`` of the demo shop, so login lockouts count the same way.
    """
    meta = getattr(request, "META", {})
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return meta.get("REMOTE_ADDR")
    addresses = [a.strip() for a in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or meta.get("REMOTE_ADDR")


class _RateFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_address(request)


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


class LoginRateThrottle(_RateFromSettings, SimpleRateThrottle):
    """Password checks (``POST auth/token/``) per address, whoever is signed in.

    A guessing loop is slowed here whatever usernames it tries; a lockout of one
    account after repeated failures is the host's login protection (django-axes in
    the demo shop), which counts this endpoint too.
    """

    scope = "stylerecs_login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
