"""Buffered impressions (``IMPRESSIONS_BUFFER_URL``): pages push to the test Redis, the
flush writes them once, whatever stops where.

Each test has a Redis key of its own (``IMPRESSIONS_BUFFER_KEY``) on the test broker's
Redis, deleted afterwards; nothing here talks to a Redis other than that one, or to a
closed port on loopback (the unreachable case).
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stylerecs import beat, tasks
from stylerecs.models import Impression, ImpressionFlush, Interaction, StylizedVariant, Surface
from stylerecs.services import impression_buffer
from stylerecs.services.events import interaction_record
from stylerecs.services.privacy import shopper_delete
from stylerecs.shoppers import Shopper
from tests.conftest import free_port
from tests.integration.experiment_setup import client_in, make_experiment

# Real commits: the flush cleans the buffer up only once its transaction has committed.
pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def buffered(settings):
    """Buffering on, into a key of this test's own; the Redis client."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the tests need the test Redis"
    key = f"stylerecs-test:{uuid.uuid4().hex}"
    settings.STYLERECS = {
        **settings.STYLERECS,
        "IMPRESSIONS_BUFFER_URL": settings.CELERY_BROKER_URL,
        "IMPRESSIONS_BUFFER_KEY": key,
    }
    client = impression_buffer.buffer_client()
    impression_buffer._circuit["open_until"] = 0.0
    yield client
    client.delete(key, f"{key}:flushing", f"{key}:flushing:batch")
    impression_buffer._circuit["open_until"] = 0.0


def impression_inserts(queries) -> list:
    return [q for q in queries if q["sql"].startswith('INSERT INTO "stylerecs_impression"')]


def test_a_page_costs_one_push_and_the_flush_writes_it_once_and_links_its_events(
    buffered, start, shop
):
    client, products = shop["client"], shop["products"]
    start(make_experiment())
    with CaptureQueriesContext(connection) as page:
        assert client.get(reverse("stylerecs:for_you")).status_code == 200
    assert impression_inserts(page.captured_queries) == []
    assert not Impression.objects.exists()
    assert impression_buffer.buffered_count() == 1  # one record for the page of 24

    # A click before the flush: no impression to link to yet.
    view = interaction_record(
        shopper=Shopper.for_user(shop["user"]), product_id=products[3].pk, kind="view"
    )
    assert Interaction.objects.get(pk=view.pk).impression_id is None

    assert tasks.flush_impressions() == 24
    rows = Impression.objects.filter(surface=Surface.FOR_YOU)
    assert rows.count() == 24
    assert sorted(rows.values_list("position", flat=True)) == list(range(1, 25))
    assert set(rows.values_list("user_id", flat=True)) == {shop["user"].pk}
    assert rows.exclude(arm=None).count() == 24
    assert all(r.created_at <= Interaction.objects.get(pk=view.pk).created_at for r in rows)
    # The flush linked the click to the card it followed.
    assert Interaction.objects.get(pk=view.pk).impression == rows.get(product=products[3])
    assert impression_buffer.buffered_count() == 0

    assert impression_buffer.impressions_flush() == 0
    assert Impression.objects.count() == 24


def test_a_flush_killed_after_its_commit_writes_nothing_twice(buffered, start, shop, caplog):
    """Tried: the flush dies between the database commit and the buffer's cleanup (the
    cleanup script raises, as a worker killed at that moment would leave it); a page
    arrives meanwhile. The next flush finds the batch, skips what was written and
    cleans up; the one after writes the new page. Every card is in the log once."""
    client = shop["client"]
    start(make_experiment())
    client.get(reverse("stylerecs:for_you"))
    finish = impression_buffer.FINISH_BATCH
    impression_buffer.FINISH_BATCH = "return redis.error_reply('killed')"
    try:
        with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
            assert impression_buffer.impressions_flush() == 24
    finally:
        impression_buffer.FINISH_BATCH = finish
    assert "killed" in caplog.text  # the failed cleanup is logged, not raised
    assert Impression.objects.count() == 24
    assert impression_buffer.buffered_count() == 1  # the written batch is still there
    client.get(reverse("stylerecs:for_you"))  # pushed to the fresh list
    assert impression_buffer.buffered_count() == 2

    assert impression_buffer.impressions_flush() == 0  # the dead batch: already written
    assert impression_buffer.impressions_flush() == 24  # the new page
    assert Impression.objects.count() == 48
    assert impression_buffer.buffered_count() == 0


