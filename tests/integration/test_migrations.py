"""Data steps of stylerecs' migrations, run backwards and forwards on the test database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from stylerecs.models import Recommendation

BEFORE, AFTER = (
    ("stylerecs", "0008_impression_flush"),
    ("stylerecs", "0009_recommendation_rank_unique"),
)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_duplicate_places_left_by_concurrent_rescorings_are_dropped_before_the_constraint(
    make_product, django_user_model
):
    """Tried: lists that two rescorings at once wrote over each other (two rows at ranks
    1 and 2 for one account and one visitor) when the constraints arrive."""
    ada = django_user_model.objects.create_user("ada")
    first, second = make_product(), make_product()
    old = migrate(BEFORE).get_model("stylerecs", "Recommendation")
    now = timezone.now()
    for owner in ({"user_id": ada.pk, "session_key": ""}, {"user_id": None, "session_key": "v1"}):
        for product in (first, second):  # each rescoring wrote both places
            for rank, chosen in ((1, product), (2, second if product == first else first)):
                old.objects.create(
                    product_id=chosen.pk, rank=rank, score=1.0, computed_at=now, **owner
                )
    assert old.objects.count() == 8
    migrate(AFTER)
    kept = {(r.user_id, r.session_key, r.rank, r.product_id) for r in Recommendation.objects.all()}
    # One row per place, the first written; other shoppers' places untouched.
    assert kept == {
        (ada.pk, "", 1, first.pk),
        (ada.pk, "", 2, second.pk),
        (None, "v1", 1, first.pk),
        (None, "v1", 2, second.pk),
    }
