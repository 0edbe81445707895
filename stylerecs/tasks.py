"""Celery tasks: take ids, call one service, own the retries. Nothing else.

Every task here is idempotent (see services/variants.py), because with acks_late and
reject_on_worker_lost a task can run again after its worker died.
"""

from __future__ import annotations

import uuid

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .services import profiles as profile_services
from .services import recommendations as recommendation_services
from .services import taste_training
from .services import variants as variant_services
from .shoppers import Shopper

# Transient: the database went away or was busy. Anything else is acked and the
# variant is failed with its reason by the service.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError)


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def stylize_variants(self, variant_ids: list[int]) -> dict[str, int]:
    """Stylize a batch of variants of one style (routed to the ``gpu`` queue)."""
    # The task id survives redelivery and retries, so a rerun takes back its own claims.
    token = self.request.id or uuid.uuid4().hex
    return variant_services.variants_process(variant_ids=variant_ids, token=token)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def requeue_stale_variants() -> int:
    """Give back variants left in processing by a worker that died (for celery beat)."""
    return variant_services.variants_stale_requeue()


@shared_task(
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def refresh_recommendations(user_id: int | None = None, anon_id: str = "") -> int:
    """Rescore one shopper (enqueued, debounced, after their events)."""
    shopper = Shopper(user_id=user_id, anon_id=anon_id or "")
    return recommendation_services.recommendations_compute(shopper=shopper)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
def refresh_all_recommendations(chunk_size: int | None = None, fan_out: bool = False) -> int:
    """Rescore every shopper with a history, in batched chunks (for celery beat); with
    ``fan_out``, enqueue each chunk as a ``score_recommendations_chunk`` task."""
    return recommendation_services.recommendations_compute_all(
        chunk_size=chunk_size, fan_out=fan_out
    )


@shared_task(
    autoretry_for=TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5, acks_late=True
)
def score_recommendations_chunk(shopper_keys: list[str]) -> int:
    """Score one chunk of shoppers (``Shopper.key`` strings) with the model in service."""
    shoppers = [recommendation_services.shopper_from_key(key) for key in shopper_keys]
    return recommendation_services.recommendations_compute_chunk(shoppers=shoppers) or 0


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
def train_taste_model() -> int | None:
    """Fit and tune a taste model; it goes into service if it beats the one there
    (for celery beat). Returns the new record's id, ``None`` when training was refused."""
    try:
        return taste_training.taste_model_train().pk
    except taste_training.TrainingRefused:
        return None  # recorded on the row, with the reason: nothing to retry


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, acks_late=True)
def refresh_profiles(product_ids: list | None = None) -> int:
    """Embed changed product photos and styles; refresh affinities (``gpu`` queue)."""
    return profile_services.profiles_refresh(product_ids=product_ids)