def test_a_database_error_half_way_leaves_the_rest_buffered(
    buffered, start, shop, settings, monkeypatch
):
    """Tried: three pages, one per chunk; writing the second chunk fails with a database
    error. The first chunk is in the log, the rest still buffered; the next flush writes
    the other two chunks, and no card twice."""
    settings.STYLERECS = {**settings.STYLERECS, "IMPRESSIONS_FLUSH_CHUNK": 1}
    client = shop["client"]
    start(make_experiment())
    for _ in range(3):
        client.get(reverse("stylerecs:for_you"))
    write, calls = impression_buffer._write, []

    def failing(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        write(rows)

    monkeypatch.setattr(impression_buffer, "_write", failing)
    with pytest.raises(OperationalError):
        impression_buffer.impressions_flush()
    assert Impression.objects.count() == 24
    assert impression_buffer.buffered_count() == 3  # the working list stays whole
    monkeypatch.setattr(impression_buffer, "_write", write)
    assert impression_buffer.impressions_flush() == 48
    assert Impression.objects.count() == 72
    assert sorted(ImpressionFlush.objects.values_list("chunk", flat=True)) == [0, 1, 2]


def test_with_redis_unreachable_pages_write_their_impressions_themselves(
    settings, start, shop, caplog
):
    """Tried: the buffer's URL is a closed port on loopback. The page answers 200 and
    writes its 24 impressions itself, with one warning; the next page does not wait on
    Redis again (the circuit stays open for a while)."""
    settings.STYLERECS = {
        **settings.STYLERECS,
        "IMPRESSIONS_BUFFER_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    impression_buffer._circuit["open_until"] = 0.0
    client = shop["client"]
    start(make_experiment())
    try:
        with caplog.at_level(logging.WARNING, logger="stylerecs.services.impression_buffer"):
            assert client.get(reverse("stylerecs:for_you")).status_code == 200
            assert client.get(reverse("stylerecs:for_you")).status_code == 200
    finally:
        impression_buffer._circuit["open_until"] = 0.0
    assert Impression.objects.count() == 48
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_buffered_impressions_of_a_visitor_become_the_accounts_at_login(buffered, start, shop):
    experiment = start(make_experiment())
    client = client_in(experiment, "original")
    client.get(reverse("shop:catalogue"))
    assert impression_buffer.buffered_count() == 1 and not Impression.objects.exists()
    user = User.objects.create_user("visitor", password="pw")
    assert client.login(username="visitor", password="pw")
    # The merge flushed first, then moved them.
    assert Impression.objects.exists()
    assert not Impression.objects.filter(user=None).exists()
    assert set(Impression.objects.values_list("user_id", flat=True)) == {user.pk}
    assert impression_buffer.buffered_count() == 0


def test_deleting_a_shopper_deletes_their_buffered_impressions_too(buffered, start, shop):
    experiment = start(make_experiment())
    client = client_in(experiment, "original")
    client.get(reverse("shop:catalogue"))
    shopper = Shopper.anonymous(client.session["stylerecs_anon_id"])
    counts = shopper_delete(shopper=shopper)
    assert counts["impressions"] > 0
    assert impression_buffer.impressions_flush() == 0
    assert not Impression.objects.exists()


def test_what_was_deleted_before_the_flush_is_not_written(buffered, start, shop):
    """A product deleted after its page was shown loses its row (as its cascade would
    have deleted it); a deleted variant leaves the row without a variant."""
    client, products = shop["client"], shop["products"]
    # A/A: whichever arm the shopper is in shows the variants.
    start(make_experiment(arms=[{"slug": "a", "is_control": True}, {"slug": "b"}]))
    client.get(reverse("stylerecs:for_you"))
    record = (
        impression_buffer.buffer_client().lrange(impression_buffer._keys()[0], 0, 0)[0].decode()
    )
    gone_product = products[0]
    variant_product = products[1]
    variant = StylizedVariant.objects.get(product=variant_product)
    assert str(variant.pk) in record
    gone_product.delete()
    variant.delete()
    assert impression_buffer.impressions_flush() == 23
    assert not Impression.objects.filter(product_id=gone_product.pk).exists()
    assert Impression.objects.get(product=variant_product).variant is None


def test_the_buffer_settings_are_checked_and_beat_flushes(settings):
    from stylerecs.experiment_checks import check_experiment_settings

    settings.STYLERECS = {
        **settings.STYLERECS,
        "IMPRESSIONS_BUFFER_URL": "localhost:6379",
        "IMPRESSIONS_FLUSH_CHUNK": 0,
    }
    ids = sorted(error.id for error in check_experiment_settings())
    assert ids == ["stylerecs.E163", "stylerecs.E164"]
    entry = beat.BEAT_SCHEDULE["stylerecs-flush-impressions"]
    assert entry["task"] == tasks.flush_impressions.name


def test_without_a_buffer_the_flush_touches_nothing(settings, django_assert_num_queries):
    assert settings.STYLERECS.get("IMPRESSIONS_BUFFER_URL") is None
    with django_assert_num_queries(0):
        assert impression_buffer.impressions_flush() == 0
