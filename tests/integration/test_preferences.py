"""Explicit preferences, the style quiz and the personalisation switch
(stylerecs/services/preferences.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from stylerecs.models import Interaction, PreferenceSource, ShopperSettings, StylePreference
from stylerecs.services.preferences import (
    personalisation_enabled,
    personalisation_set,
    preferences_get,
    preferences_set,
    quiz_record,
)
from stylerecs.shoppers import Shopper, new_anon_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def styles(make_style):
    return {slug: make_style(slug) for slug in ("noir", "ember", "moss")}


@pytest.fixture(params=["user", "anonymous"])
def shopper(request):
    if request.param == "user":
        return Shopper.for_user(get_user_model().objects.create_user("ada"))
    return Shopper.anonymous(new_anon_id())


def test_set_replaces_all_explicit_preferences(shopper, styles):
    noir, ember, moss = styles["noir"], styles["ember"], styles["moss"]
    preferences_set(shopper=shopper, weights={noir.pk: 1.0, ember.pk: 0.5})
    assert preferences_get(shopper=shopper) == {noir.pk: 1.0, ember.pk: 0.5}
    preferences_set(shopper=shopper, weights={moss.pk: 3.0, ember.pk: 0})
    assert preferences_get(shopper=shopper) == {moss.pk: 1.0}  # clipped; 0 removes


def test_learned_preferences_are_not_explicit_and_become_explicit_when_chosen(shopper, styles):
    noir = styles["noir"]
    StylePreference.objects.create(
        style=noir, weight=0.3, source=PreferenceSource.LEARNED, **shopper.fields()
    )
    assert preferences_get(shopper=shopper) == {}
    preferences_set(shopper=shopper, weights={noir.pk: -0.5})
    row = StylePreference.objects.get(shopper.q(), style=noir)
    assert (row.weight, row.source) == (-0.5, PreferenceSource.EXPLICIT)


def test_unknown_or_inactive_styles_are_refused(shopper, styles):
    styles["moss"].is_active = False
    styles["moss"].save()
    with pytest.raises(ValueError, match="inactive"):
        preferences_set(shopper=shopper, weights={styles["moss"].pk: 1.0})
    with pytest.raises(ValueError):
        preferences_set(shopper=shopper, weights={999_999: 1.0})
    assert preferences_get(shopper=shopper) == {}


def test_quiz_weights_styles_by_share_of_picks_and_records_the_picks(
    shopper, styles, make_product, make_variant
):
    products = [make_product() for _ in range(2)]
    noir = [make_variant(p, styles["noir"]) for p in products]
    ember = [make_variant(p, styles["ember"]) for p in products]
    moss = [make_variant(products[0], styles["moss"])]
    preferences_set(shopper=shopper, weights={styles["moss"].pk: 0.8})
    shown = [v.pk for v in noir + ember]
    weights = quiz_record(
        shopper=shopper,
        picked_variant_ids=[noir[0].pk, noir[1].pk, ember[0].pk],
        shown_variant_ids=shown,
    )
    # Noir picked 2 of 2 times, Ember 1 of 2; Moss was not shown and keeps its weight.
    assert weights == {styles["noir"].pk: 1.0, styles["ember"].pk: 0.5, styles["moss"].pk: 0.8}
    picks = Interaction.objects.filter(shopper.q(), kind="quiz_pick")
    assert sorted(picks.values_list("variant_id", flat=True)) == sorted(
        [noir[0].pk, noir[1].pk, ember[0].pk]
    )
    # Retaking it: a style shown and never picked loses its explicit weight.
    weights = quiz_record(
        shopper=shopper, picked_variant_ids=[ember[1].pk], shown_variant_ids=shown + [moss[0].pk]
    )
    assert weights == {styles["ember"].pk: 0.5}


def test_personalisation_switch(shopper):
    assert personalisation_enabled(shopper=shopper)
    personalisation_set(shopper=shopper, enabled=False)
    assert not personalisation_enabled(shopper=shopper)
    personalisation_set(shopper=shopper, enabled=True)
    assert personalisation_enabled(shopper=shopper)
    assert ShopperSettings.objects.filter(shopper.q()).count() == 1
