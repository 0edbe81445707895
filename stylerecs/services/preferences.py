"""Explicit style preferences, the style quiz and the personalisation switch."""

from __future__ import annotations

from collections import Counter

from django.db import transaction

from ..models import (
    Interaction,
    InteractionKind,
    PreferenceSource,
    ShopperSettings,
    Style,
    StylePreference,
    StylizedVariant,
)
from ..shoppers import Shopper
from .recommendations import (
    recommendations_clear,
    recommendations_schedule,
    recommendations_unschedule,
)

WEIGHT_RANGE = (-1.0, 1.0)


def _clip(weight: float) -> float:
    low, high = WEIGHT_RANGE
    return round(min(high, max(low, float(weight))), 4)


def preferences_get(*, shopper: Shopper) -> dict[int, float]:
    """The shopper's explicit style weights: {style_id: weight in -1..1}."""
    rows = StylePreference.objects.filter(shopper.q(), source=PreferenceSource.EXPLICIT)
    return dict(rows.values_list("style_id", "weight"))


def _write_explicit(shopper: Shopper, weights: dict[int, float], *, replace: set[int]) -> None:
    """Upsert non-zero weights; delete the explicit rows of styles in ``replace`` that
    got none. A learned row for a style the shopper now chose becomes explicit."""
    StylePreference.objects.filter(
        shopper.q(), source=PreferenceSource.EXPLICIT, style_id__in=replace - set(weights)
    ).delete()
    for style_id, weight in weights.items():
        StylePreference.objects.update_or_create(
            style_id=style_id,
            **shopper.lookup(),
            defaults={"weight": weight, "source": PreferenceSource.EXPLICIT},
            create_defaults={
                "weight": weight,
                "source": PreferenceSource.EXPLICIT,
                **shopper.fields(),
            },
        )


@transaction.atomic
def preferences_set(*, shopper: Shopper, weights: dict[int, float]) -> None:
    """Replace all of the shopper's explicit preferences with ``weights``.

    Weights are clipped to -1..1; a weight of 0 removes the preference. Unknown or
    inactive styles raise ``ValueError``. The shopper is rescored after commit.
    """
    weights = {int(k): _clip(v) for k, v in weights.items()}
    known = set(
        Style.objects.filter(pk__in=list(weights), is_active=True).values_list("pk", flat=True)
    )
    unknown = set(weights) - known
    if unknown:
        raise ValueError(f"Unknown or inactive styles: {sorted(unknown)}")
    current = set(preferences_get(shopper=shopper))
    _write_explicit(
        shopper, {k: v for k, v in weights.items() if v}, replace=current | set(weights)
    )
    transaction.on_commit(lambda: recommendations_schedule(shopper=shopper))


@transaction.atomic
def quiz_record(
    *, shopper: Shopper, picked_variant_ids: list[int], shown_variant_ids: list[int]
) -> dict[int, float]:
    """Record a style quiz: which variants were shown and which the shopper picked.

    Each pick is a ``quiz_pick`` Interaction. Each style shown gets the share of its
    variants that were picked as its explicit weight (a style shown and never picked
    loses its explicit weight); styles not shown keep theirs. Returns all explicit
    weights after the quiz.
    """
    picked = set(map(int, picked_variant_ids))
    shown_ids = set(map(int, shown_variant_ids)) | picked
    variants = {
        v.pk: v for v in StylizedVariant.objects.filter(pk__in=shown_ids, style__is_active=True)
    }
    shown, chosen = Counter(), Counter()
    for variant in variants.values():
        shown[variant.style_id] += 1
        chosen[variant.style_id] += variant.pk in picked
    Interaction.objects.bulk_create(
        [
            Interaction(
                product_id=variants[pk].product_id,
                variant_id=pk,
                kind=InteractionKind.QUIZ_PICK,
                **shopper.fields(),
            )
            for pk in sorted(picked & set(variants))
        ]
    )
    weights = {style: _clip(chosen[style] / n) for style, n in shown.items() if chosen[style]}
    _write_explicit(shopper, weights, replace=set(shown))
    transaction.on_commit(lambda: recommendations_schedule(shopper=shopper))
    return preferences_get(shopper=shopper)


def personalisation_enabled(*, shopper: Shopper) -> bool:
    """Whether the shopper lets us personalise (on unless they turned it off)."""
    return not ShopperSettings.objects.filter(shopper.q(), personalise=False).exists()


@transaction.atomic
def personalisation_set(*, shopper: Shopper, enabled: bool) -> None:
    """Turn personalisation on or off.

    Off takes effect at once: the stored recommendations and learned preferences go
    (explicit preferences and events stay, for when it is turned back on; deleting
    them is ``privacy.shopper_delete``). On schedules a rescoring.
    """
    updated = ShopperSettings.objects.filter(shopper.q()).update(personalise=enabled)
    if not updated:
        ShopperSettings.objects.create(personalise=enabled, **shopper.fields())
    if enabled:
        transaction.on_commit(lambda: recommendations_schedule(shopper=shopper))
    else:
        recommendations_clear(shoppers=[shopper])
        recommendations_unschedule(shopper=shopper)
