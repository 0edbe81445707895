"""Variants: request them, stylize them on a worker, review them.

The rules that make the pipeline safe to run twice: a variant's identity is its
idempotency key (product, source photo checksum, style, style version, params), so
asking again finds the same row; state moves only by conditional updates
(pending -> processing -> ready | failed), so a task delivered twice does nothing the
second time; files are named by the SHA-256 of their bytes, so no second file appears.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import GenerationBatch, Style, StylizedVariant, VariantStatus
from ..weights import method_options, missing_weights
from .batches import batches_refresh
from .files import SourceTooLarge, file_checksum, read_limited, save_content_addressed
from .quality import product_mask_checksums, product_masks_read, variant_route
from .queueing import variants_enqueue, variants_release
from .renditions import renditions_schedule

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


def _claim(variant_ids: Sequence[int], token: str) -> list[StylizedVariant]:
    """Move pending variants to processing for this task; return what it now holds.

    A redelivered task (same id, e.g. after its worker died) takes back what it held;
    a variant stuck in processing longer than STALE_PROCESSING_SECONDS may be taken by
    anyone. A duplicate delivery finds nothing left to claim.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=int(stylerecs_settings.STALE_PROCESSING_SECONDS))
    claimable = Q(status=VariantStatus.PENDING) | Q(
        Q(status=VariantStatus.PROCESSING) & (Q(claimed_by=token) | Q(started_at__lt=stale))
    )
    StylizedVariant.objects.filter(claimable, pk__in=variant_ids).update(
        status=VariantStatus.PROCESSING,
        claimed_by=token,
        started_at=now,
        attempts=F("attempts") + 1,
    )
    held = StylizedVariant.objects.filter(
        pk__in=variant_ids, status=VariantStatus.PROCESSING, claimed_by=token
    )
    # A variant whose every try was killed (a worker dying on it, redelivered each time
    # by reject_on_worker_lost) stops here with a reason instead of looping for ever.
    limit = int(stylerecs_settings.MAX_ATTEMPTS)
    exhausted = list(held.filter(attempts__gt=limit).values_list("pk", flat=True))
    if exhausted:
        held.filter(pk__in=exhausted).update(
            status=VariantStatus.FAILED,
            error=f"Gave up after {limit} attempts: each one's worker died or was stopped.",
            finished_at=now,
        )
        batches_refresh(variant_ids=exhausted)
    return list(held.select_related("style"))


def _finish(variant: StylizedVariant, token: str, **fields) -> bool:
    """Conditional transition out of processing; False when someone else finished it."""
    fields.setdefault("finished_at", timezone.now())
    return bool(
        StylizedVariant.objects.filter(
            pk=variant.pk, status=VariantStatus.PROCESSING, claimed_by=token
        ).update(**fields)
    )


def _fail(variants: Iterable[StylizedVariant], token: str, reason: str) -> None:
    for variant in variants:
        _finish(variant, token, status=VariantStatus.FAILED, error=reason[:2000])


def weights_missing_reason(method: str, missing: list[str]) -> str:
    return (
        f"The {method} stylizer needs weights that are not installed: {', '.join(missing)}. "
        "Install them with `manage.py stylerecs_weights install --from DIR` (see "
        "docs/WEIGHTS.md), or switch the style to the classic method."
    )


_configured_stylizers: dict | None = None


def get_engine():
    """The engine module named in settings (imports torch: only on workers).

    The host's extra stylizers (``STYLERECS["STYLIZERS"]``) are registered with the
    engine when they change; re-registering drops loaded models, so not on every call.
    """
    global _configured_stylizers
    engine = importlib.import_module(stylerecs_settings.ENGINE)
    extra = dict(stylerecs_settings.STYLIZERS)
    if extra != _configured_stylizers:
        importlib.import_module(f"{stylerecs_settings.ENGINE}.stylizers").configure(extra=extra)
        _configured_stylizers = extra
    return engine


