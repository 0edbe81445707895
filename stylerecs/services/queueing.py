"""Getting pending variants to a worker, and again when their message was lost.

A variant's message can be lost in three ways that nothing in Celery repairs: a broker
restarted without persistence, a broker that was unreachable when the request committed
(the variants are in the database, the message never left), and a task that gave up on
a database outage before it claimed anything (its message is acked). Tasks are
idempotent, so the cure is to publish again: ``queued_at`` says when a variant's message
was last published, and :func:`variants_requeue` (celery beat, see ``stylerecs.beat``)
publishes pending variants whose message is older than ``PENDING_REQUEUE_SECONDS`` and
gives back those left ``processing`` by a dead worker after ``STALE_PROCESSING_SECONDS``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ..conf import stylerecs_settings
from ..models import StylizedVariant, VariantStatus

logger = logging.getLogger(__name__)

# What publishing raises when the broker cannot be reached (kombu wraps the socket
# errors of its transports in its OperationalError once its publish retries are spent).
PUBLISH_ERRORS = (BrokerError, ConnectionError, OSError)


def variants_enqueue(*, variant_ids: Sequence[int]) -> int:
    """Publish one task per style and chunk of ``BATCH_SIZE`` for these pending variants.

    Returns how many variants were published. A broker that cannot be reached is not an
    error for the caller (this runs after a request committed): it is logged as a
    warning, the unpublished variants get ``queued_at`` cleared, and the next periodic
    :func:`variants_requeue` publishes them.
    """
    from ..tasks import stylize_variants

    rows = StylizedVariant.objects.filter(
        pk__in=list(variant_ids), status=VariantStatus.PENDING
    ).values_list("pk", "style_id")
    by_style: dict[int, list[int]] = defaultdict(list)
    for pk, style_id in rows.order_by("pk"):
        by_style[style_id].append(pk)
    size = int(stylerecs_settings.BATCH_SIZE)
    chunks = [
        ids[start : start + size] for ids in by_style.values() for start in range(0, len(ids), size)
    ]
    published = 0
    for index, chunk in enumerate(chunks):
        try:
            stylize_variants.delay(chunk)
        except PUBLISH_ERRORS as exc:
            unpublished = [pk for rest in chunks[index:] for pk in rest]
            logger.warning(
                "Could not publish %d pending variant(s) to the broker (%s: %s); the "
                "periodic requeue (stylerecs.tasks.requeue_stale_variants) will publish "
                "them when it is back.",
                len(unpublished),
                type(exc).__name__,
                exc,
            )
            StylizedVariant.objects.filter(pk__in=unpublished, status=VariantStatus.PENDING).update(
                queued_at=None
            )
            break
        published += len(chunk)
    return published


def variants_release(*, variant_ids: Sequence[int], token: str, reason: str) -> dict[str, int]:
    """Give back the variants ``token`` holds: its task was interrupted, not wrong.

    They become pending again (with ``queued_at`` cleared, so the periodic requeue
    publishes them if the interrupted message is not redelivered), except those tried
    ``MAX_ATTEMPTS`` times already, which fail with ``reason``: a variant whose task is
    killed every time must not be retried for ever.
    """
    held = StylizedVariant.objects.filter(
        pk__in=list(variant_ids), status=VariantStatus.PROCESSING, claimed_by=token
    )
    limit = int(stylerecs_settings.MAX_ATTEMPTS)
    failed = held.filter(attempts__gte=limit).update(
        status=VariantStatus.FAILED,
        error=f"Interrupted {limit} times, last: {reason}"[:2000],
        finished_at=timezone.now(),
    )
    released = held.update(status=VariantStatus.PENDING, claimed_by="", queued_at=None)
    return {"released": released, "failed": failed}


def variants_requeue() -> dict[str, int]:
    """Publish again what a lost message or a dead worker left behind (for celery beat).

    ``stale``: variants ``processing`` longer than ``STALE_PROCESSING_SECONDS`` (their
    worker died and the broker did not redeliver). ``pending``: variants whose message
    was published longer than ``PENDING_REQUEUE_SECONDS`` ago, or never (see the
    module docstring). Both are published after the transaction commits.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=int(stylerecs_settings.STALE_PROCESSING_SECONDS))
    queued_before = now - timedelta(seconds=int(stylerecs_settings.PENDING_REQUEUE_SECONDS))
    with transaction.atomic():
        # Locked, so a worker finishing one of them meanwhile waits, then finds its
        # conditional update refused (it no longer holds the claim) and is not counted.
        stale = list(
            StylizedVariant.objects.select_for_update(skip_locked=True)
            .filter(status=VariantStatus.PROCESSING, started_at__lt=stale_before)
            .values_list("pk", flat=True)
        )
        StylizedVariant.objects.filter(pk__in=stale).update(
            status=VariantStatus.PENDING, claimed_by="", queued_at=now
        )
        lost = list(
            StylizedVariant.objects.select_for_update(skip_locked=True)
            .filter(status=VariantStatus.PENDING)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=queued_before))
            .exclude(pk__in=stale)
            .values_list("pk", flat=True)
        )
        StylizedVariant.objects.filter(pk__in=lost).update(queued_at=now)
        ids = stale + lost
        if ids:
            transaction.on_commit(lambda: variants_enqueue(variant_ids=ids))
    if ids:
        logger.info("Requeued %d stale and %d pending variant(s)", len(stale), len(lost))
    return {"stale": len(stale), "pending": len(lost)}
