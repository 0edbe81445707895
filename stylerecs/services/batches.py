"""Generation batches: their counts are derived from their variants, never counted up."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q
from django.utils import timezone

from ..models import GenerationBatch, VariantStatus

FINISHED_OK = (VariantStatus.READY, VariantStatus.APPROVED, VariantStatus.REJECTED)


def batches_refresh(
    *, batch_ids: Iterable[int] | None = None, variant_ids: Iterable[int] | None = None
) -> None:
    """Recompute ready/failed counts (and finished_at) of batches from their variants.

    Recounting rather than incrementing keeps the numbers right when a task runs twice.
    """
    batches = GenerationBatch.objects.all()
    if batch_ids is not None:
        batches = batches.filter(pk__in=list(batch_ids))
    if variant_ids is not None:
        batches = batches.filter(variants__in=list(variant_ids)).distinct()
    for batch in batches:
        counts = batch.variants.aggregate(
            ready=Count("pk", filter=Q(status__in=FINISHED_OK)),
            failed=Count("pk", filter=Q(status=VariantStatus.FAILED)),
        )
        finished = counts["ready"] + counts["failed"] >= batch.total
        GenerationBatch.objects.filter(pk=batch.pk).update(
            ready=counts["ready"],
            failed=counts["failed"],
            finished_at=(batch.finished_at or timezone.now()) if finished else None,
        )
