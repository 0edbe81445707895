"""Export and deletion of what we keep about a shopper (stylerecs/services/privacy.py)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from stylerecs.models import (
    Interaction,
    ProductStyleProfile,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from stylerecs.services.events import interaction_record
from stylerecs.services.preferences import personalisation_set, preferences_set
from stylerecs.services.privacy import shopper_delete, shopper_export
from stylerecs.shoppers import Shopper, new_anon_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_product, make_style):
    """Two shoppers with a bit of everything."""
    product, noir = make_product(), make_style("noir")
    ProductStyleProfile.objects.create(product=product, affinities={str(noir.pk): 0.4})
    ada = Shopper.for_user(get_user_model().objects.create_user("ada"))
    visitor = Shopper.anonymous(new_anon_id())
    for shopper in (ada, visitor):
        interaction_record(shopper=shopper, product_id=product.pk, kind="like")
        interaction_record(shopper=shopper, product_id=product.pk, kind="purchase")
        preferences_set(shopper=shopper, weights={noir.pk: 0.75})
        personalisation_set(shopper=shopper, enabled=False)
        Recommendation.objects.create(
            product=product, score=0.5, rank=1, reason="Because you like Noir",
            computed_at=timezone.now(), **shopper.fields(),
        )  # fmt: skip
    return ada, visitor, product


def test_export_has_everything_and_is_json(world):
    ada, _, product = world
    data = json.loads(json.dumps(shopper_export(shopper=ada)))
    assert data["shopper"] == {"user_id": ada.user_id, "anonymous_id": None}
    assert data["settings"]["personalise"] is False
    assert [(p["style"], p["weight"], p["source"]) for p in data["preferences"]] == [
        ("noir", 0.75, "explicit")
    ]
    assert [(i["product"], i["kind"]) for i in data["interactions"]] == [
        (product.pk, "like"),
        (product.pk, "purchase"),
    ]
    assert data["recommendations"][0]["reason"] == "Because you like Noir"


def test_export_of_a_shopper_we_know_nothing_about():
    data = shopper_export(shopper=Shopper.anonymous(new_anon_id()))
    assert data["settings"]["personalise"] is True
    assert data["preferences"] == data["interactions"] == data["recommendations"] == []


@pytest.mark.parametrize("who", [0, 1])
def test_delete_removes_the_shoppers_rows_and_nobody_elses(world, who):
    shoppers = world[:2]
    gone, kept = shoppers[who], shoppers[1 - who]
    counts = shopper_delete(shopper=gone)
    assert counts == {
        "interactions": 2,
        "impressions": 0,
        "experiment_assignments": 0,
        "preferences": 1,
        "recommendations": 1,
        "settings": 1,
    }
    for model in (Interaction, StylePreference, Recommendation, ShopperSettings):
        assert not model.objects.filter(gone.q()).exists()
        assert model.objects.filter(kept.q()).exists()
    assert ProductStyleProfile.objects.exists()  # about the product, not the person
    assert shopper_export(shopper=gone)["interactions"] == []
