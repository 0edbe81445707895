"""Celery tasks: take ids, call one service, own the retries. Nothing else.

Every task here is idempotent (see services/variants.py and variant_processing.py),
because with acks_late and reject_on_worker_lost a task can run again after its worker
died.
"""

from __future__ import annotations

import random
import time
import uuid

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from . import worker_signals  # noqa: F401 (connects the worker_init receiver)
from .conf import stylerecs_settings
from .services import experiment_analysis, impression_buffer, taste_training, variant_processing
from .services import profiles as profile_services
from .services import queueing as queueing_services
from .services import recommendations as recommendation_services
from .services import renditions as rendition_services
from .shoppers import Shopper

# Transient: the database went away or was busy. Anything else is acked and the
# variant is failed with its reason by the service.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError)

# Message header carrying the time of a task's first try across its retries.
FIRST_TRY_HEADER = "stylerecs_first_try"


class RetryTransient(Task):
    """Retries TRANSIENT errors with jittered exponential backoff for a bounded time.

    A count of retries bounds nothing useful (five quick ones add up to ~15 s, less
    than a database failover or restart takes), so the bound is time since the first
    try: ``TRANSIENT_RETRY_SECONDS``, with pauses up to ``TRANSIENT_RETRY_MAX_DELAY``.
    A task that gives up leaves its variants to the periodic requeue.
    """

    max_retries = None  # bounded by time, below

    def __call__(self, *args, **kwargs):
        # Not Task.__call__: it pushes a bare request (no id, no headers) over the one
        # the worker's tracer pushed, and the id is what lets a rerun reclaim its work.
        try:
            return self.run(*args, **kwargs)
        except TRANSIENT as exc:
            if self.request.is_eager:
                raise  # in-process (the demo): no broker to wait on
            headers = dict(self.request.headers or {})
            first_try = float(headers.get(FIRST_TRY_HEADER) or time.time())
            remaining = first_try + int(stylerecs_settings.TRANSIENT_RETRY_SECONDS) - time.time()
            if remaining <= 0:
                raise
            cap = float(stylerecs_settings.TRANSIENT_RETRY_MAX_DELAY)
            delay = min(cap, 2.0**self.request.retries)
            # "Equal jitter": spread the retries of many tasks, never retry at once.
            countdown = min(remaining, random.uniform(delay / 2, delay))
            headers[FIRST_TRY_HEADER] = first_try
            raise self.retry(exc=exc, countdown=countdown, headers=headers) from exc


@shared_task(bind=True, base=RetryTransient, acks_late=True)
def stylize_variants(self, variant_ids: list[int]) -> dict[str, int]:
    """Stylize a batch of variants of one style (routed to the ``gpu`` queue)."""
    # The task id survives redelivery and retries, so a rerun takes back its own claims.
    token = self.request.id or uuid.uuid4().hex
    return variant_processing.variants_process(variant_ids=variant_ids, token=token)


@shared_task(base=RetryTransient)
def requeue_stale_variants() -> int:
    """Publish again variants a lost message or a dead worker left behind (celery beat)."""
    counts = queueing_services.variants_requeue()
    return counts["stale"] + counts["pending"]


@shared_task(base=RetryTransient, acks_late=True)
def refresh_recommendations(user_id: int | None = None, anon_id: str = "") -> int:
    """Rescore one shopper (enqueued, debounced, after their events)."""
    shopper = Shopper(user_id=user_id, anon_id=anon_id or "")
    return recommendation_services.recommendations_compute(shopper=shopper)


@shared_task(base=RetryTransient, acks_late=True)
def refresh_all_recommendations(chunk_size: int | None = None, fan_out: bool = False) -> int:
    """Rescore every shopper with a history, in batched chunks (for celery beat); with
    ``fan_out``, enqueue each chunk as a ``score_recommendations_chunk`` task."""
    return recommendation_services.recommendations_compute_all(
        chunk_size=chunk_size, fan_out=fan_out
    )


@shared_task(base=RetryTransient, acks_late=True)
def score_recommendations_chunk(shopper_keys: list[str]) -> int:
    """Score one chunk of shoppers (``Shopper.key`` strings) with the model in service."""
    shoppers = [recommendation_services.shopper_from_key(key) for key in shopper_keys]
    return recommendation_services.recommendations_compute_chunk(shoppers=shoppers) or 0


@shared_task(base=RetryTransient, acks_late=True)
def train_taste_model() -> int | None:
    """Fit and tune a taste model; it goes into service if it beats the one there
    (for celery beat). Returns the new record's id, ``None`` when training was refused."""
    try:
        return taste_training.taste_model_train().pk
    except taste_training.TrainingRefused:
        return None  # recorded on the row, with the reason: nothing to retry


@shared_task(base=RetryTransient, acks_late=True)
def refresh_profiles(product_ids: list | None = None) -> int:
    """Embed changed product photos and styles; refresh affinities (``gpu`` queue)."""
    return profile_services.profiles_refresh(product_ids=product_ids)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, acks_late=True)
def make_renditions(variant_ids: list[int] | None = None, product_ids: list | None = None) -> dict:
    """Responsive renditions of variants (and their products' photos), or of products."""
    report = rendition_services.renditions_for_variants(variant_ids=variant_ids or [])
    if product_ids:
        report.add(rendition_services.renditions_for_products(product_ids=product_ids))
    return {"created": report.created, "existing": report.existing, "failed": report.failed}


@shared_task(ignore_result=True)
def flush_impressions() -> int:
    """Write the impressions buffered in Redis (``IMPRESSIONS_BUFFER_URL``; for celery
    beat). A failed flush leaves them buffered for the next one: no retries of its own."""
    return impression_buffer.impressions_flush()


@shared_task(base=RetryTransient)
def experiments_guard() -> list[str]:
    """Stop experiment arms that make conversion significantly worse (for celery beat)."""
    return experiment_analysis.experiments_guard()
