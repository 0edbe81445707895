"""Variants: request them and review them (a worker stylizes them:
stylerecs/services/variant_processing.py).

The rules that make the pipeline safe to run twice: a variant's identity is its
idempotency key (product, source photo checksum, style, style version, params), so
asking again finds the same row; state moves only by conditional updates
(pending -> processing -> ready | failed), so a task delivered twice does nothing the
second time; files are named by the SHA-256 of their bytes, so no second file appears.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import GenerationBatch, Style, StylizedVariant, VariantStatus
from .batches import batches_refresh
from .files import file_checksum
from .quality import product_mask_checksums
from .queueing import variants_enqueue

logger = logging.getLogger(__name__)

DONE_STATUSES = (VariantStatus.READY, VariantStatus.APPROVED, VariantStatus.REJECTED)


def variant_params(style: Style) -> dict:
    """The parameters that, with the style version, decide a variant's pixels."""
    params = {
        "method": style.method,
        "alpha": round(float(style.strength), 4),
        "preserve_color": bool(style.preserve_color),
        "max_side": int(stylerecs_settings.VARIANT_MAX_SIDE),
        "quality": int(stylerecs_settings.VARIANT_JPEG_QUALITY),
    }
    if style.product_mode != "off":  # absent otherwise: older variants keep their keys
        params["product_mode"] = style.product_mode
        params["product_alpha"] = round(float(style.product_strength), 4)
    return params


def idempotency_key(*, product_pk, source_checksum: str, style: Style, params: dict) -> str:
    raw = json.dumps(
        [str(product_pk), source_checksum, style.pk, style.version, params], sort_keys=True
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def variants_request(
    *,
    product_ids: Iterable,
    style_ids: Iterable[int],
    requested_by=None,
    source: str = "admin",
) -> GenerationBatch:
    """Create a batch and its pending variants in one transaction; enqueue on commit.

    Variants that already exist for the same photo, style version and params are
    reused (a failed one is tried again); products without a photo are skipped.
    """
    product_ids = list(dict.fromkeys(product_ids))
    styles = list(Style.objects.filter(pk__in=list(style_ids), is_active=True))
    if not styles:
        raise ValueError("No active styles were given.")
    adapter = get_adapter()
    products = get_product_model()._default_manager.filter(pk__in=product_ids)
    prefetch = adapter.image_queryset_prefetch()
    if prefetch:
        products = products.prefetch_related(*prefetch)

    with transaction.atomic():
        batch = GenerationBatch.objects.create(
            requested_by=requested_by,
            source=source,
            product_ids=[str(pk) for pk in product_ids],
            started_at=timezone.now(),
        )
        batch.styles.set(styles)
        variants: list[StylizedVariant] = []
        to_enqueue: list[StylizedVariant] = []
        params_of = {style.pk: variant_params(style) for style in styles}
        mask_of = product_mask_checksums(product_ids=product_ids)
        for product in products:
            image = adapter.image_file(product)
            if image is None:
                logger.info("Product %s has no photo; skipped", product.pk)
                continue
            checksum = file_checksum(image)
            for style in styles:
                params = params_of[style.pk]
                if "product_mode" in params and product.pk in mask_of:
                    # A corrected mask makes new variants rather than reusing old ones.
                    params = {**params, "mask": mask_of[product.pk]}
                key = idempotency_key(
                    product_pk=product.pk, source_checksum=checksum, style=style, params=params
                )
                variant, created = StylizedVariant.objects.get_or_create(
                    idempotency_key=key,
                    defaults={
                        "product": product,
                        "style": style,
                        "style_version": style.version,
                        "source_checksum": checksum,
                        "params": params,
                    },
                )
                if not created and variant.status == VariantStatus.FAILED:
                    # Asking again is how staff retry a failure (after fixing its cause).
                    StylizedVariant.objects.filter(
                        pk=variant.pk, status=VariantStatus.FAILED
                    ).update(status=VariantStatus.PENDING, error="", claimed_by="", attempts=0)
                    variant.status = VariantStatus.PENDING
                variants.append(variant)
                if variant.status == VariantStatus.PENDING:
                    to_enqueue.append(variant)
        batch.variants.set(variants)
        batch.total = len(variants)
        batch.save(update_fields=["total"])
        batches_refresh(batch_ids=[batch.pk])
        enqueue_ids = [v.pk for v in to_enqueue]
        StylizedVariant.objects.filter(pk__in=enqueue_ids).update(queued_at=timezone.now())
        # After commit, so a worker finds the rows; a broker that is down then is a
        # logged warning and the periodic requeue's job, never an error for the caller.
        transaction.on_commit(lambda: variants_enqueue(variant_ids=enqueue_ids))
    batch.refresh_from_db()
    return batch


def variants_review(*, variant_ids: Iterable[int], approve: bool, user=None) -> int:
    """Approve or reject finished variants; returns how many changed."""
    target = VariantStatus.APPROVED if approve else VariantStatus.REJECTED
    return (
        StylizedVariant.objects.filter(pk__in=list(variant_ids), status__in=DONE_STATUSES)
        .exclude(status=target)
        .update(status=target, reviewed_by=user, reviewed_at=timezone.now())
    )