def variants_process(*, variant_ids: Sequence[int], token: str) -> dict[str, int]:
    """Stylize the given variants (the worker side). Safe to call twice.

    Returns counts of what this call finished: {"ready": n, "failed": n}.
    """
    claimed = _claim(variant_ids, token)
    counts = {"ready": 0, "failed": 0}
    if not claimed:
        # Done already, maybe by this task before the database went away under its
        # final recount: recount, so its batch does not stay unfinished.
        batches_refresh(variant_ids=variant_ids)
        return counts
    by_style: dict[int, list[StylizedVariant]] = defaultdict(list)
    for variant in claimed:
        by_style[variant.style_id].append(variant)
    claimed_ids = [v.pk for v in claimed]
    try:
        for group in by_style.values():
            for key, n in _process_style_group(group, token).items():
                counts[key] += n
    except (OperationalError, InterfaceError):
        raise  # transient: the task retries and takes its claimed variants back
    except (SystemExit, KeyboardInterrupt) as exc:
        # The task was stopped, not wrong: billiard turns the SIGTERM of a cancelled
        # task (worker_cancel_long_running_tasks_on_connection_loss, a warm shutdown
        # that timed out, revoke(terminate=True)) into SystemExit. Give the claims back
        # for the redelivered message, or the periodic requeue where there is none.
        _release_quietly(claimed_ids, token, f"the task was stopped ({type(exc).__name__})")
        raise
    except Exception as exc:
        # A bug, a soft time limit or a crash in the engine: say so on every variant
        # this call still holds instead of leaving them "processing".
        variants_abandon(
            variant_ids=claimed_ids,
            token=token,
            reason=f"Unexpected error ({type(exc).__name__}): {exc}",
        )
        raise
    finally:
        batches_refresh(variant_ids=claimed_ids)
    return counts


def _release_quietly(variant_ids: list[int], token: str, reason: str) -> None:
    try:
        variants_release(variant_ids=variant_ids, token=token, reason=reason)
    except Exception:  # noqa: BLE001
        # The signal may have cut a query short and left the connection unusable; the
        # claims then stay with this task id, which its redelivered message takes back.
        logger.exception("Could not give back variants %s of stopped task %s", variant_ids, token)


