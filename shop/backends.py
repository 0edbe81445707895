"""The demo shop's login lockout: django-axes, for logins that come with a request."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, skipped for ``authenticate()`` calls without a request.

    Every login an attacker can reach (the login form, the admin, ``POST
    /api/auth/token/``) authenticates with the request and is counted and locked out.
    Calls without one (``Client.login`` in tests, a shell) cannot be made from outside;
    axes would refuse them with an exception, so they go straight to ``ModelBackend``.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
