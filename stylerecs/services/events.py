"""Storefront events: one INSERT per event; the scoring happens later, on a worker."""

from __future__ import annotations

from django.db import transaction

from ..models import Interaction, InteractionKind
from ..shoppers import Shopper
from .experiments import impression_followed
from .recommendations import recommendations_schedule


def interaction_record(
    *, shopper: Shopper, product_id, kind: str, variant_id: int | None = None
) -> Interaction:
    """Record that a shopper viewed, liked, disliked, carted or bought a product.

    One row is inserted, linked to the impression of the product the shopper saw last
    (a subquery of the INSERT; see ``experiments.impression_followed``); after commit
    the shopper's debounced rescoring is scheduled (nothing is scored in the request).
    Raises ``ValueError`` for an unknown kind.
    """
    if kind not in InteractionKind.values:
        raise ValueError(f"Unknown interaction kind {kind!r}; use one of {InteractionKind.values}")
    interaction = Interaction.objects.create(
        product_id=product_id,
        kind=kind,
        variant_id=variant_id,
        impression_id=impression_followed(shopper=shopper, product_id=product_id),
        **shopper.fields(),
    )
    # The instance holds the subquery, not its value: leave the field deferred so that
    # reading it loads the stored id.
    interaction.__dict__.pop("impression_id", None)
    # After commit: a rescoring that starts before this row is visible would miss it.
    transaction.on_commit(lambda: recommendations_schedule(shopper=shopper))
    return interaction
