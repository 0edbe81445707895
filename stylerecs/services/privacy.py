"""What we keep about a shopper: export it all, or delete it all."""

from __future__ import annotations

from django.db import transaction

from ..models import (
    Assignment,
    Impression,
    Interaction,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from ..shoppers import Shopper
from .impression_buffer import impressions_settle
from .recommendations import recommendations_unschedule


def _pk(value):
    # JSON has no UUIDs or Decimals: a host's non-integer product keys become strings.
    return value if isinstance(value, int) else str(value)


def _when(value) -> str | None:
    return value.isoformat() if value else None


def shopper_export(*, shopper: Shopper) -> dict:
    """Everything stylerecs stores about a shopper, JSON-serialisable."""
    where = shopper.q()
    settings_row = ShopperSettings.objects.filter(where).first()
    return {
        "shopper": {"user_id": shopper.user_id, "anonymous_id": shopper.anon_id or None},
        "settings": {
            "personalise": settings_row.personalise if settings_row else True,
            "updated_at": _when(settings_row.updated_at) if settings_row else None,
        },
        "preferences": [
            {
                "style": slug,
                "style_name": name,
                "weight": weight,
                "source": source,
                "updated_at": _when(updated_at),
            }
            for slug, name, weight, source, updated_at in StylePreference.objects.filter(where)
            .order_by("style__name")
            .values_list("style__slug", "style__name", "weight", "source", "updated_at")
        ],
        "interactions": [
            {
                "product": _pk(product_id),
                "kind": kind,
                "variant": variant_id,
                "created_at": _when(created_at),
            }
            for product_id, kind, variant_id, created_at in Interaction.objects.filter(where)
            .order_by("created_at", "pk")
            .values_list("product_id", "kind", "variant_id", "created_at")
        ],
        "recommendations": [
            {
                "product": _pk(product_id),
                "rank": rank,
                "score": score,
                "reason": reason,
                "computed_at": _when(computed_at),
            }
            for product_id, rank, score, reason, computed_at in Recommendation.objects.filter(where)
            .order_by("rank")
            .values_list("product_id", "rank", "score", "reason", "computed_at")
        ],
    }


@transaction.atomic
def shopper_delete(*, shopper: Shopper) -> dict[str, int]:
    """Delete the shopper's interactions, preferences, recommendations, settings, and
    what experiments logged about them (impressions, arm assignments).

    Returns how many rows of each went. Product style profiles are about products,
    not people, and stay.
    """
    impressions_settle()  # buffered impressions are written first, then deleted with the rest
    where = shopper.q()
    counts = {
        "interactions": Interaction.objects.filter(where).delete()[0],
        "impressions": Impression.objects.filter(where).delete()[0],
        "experiment_assignments": Assignment.objects.filter(where).delete()[0],
        "preferences": StylePreference.objects.filter(where).delete()[0],
        "recommendations": Recommendation.objects.filter(where).delete()[0],
        "settings": ShopperSettings.objects.filter(where).delete()[0],
    }
    transaction.on_commit(lambda: recommendations_unschedule(shopper=shopper))
    return counts
