"""Who a shopper is, and the anonymous-to-account merge at login.

Covers stylerecs/shoppers.py, stylerecs/services/shoppers.py and the ``user_logged_in``
receiver (stylerecs/receivers.py), through Django's test client and real logins.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from stylerecs.models import (
    Interaction,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from stylerecs.services.preferences import personalisation_set, preferences_set
from stylerecs.shoppers import SESSION_KEY, Shopper, shopper_from_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada():
    return get_user_model().objects.create_user("ada", password="pw-for-tests-only")


def anonymous_client() -> tuple[Client, str]:
    """A client whose session already carries an anonymous shopper id."""
    client = Client()
    client.get("/")  # a session cookie
    session = client.session
    session[SESSION_KEY] = "anon-" + "x" * 20
    session.save()
    return client, session[SESSION_KEY]


def test_shopper_is_the_user_or_a_stable_anonymous_id(ada):
    factory = RequestFactory()
    request = factory.get("/")
    request.user = ada
    assert shopper_from_request(request) == Shopper(user_id=ada.pk, anon_id="")

    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    request = factory.get("/")
    request.user, request.session = AnonymousUser(), SessionStore()
    assert shopper_from_request(request, create=False) is None
    first = shopper_from_request(request)
    assert first.is_anonymous and len(first.anon_id) <= 40
    assert shopper_from_request(request) == first
    assert request.session[SESSION_KEY] == first.anon_id
    with pytest.raises(ValueError):
        Shopper(user_id=ada.pk, anon_id="both")
    with pytest.raises(ValueError):
        Shopper(user_id=None, anon_id="")


def test_anonymous_likes_move_into_the_account_at_login(ada, make_product):
    """Like as a visitor through the storefront, then log in: the history follows."""
    products = [make_product(), make_product()]
    client = Client()
    for product in products:
        response = client.post(reverse("stylerecs:event"), {"product": product.pk, "kind": "like"})
        assert response.status_code in (200, 302)
    anon_id = client.session[SESSION_KEY]
    assert Interaction.objects.filter(session_key=anon_id, user=None).count() == 2

    assert client.login(username="ada", password="pw-for-tests-only")

    assert SESSION_KEY not in client.session
    assert not Interaction.objects.filter(session_key=anon_id).exists()
    assert sorted(
        Interaction.objects.filter(user=ada).values_list("product_id", flat=True)
    ) == sorted(p.pk for p in products)


def test_merge_moves_preferences_keeps_newer_account_choices_and_the_opt_out(
    ada, make_product, make_style
):
    noir, ember, moss = make_style("noir"), make_style("ember"), make_style("moss")
    account = Shopper.for_user(ada)
    preferences_set(shopper=account, weights={noir.pk: 0.2, ember.pk: 0.9})
    client, anon_id = anonymous_client()
    visitor = Shopper.anonymous(anon_id)
    preferences_set(shopper=visitor, weights={noir.pk: 1.0, moss.pk: 0.5})
    # The account's Ember choice is newer than anything the visitor said about it.
    StylePreference.objects.filter(user=ada, style=ember).update(updated_at=timezone.now())
    personalisation_set(shopper=visitor, enabled=False)
    Recommendation.objects.create(
        product=make_product(), score=1, rank=1, computed_at=timezone.now(), **visitor.fields()
    )

    assert client.login(username="ada", password="pw-for-tests-only")

    weights = dict(StylePreference.objects.filter(user=ada).values_list("style__slug", "weight"))
    assert weights == {"noir": 1.0, "ember": 0.9, "moss": 0.5}
    assert not StylePreference.objects.filter(session_key=anon_id).exists()
    assert not Recommendation.objects.filter(session_key=anon_id).exists()
    assert not ShopperSettings.objects.filter(session_key=anon_id).exists()
    assert ShopperSettings.objects.get(user=ada).personalise is False
    assert SESSION_KEY not in client.session


def test_login_without_anonymous_history_changes_nothing(ada, make_style):
    account = Shopper.for_user(ada)
    noir = make_style("noir")
    preferences_set(shopper=account, weights={noir.pk: 0.7})
    client = Client()
    assert client.login(username="ada", password="pw-for-tests-only")
    assert dict(StylePreference.objects.filter(user=ada).values_list("style_id", "weight")) == {
        noir.pk: 0.7
    }