def _process_style_group(group: list[StylizedVariant], token: str) -> dict[str, int]:
    style = group[0].style
    counts = {"ready": 0, "failed": 0}
    current = [v for v in group if v.style_version == style.version]
    outdated = [v for v in group if v.style_version != style.version]
    if outdated:
        _fail(
            outdated,
            token,
            f"The style was edited after this was requested (now version {style.version}); "
            "generate again.",
        )
        counts["failed"] += len(outdated)
    if not current:
        return counts

    method = current[0].params.get("method", style.method)
    missing = missing_weights(method)
    if missing:
        _fail(current, token, weights_missing_reason(method, missing))
        counts["failed"] += len(current)
        return counts

    engine = get_engine()
    max_bytes = int(stylerecs_settings.MAX_IMAGE_BYTES)
    limits = engine.ImageLimits(
        max_bytes=max_bytes, max_pixels=int(stylerecs_settings.MAX_IMAGE_PIXELS)
    )
    try:
        style_bytes = read_limited(style.reference_image, max_bytes=max_bytes)
    except (OSError, SourceTooLarge) as exc:
        _fail(current, token, f"Style reference image cannot be read: {exc}")
        return {"ready": counts["ready"], "failed": counts["failed"] + len(current)}

    adapter = get_adapter()
    products = get_product_model()._default_manager.filter(pk__in=[v.product_id for v in current])
    prefetch = adapter.image_queryset_prefetch()
    products = {p.pk: p for p in (products.prefetch_related(*prefetch) if prefetch else products)}
    jobs: list[tuple[StylizedVariant, bytes]] = []
    for variant in current:
        reason = ""
        product = products.get(variant.product_id)
        image = adapter.image_file(product) if product is not None else None
        if image is None:
            reason = "The product has no photo any more."
        else:
            try:
                data = read_limited(image, max_bytes=max_bytes)
            except (OSError, SourceTooLarge) as exc:
                reason = f"The product photo cannot be read: {exc}"
            else:
                if hashlib.sha256(data).hexdigest() != variant.source_checksum:
                    reason = "The product photo changed after this was requested; generate again."
        if reason:
            _fail([variant], token, reason)
            counts["failed"] += 1
        else:
            jobs.append((variant, data))
    if not jobs:
        return counts

    params = jobs[0][0].params
    product_mode = params.get("product_mode", "off")
    uploaded = {}
    if product_mode != "off":
        uploaded = product_masks_read(
            product_ids=[v.product_id for v, _ in jobs], max_bytes=max_bytes
        )
    try:
        outcomes = engine.stylize_many(
            [data for _, data in jobs],
            style_bytes,
            method=params["method"],
            alpha=params["alpha"],
            preserve_color=params["preserve_color"],
            max_side=params["max_side"],
            quality=params["quality"],
            device=stylerecs_settings.DEVICE,
            style_key=f"{style.pk}:{style.version}",
            limits=limits,
            isolate_decoding=bool(stylerecs_settings.ISOLATE_DECODING),
            options=method_options(params["method"]),
            product_mode=product_mode,
            product_alpha=params.get("product_alpha", 0.0),
            masks=[uploaded.get(v.product_id) for v, _ in jobs],
            score=bool(stylerecs_settings.SCORE_VARIANTS),
        )
    except engine.ImageError as exc:
        _fail([v for v, _ in jobs], token, f"Style reference image is unusable: {exc}")
        counts["failed"] += len(jobs)
        return counts
    except (LookupError, RuntimeError, ValueError) as exc:
        # Unknown method, missing weights, bad parameters: not transient, so say why.
        _fail([v for v, _ in jobs], token, f"{type(exc).__name__}: {exc}")
        counts["failed"] += len(jobs)
        return counts

    finished: list[int] = []
    for (variant, _), outcome in zip(jobs, outcomes, strict=True):
        if not outcome.ok:
            _fail([variant], token, outcome.error or "stylizing failed")
            counts["failed"] += 1
            continue
        try:
            name = save_content_addressed(
                outcome.data, prefix=stylerecs_settings.VARIANT_UPLOAD_TO, extension="jpg"
            )
            mask_name = ""
            if outcome.mask:
                mask_name = save_content_addressed(
                    outcome.mask, prefix=stylerecs_settings.MASK_UPLOAD_TO, extension="png"
                )
        except Exception as exc:  # noqa: BLE001
            # Storage backends raise OSError (full disk, quota) or their own client
            # errors; either way this variant's file is not stored, the others may be.
            logger.warning("Storing variant %s failed: %s", variant.pk, exc)
            _fail([variant], token, f"The image could not be stored ({type(exc).__name__}): {exc}")
            counts["failed"] += 1
            continue
        status, reason = variant_route(style=style, scores=outcome.scores)
        scores = outcome.scores or {}
        if _finish(
            variant,
            token,
            status=status,
            review_reason=reason,
            content_fidelity=scores.get("fidelity"),
            style_strength=scores.get("style_gap_closed"),
            scores=scores,
            mask=mask_name,
            mask_source=outcome.mask_source,
            image=name,
            width=outcome.width,
            height=outcome.height,
            file_size=len(outcome.data),
            seconds=outcome.seconds,
            error="",
        ):
            counts["ready"] += 1
            finished.append(variant.pk)
    renditions_schedule(variant_ids=finished)  # responsive renditions, on another task
    return counts


def variants_abandon(*, variant_ids: Sequence[int], token: str, reason: str) -> int:
    """Fail the variants this token still holds in processing, with the reason."""
    return StylizedVariant.objects.filter(
        pk__in=list(variant_ids), status=VariantStatus.PROCESSING, claimed_by=token
    ).update(status=VariantStatus.FAILED, error=reason[:2000], finished_at=timezone.now())


def variants_review(*, variant_ids: Iterable[int], approve: bool, user=None) -> int:
    """Approve or reject finished variants; returns how many changed."""
    target = VariantStatus.APPROVED if approve else VariantStatus.REJECTED
    return (
        StylizedVariant.objects.filter(pk__in=list(variant_ids), status__in=DONE_STATUSES)
        .exclude(status=target)
        .update(status=target, reviewed_by=user, reviewed_at=timezone.now())
    )
