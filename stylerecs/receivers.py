"""Signal receivers (connected in ``StylerecsConfig.ready``); each calls one service."""

from __future__ import annotations

from django.db import transaction

from .assignment import running_experiment_changed
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


def experiment_rows_changed(sender, **kwargs) -> None:
    """``post_save``/``post_delete`` of an experiment or an arm (the admin edits them):
    forget the cached running experiment once the change is committed, so that no page
    assigns shoppers to an arm that is gone."""
    transaction.on_commit(running_experiment_changed)
