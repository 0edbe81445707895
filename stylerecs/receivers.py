"""Signal receivers (connected in ``StylerecsConfig.ready``); each calls one service."""

from __future__ import annotations

from .services.shoppers import shopper_merge
from .shoppers import SESSION_KEY


def merge_anonymous_shopper(sender, request=None, user=None, **kwargs) -> None:
    """``user_logged_in``: the visitor's anonymous history becomes the account's.

    Django's ``login()`` keeps the session data of an anonymous session (it only cycles
    the key), so the anonymous id is still there; it is dropped once merged.
    """
    session = getattr(request, "session", None)
    if session is None or user is None:
        return
    anon_id = session.pop(SESSION_KEY, None)
    if isinstance(anon_id, str) and anon_id:
        shopper_merge(anon_id=anon_id, user=user)
