"""Who a shopper is: a signed-in user, or an anonymous visitor known by a random id.

The anonymous id lives in the session *data* (``session["stylerecs_anon_id"]``), not in
the session key: Django rotates the key at login, and the anonymous history has to be
found again at that moment to be merged into the account (see
``services.shoppers.shopper_merge``). Columns named ``session_key`` in stylerecs' tables
hold this id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

SESSION_KEY = "stylerecs_anon_id"
ANON_ID_MAX_LENGTH = 40


@dataclass(frozen=True)
class Shopper:
    """A signed-in user (``user_id``) or an anonymous visitor (``anon_id``), never both."""

    user_id: int | None
    anon_id: str = ""

    def __post_init__(self) -> None:
        if (self.user_id is None) == (not self.anon_id):
            raise ValueError("A shopper is either a user or an anonymous id, not both or none.")
        if len(self.anon_id) > ANON_ID_MAX_LENGTH:
            raise ValueError(f"anon_id is longer than {ANON_ID_MAX_LENGTH} characters")

    @classmethod
    def for_user(cls, user: Any) -> Shopper:
        """The shopper of a user instance (or a user primary key)."""
        return cls(user_id=getattr(user, "pk", user), anon_id="")

    @classmethod
    def anonymous(cls, anon_id: str) -> Shopper:
        return cls(user_id=None, anon_id=anon_id)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def key(self) -> str:
        """A stable string naming this shopper (cache keys, logs, task arguments)."""
        return f"a:{self.anon_id}" if self.is_anonymous else f"u:{self.user_id}"

    def lookup(self, prefix: str = "") -> dict[str, Any]:
        """Filter keywords selecting this shopper's rows (tables with user + session_key)."""
        if self.is_anonymous:
            return {f"{prefix}user__isnull": True, f"{prefix}session_key": self.anon_id}
        return {f"{prefix}user_id": self.user_id}

    def q(self, prefix: str = "") -> Q:
        """:meth:`lookup` as a ``Q`` object."""
        return Q(**self.lookup(prefix))

    def fields(self) -> dict[str, Any]:
        """Column values that make a new row belong to this shopper."""
        return {"user_id": self.user_id, "session_key": self.anon_id}


def new_anon_id() -> str:
    """A random, unguessable anonymous id (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def shopper_from_request(request, *, create: bool = True) -> Shopper | None:
    """The shopper behind a request.

    Signed-in users are themselves. Anonymous visitors get a random id kept in their
    session (made on first use when ``create``; ``None`` when there is none and
    ``create`` is false, or when the request has no session).
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Shopper.for_user(user)
    session = getattr(request, "session", None)
    if session is None:
        return None
    anon_id = session.get(SESSION_KEY)
    if not isinstance(anon_id, str) or not anon_id or len(anon_id) > ANON_ID_MAX_LENGTH:
        if not create:
            return None
        anon_id = new_anon_id()
        session[SESSION_KEY] = anon_id
    return Shopper.anonymous(anon_id)


def shoppers_q(shoppers: list[Shopper], prefix: str = "") -> Q:
    """One filter for the rows of many shoppers (users and anonymous ids).

    Here, not with the scoring inputs, because the web tier deletes and reads shoppers'
    rows with it and must not import torch.
    """
    user_ids = [s.user_id for s in shoppers if not s.is_anonymous]
    anon_ids = [s.anon_id for s in shoppers if s.is_anonymous]
    q = Q(pk__in=[])
    if user_ids:
        q |= Q(**{f"{prefix}user_id__in": user_ids})
    if anon_ids:
        q |= Q(**{f"{prefix}user__isnull": True, f"{prefix}session_key__in": anon_ids})
    return q
