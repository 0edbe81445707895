"""Shoppers: an anonymous visitor's history becomes their account's at login."""

from __future__ import annotations

from django.db import transaction

from ..models import (
    Interaction,
    PreferenceSource,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from ..shoppers import Shopper
from .experiments import assignments_merge
from .recommendations import recommendations_schedule, recommendations_unschedule


@transaction.atomic
def shopper_merge(*, anon_id: str, user) -> None:
    """Move an anonymous shopper's history into a user's account.

    Interactions move as they are. Explicit preferences move unless the account chose
    that style more recently; learned ones and recommendations are dropped (the
    account is rescored after commit). A "personalisation off" made anonymously is
    kept: the stricter choice wins.
    """
    if not anon_id:
        return
    anon = Shopper.anonymous(anon_id)
    account = Shopper.for_user(user)
    Interaction.objects.filter(anon.q()).update(user_id=account.user_id, session_key="")
    # The arm a visitor saw stays theirs once signed in (sticky assignment).
    assignments_merge(anon=anon, account=account)

    mine = {p.style_id: p for p in StylePreference.objects.filter(account.q())}
    theirs = StylePreference.objects.filter(anon.q(), source=PreferenceSource.EXPLICIT)
    for pref in theirs:
        current = mine.get(pref.style_id)
        if current is None:
            StylePreference.objects.create(
                style_id=pref.style_id,
                weight=pref.weight,
                source=PreferenceSource.EXPLICIT,
                **account.fields(),
            )
        elif current.source == PreferenceSource.LEARNED or current.updated_at < pref.updated_at:
            StylePreference.objects.filter(pk=current.pk).update(
                weight=pref.weight, source=PreferenceSource.EXPLICIT
            )
    StylePreference.objects.filter(anon.q()).delete()

    anon_settings = ShopperSettings.objects.filter(anon.q()).first()
    if anon_settings is not None:
        if not anon_settings.personalise:
            updated = ShopperSettings.objects.filter(account.q()).update(personalise=False)
            if not updated:
                ShopperSettings.objects.create(personalise=False, **account.fields())
        anon_settings.delete()

    Recommendation.objects.filter(anon.q()).delete()
    transaction.on_commit(lambda: recommendations_unschedule(shopper=anon))
    transaction.on_commit(lambda: recommendations_schedule(shopper=account))
