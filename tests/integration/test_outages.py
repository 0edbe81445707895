"""Broker and database outages mid-batch, a request while the broker is down, torn writes.

A real worker process runs against a private redis-server (killed and started again)
and reaches the shared PostgreSQL through a TCP proxy this test cuts; the shared
services are never touched. Afterwards every variant must be ready (or failed with a
reason where something really was wrong), none stuck, none pointing at a bad file.
Covers stylerecs/services/queueing.py, the interruption and storage paths of
stylerecs/services/variant_processing.py, stylerecs/services/files.py and the retries of
stylerecs/tasks.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from stylerecs.models import GenerationBatch, StylizedVariant, VariantStatus
from stylerecs.services.queueing import variants_requeue
from stylerecs.services.variants import variants_request

from .conftest import Worker, jpeg_bytes, sample_jpeg, wait_for
from .faults import PrivateRedis, TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def db_proxy():
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        pytest.skip("the database outage needs a database server")
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def fault_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults") / "half-writes"


@pytest.fixture(scope="module")
def gate_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gate") / "writes-let-through"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """This module's own media folder (the worker's too): its files meet no one else's."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def own_media(media, settings):
    settings.MEDIA_ROOT = str(media)


@pytest.fixture(scope="module")
def broker(redis):
    """Point this process's Celery app at the private redis (the worker uses it too)."""
    from workers.celery import app

    def use(url):
        # The write URL: CELERY_BROKER_URL in the environment wins over broker_url.
        app.conf.broker_write_url = url
        app.close()  # drop pooled connections...
        app.amqp._producer_pool = None  # ...and the producer pool, which close() may keep

    before = app.conf.get("broker_write_url")
    use(redis.url)
    yield redis
    use(before)


@pytest.fixture(scope="module")
def worker(
    broker,
    db_proxy,
    fault_file,
    gate_file,
    media,
    django_db_setup,
    django_db_blocker,
    tmp_path_factory,
):
    """A real prefork worker: broker = the private redis, database = through the proxy."""
    with django_db_blocker.unblock():
        from django.db import connection

        db = connection.settings_dict
    env = {
        **__import__("os").environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.integration.fault_settings",
        "CELERY_BROKER_URL": broker.url,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{db_proxy.port}/{db['NAME']}"
        ),
        "STYLERECS_TEST_FAULT_FILE": str(fault_file),
        "STYLERECS_TEST_GATE_FILE": str(gate_file),
        "STYLERECS_TEST_MEDIA_ROOT": str(media),
        # Short pauses between retries keep the test short; the bound is two minutes.
        "STYLERECS_TEST_OVERRIDES": json.dumps(
            {"BATCH_SIZE": 2, "TRANSIENT_RETRY_SECONDS": 120, "TRANSIENT_RETRY_MAX_DELAY": 3}
        ),
    }
    proc = Worker(env, tmp_path_factory.mktemp("outage-worker") / "worker.log").start()
    yield proc
    proc.stop()


def variant_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "stylerecs" / "variants"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@contextlib.contextmanager
def hold_writes_after(gate_file: Path, writes: int):
    """Inside the block, let the worker write ``writes`` files, then hold its next write
    until the block ends. Variant files are named by their content and an existing one
    is not written again, so this module's variant files go first: every variant is
    written."""
    for path in variant_files():
        path.unlink()
    gate_file.write_text(str(writes))
    try:
        yield
    finally:
        gate_file.unlink(missing_ok=True)


def request(products, style) -> GenerationBatch:
    return variants_request(product_ids=[p.pk for p in products], style_ids=[style.pk])


def request_in_pairs(products, style) -> GenerationBatch:
    """:func:`request` with two variants a task: a batch of four is two tasks."""
    with override_settings(STYLERECS={**settings.STYLERECS, "BATCH_SIZE": 2}):
        return request(products, style)


def finished(batch: GenerationBatch, timeout: float = 120) -> GenerationBatch:
    def done():
        batch.refresh_from_db()
        return batch.is_finished

    wait_for(done, timeout=timeout, interval=0.2, what=f"batch {batch.pk} to finish")
    return batch


def assert_settled(batch: GenerationBatch) -> list[StylizedVariant]:
    """Every variant ready with a complete, decodable file, or failed with a reason."""
    variants = list(batch.variants.all())
    for variant in variants:
        assert variant.status in (VariantStatus.READY, VariantStatus.FAILED), variant.status
        if variant.status == VariantStatus.FAILED:
            assert variant.error, f"variant {variant.pk} failed without a reason"
            continue
        with default_storage.open(variant.image.name, "rb") as fh:
            data = fh.read()
        assert len(data) == variant.file_size
        assert variant.image.name.endswith(f"{hashlib.sha256(data).hexdigest()}.jpg")
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.size == (variant.width, variant.height)
    return variants


def retries_logged(worker: Worker, since: int) -> int:
    return worker.log_path.read_bytes()[since:].count(b"Retry in")


def recover_until_finished(batch: GenerationBatch, timeout: float = 120) -> GenerationBatch:
    """Run the periodic requeue every two seconds, as celery beat would (with every
    pending variant due at once), until the batch is finished."""

    def done():
        with override_settings(STYLERECS={**settings.STYLERECS, "PENDING_REQUEUE_SECONDS": 0}):
            variants_requeue()
        batch.refresh_from_db()
        return batch.is_finished

    wait_for(done, timeout=timeout, interval=2, what=f"batch {batch.pk} to finish")
    return batch


