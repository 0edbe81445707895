"""Recording storefront events (stylerecs/services/events.py): cheap, validated."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from stylerecs.models import Interaction, InteractionKind
from stylerecs.services.events import interaction_record
from stylerecs.shoppers import Shopper, new_anon_id

pytestmark = pytest.mark.django_db


def test_recording_is_one_insert_and_nothing_else(make_product, django_assert_num_queries):
    product = make_product()
    shopper = Shopper.anonymous(new_anon_id())
    with django_assert_num_queries(1):  # the rescoring is scheduled after commit
        event = interaction_record(shopper=shopper, product_id=product.pk, kind="view")
    assert (event.session_key, event.user_id, event.kind) == (shopper.anon_id, None, "view")


def test_every_kind_is_recorded_for_users_and_visitors(make_product):
    product = make_product()
    user = get_user_model().objects.create_user("ada")
    for shopper in (Shopper.for_user(user), Shopper.anonymous(new_anon_id())):
        for kind in InteractionKind.values:
            interaction_record(shopper=shopper, product_id=product.pk, kind=kind)
        assert Interaction.objects.filter(shopper.q()).count() == len(InteractionKind.values)


def test_unknown_kind_is_refused(make_product):
    with pytest.raises(ValueError, match="Unknown interaction kind"):
        interaction_record(
            shopper=Shopper.anonymous(new_anon_id()), product_id=make_product().pk, kind="stare"
        )
    assert not Interaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_after_commit_the_shoppers_rescoring_window_opens(make_product, settings):
    settings.STYLERECS = {**settings.STYLERECS, "RESCORE_DELAY_SECONDS": 30}
    cache.clear()
    shopper = Shopper.anonymous(new_anon_id())
    interaction_record(shopper=shopper, product_id=make_product().pk, kind="like")
    # The debounce key exists: further events in the next 30 s schedule nothing more.
    assert cache.get(f"stylerecs:rescore:{shopper.key}") == 1
