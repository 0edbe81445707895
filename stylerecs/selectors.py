"""Reads: what the storefront, the admin and the API show."""

from __future__ import annotations

from django.db.models import QuerySet

from .conf import get_adapter
from .models import GenerationBatch, StylizedVariant, VariantStatus


def approved_variants_for_product(*, product) -> QuerySet[StylizedVariant]:
    """Variants a shopper may see for a product: approved, with a file, active style."""
    return (
        StylizedVariant.objects.filter(
            product=product, status=VariantStatus.APPROVED, style__is_active=True
        )
        .exclude(image="")
        .select_related("style")
        .order_by("style__name", "-style_version")
    )


def batch_progress(*, batch: GenerationBatch) -> dict:
    """A batch's progress, with the reasons of its failures."""
    failures = list(
        batch.variants.filter(status=VariantStatus.FAILED).select_related("style", "product")[:50]
    )
    adapter = get_adapter()
    return {
        "id": batch.pk,
        "total": batch.total,
        "ready": batch.ready,
        "failed": batch.failed,
        "done": batch.done,
        "percent": batch.percent,
        "finished": batch.is_finished,
        "failures": [
            {
                "variant": variant.pk,
                "product": adapter.title(variant.product),
                "style": variant.style.name,
                "error": variant.error,
            }
            for variant in failures
        ],
    }