@pytest.mark.parametrize("persistent", [False, True], ids=["no-persistence", "append-only"])
def test_broker_stopped_and_restarted_mid_batch_gives_claims_back_and_finishes(
    worker, redis, gate_file, make_product, make_style, persistent
):
    redis.restart(persistent=persistent)
    products = [make_product(sample_jpeg(name, side=512)) for name in PHOTOS]
    # The worker holds its first file write until the broker is down, so the outage
    # lands while the task holds its variants whatever the machine's speed (a fresh
    # clone's run, timed instead, once killed the broker after the task had finished
    # its variants, and nothing was there to give back).
    with hold_writes_after(gate_file, 0):
        batch = request_in_pairs(products, make_style("ember", source="chelsea", method="classic"))
        wait_for(
            lambda: StylizedVariant.objects.filter(status=VariantStatus.PROCESSING).exists(),
            interval=0.02,
            what="a task to start",
        )
        time.sleep(0.5)  # let the worker's main process see the task start
        log_start = worker.log_path.stat().st_size
        redis.kill()
        # On connection loss the worker terminates the running task (SIGTERM ->
        # SystemExit in the pool child): what it claimed must go back to pending.
        wait_for(
            lambda: b"Terminating it instead" in worker.log_path.read_bytes()[log_start:],
            what="the worker to terminate the running task",
        )
    time.sleep(2)  # the outage
    redis.start(persistent=persistent)

    variants = assert_settled(recover_until_finished(batch))
    assert [v.status for v in variants] == [VariantStatus.READY] * len(products)
    # The outage hit a running task, and what it held was done again, not lost.
    assert max(v.attempts for v in variants) >= 2


def test_request_while_the_broker_is_down_answers_normally_and_is_recovered(
    worker, redis, make_product, make_style, client, caplog
):
    product, other = make_product(), make_product(sample_jpeg("chelsea"))
    style = make_style("noir", method="classic")
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    redis.kill()
    url = reverse("admin:shop_product_changelist")
    caplog.set_level(logging.WARNING, logger="stylerecs.services.queueing")

    admin = client.post(
        url,
        {
            "action": "generate_variants",
            "_selected_action": [product.pk],
            "apply": "1",
            "styles": [style.pk],
        },
    )
    api = client.post(
        "/api/batches/",
        data={"product_ids": [other.pk], "styles": ["noir"]},
        content_type="application/json",
    )

    assert admin.status_code == 302 and api.status_code == 201
    assert "Could not publish 1 pending variant(s)" in caplog.text
    pending = StylizedVariant.objects.filter(status=VariantStatus.PENDING)
    assert pending.count() == 2 and not pending.filter(queued_at__isnull=False).exists()

    redis.start()
    # Never published, so due at the first requeue, whatever PENDING_REQUEUE_SECONDS is.
    assert variants_requeue() == {"stale": 0, "pending": 2}
    for batch in GenerationBatch.objects.all():
        assert [v.status for v in assert_settled(finished(batch))] == [VariantStatus.READY]


def test_database_stopped_mid_batch_longer_than_five_retries_finishes(
    worker, redis, db_proxy, gate_file, make_product, make_style
):
    redis.restart(persistent=False)
    log_start = worker.log_path.stat().st_size
    products = [make_product(sample_jpeg(name, side=512)) for name in PHOTOS]
    # The worker writes the first variant's file, then waits before the next write until
    # the database is down: it cannot finish the batch before the cut (one fresh clone's
    # worker did, and never met the outage).
    with hold_writes_after(gate_file, 1):
        batch = request_in_pairs(products, make_style("umber", source="rocket", method="classic"))
        wait_for(
            lambda: StylizedVariant.objects.filter(status=VariantStatus.READY).exists(),
            interval=0.05,
            what="the first variant",
        )
        db_proxy.cut()
    try:
        # The old policy (five jittered retries) gave up after about 15 s on average.
        time.sleep(16)
    finally:
        db_proxy.restore()

    variants = assert_settled(finished(batch))
    assert [v.status for v in variants] == [VariantStatus.READY] * len(products)
    assert retries_logged(worker, log_start) > 5


def test_write_failing_half_way_fails_that_variant_alone_and_leaves_no_partial_file(
    worker, redis, fault_file, make_product, make_style
):
    # Photos never seen before, so their variants' files do not exist yet and must be
    # written (an existing complete file would be verified and kept, with no write).
    rng = np.random.default_rng(time.time_ns())
    products = [
        make_product(jpeg_bytes((rng.random((96, 128, 3)) * 255).astype("uint8"))) for _ in range(2)
    ]
    style = make_style("slate", source="rocket", method="classic")
    fault_file.write_text("1")  # the next file write dies half-way (a full disk)
    try:
        batch = finished(request(products, style))
    finally:
        fault_file.write_text("0")

    variants = assert_settled(batch)
    assert sorted(v.status for v in variants) == [VariantStatus.FAILED, VariantStatus.READY]
    failed = next(v for v in variants if v.status == VariantStatus.FAILED)
    assert "could not be stored (OSError)" in failed.error and "No space left" in failed.error
    assert not [p for p in variant_files() if p.name.endswith(".part")]
    for path in variant_files():
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest(), path

    again = assert_settled(finished(request(products, style)))
    assert [v.status for v in again] == [VariantStatus.READY] * 2


def test_torn_file_under_the_content_addressed_name_is_rewritten_not_trusted(
    worker, redis, make_product, make_style
):
    photo = sample_jpeg("chelsea", side=200)
    style = make_style("ash", source="coffee", method="classic")
    (first,) = assert_settled(finished(request([make_product(photo)], style)))
    path = Path(default_storage.path(first.image.name))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # what a write cut half-way used to leave

    # Another product with the same photo: same output bytes, same content-addressed name.
    (second,) = assert_settled(finished(request([make_product(photo)], style)))
    assert second.image.name == first.image.name
    assert path.read_bytes() == whole
