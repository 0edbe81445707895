"""The recovery rules on their own, against the real database and file storage.

Content-addressed writes never leave a partial file under their name; the periodic
requeue publishes what lost its message; a task interrupted too often fails with a
reason. (The outages themselves, with a real worker: test_outages.py.)
Covers stylerecs/services/files.py, stylerecs/services/queueing.py, stylerecs/beat.py.
"""

from __future__ import annotations

import errno
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.test import override_settings
from django.utils import timezone

from stylerecs.beat import BEAT_SCHEDULE
from stylerecs.models import StylizedVariant, VariantStatus
from stylerecs.services import queueing
from stylerecs.services.files import save_content_addressed
from stylerecs.services.variant_processing import variants_process
from stylerecs.services.variants import idempotency_key, variant_params

DATA = b"\xff\xd8" + bytes(range(256)) * 64 + b"\xff\xd9"
DIGEST = hashlib.sha256(DATA).hexdigest()


class FullDisk(FileSystemStorage):
    """Writes half of every file, then fails like a full disk."""

    def _save(self, name, content):
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        with open(self.path(name), "wb") as fh:
            fh.write(content.read()[: len(DATA) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", name)


def test_torn_file_under_the_name_is_replaced_not_trusted(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = f"v/{DIGEST[:2]}/{DIGEST}.jpg"
    (tmp_path / "v" / DIGEST[:2]).mkdir(parents=True)
    (tmp_path / name).write_bytes(DATA[:100])  # left by a write cut half-way

    assert save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage) == name
    assert (tmp_path / name).read_bytes() == DATA


def test_same_length_but_wrong_content_is_replaced_too(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage)
    (tmp_path / name).write_bytes(bytes(len(DATA)))  # zeros where a kill left a hole

    save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage)
    assert (tmp_path / name).read_bytes() == DATA


def test_complete_existing_file_is_kept_as_it_is(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage)
    before = (tmp_path / name).stat().st_mtime_ns

    assert save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage) == name
    assert (tmp_path / name).stat().st_mtime_ns == before
    assert [p.name for p in (tmp_path / "v" / DIGEST[:2]).iterdir()] == [f"{DIGEST}.jpg"]


def test_write_failing_half_way_leaves_nothing_under_any_name(tmp_path):
    storage = FullDisk(location=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_storage_without_local_paths_is_written_verified_and_repaired():
    # Like S3, InMemoryStorage has no local paths (so no rename): save, then verify.
    storage = InMemoryStorage()
    name = f"v/{DIGEST[:2]}/{DIGEST}.jpg"
    storage.save(name, ContentFile(DATA[:10]))

    assert save_content_addressed(DATA, prefix="v", extension="jpg", storage=storage) == name
    with storage.open(name, "rb") as fh:
        assert fh.read() == DATA


@pytest.fixture
def variant(db, make_product, make_style):
    def make(status=VariantStatus.PENDING, **fields):
        product, style = make_product(), make_style(f"s{StylizedVariant.objects.count()}")
        params = variant_params(style)
        return StylizedVariant.objects.create(
            product=product,
            style=style,
            style_version=style.version,
            source_checksum="0" * 64,
            params=params,
            idempotency_key=idempotency_key(
                product_pk=product.pk, source_checksum="0" * 64, style=style, params=params
            ),
            status=status,
            **fields,
        )

    return make


@pytest.mark.django_db(transaction=True)
def test_requeue_publishes_pending_whose_message_is_old_or_never_left(variant):
    # (Publishing for real, and a worker finishing what was published: test_outages.py.)
    now = timezone.now()
    old = variant(queued_at=now - timedelta(hours=1))
    never = variant(queued_at=None)
    recent = variant(queued_at=now)
    stale = variant(
        VariantStatus.PROCESSING, claimed_by="dead", started_at=now - timedelta(hours=2)
    )
    busy = variant(VariantStatus.PROCESSING, claimed_by="alive", started_at=now)

    assert queueing.variants_requeue() == {"stale": 1, "pending": 2}
    stale.refresh_from_db()
    assert (stale.status, stale.claimed_by) == (VariantStatus.PENDING, "")
    for row in (old, never, stale):
        row.refresh_from_db()
        assert row.queued_at >= now
    recent.refresh_from_db()
    busy.refresh_from_db()
    assert busy.status == VariantStatus.PROCESSING and recent.queued_at == now
    # Republished just now: not again at the next beat.
    assert queueing.variants_requeue() == {"stale": 0, "pending": 0}


@pytest.mark.django_db
def test_interrupted_claims_go_back_to_pending_until_the_attempts_run_out(variant):
    fresh = variant(VariantStatus.PROCESSING, claimed_by="t", attempts=1)
    worn = variant(VariantStatus.PROCESSING, claimed_by="t", attempts=5)
    other = variant(VariantStatus.PROCESSING, claimed_by="someone-else", attempts=1)

    counts = queueing.variants_release(
        variant_ids=[fresh.pk, worn.pk, other.pk], token="t", reason="the task was stopped"
    )

    assert counts == {"released": 1, "failed": 1}
    fresh.refresh_from_db(), worn.refresh_from_db(), other.refresh_from_db()
    assert (fresh.status, fresh.claimed_by, fresh.queued_at) == (VariantStatus.PENDING, "", None)
    assert worn.status == VariantStatus.FAILED
    assert worn.error == "Interrupted 5 times, last: the task was stopped"
    assert other.status == VariantStatus.PROCESSING


@pytest.mark.django_db
def test_a_variant_whose_every_try_was_killed_fails_with_a_reason(variant):
    # Redelivered after its worker died each time (reject_on_worker_lost): the claim
    # that would be the sixth attempt fails it instead of trying again.
    killed = variant(VariantStatus.PROCESSING, claimed_by="t", attempts=5)
    with override_settings(STYLERECS={**settings.STYLERECS, "MAX_ATTEMPTS": 5}):
        assert variants_process(variant_ids=[killed.pk], token="t") == {"ready": 0, "failed": 0}
    killed.refresh_from_db()
    assert killed.status == VariantStatus.FAILED
    assert killed.error.startswith("Gave up after 5 attempts")


def test_beat_schedule_ships_the_requeue_and_the_demo_host_uses_it():
    entry = BEAT_SCHEDULE["stylerecs-requeue-stale-variants"]
    assert entry["task"] == "stylerecs.tasks.requeue_stale_variants"
    # The demo host's Celery app takes stylerecs' exported config, schedule included.
    from workers.celery import app

    assert app.conf.beat_schedule["stylerecs-requeue-stale-variants"] == entry
