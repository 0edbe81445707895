"""Variants on a worker: claim them, stylize them, finish or give them back.

The worker side of stylerecs/services/variants.py (which requests and reviews them):
a claim is a conditional update to "processing" under the task's token, so a task
delivered twice does nothing the second time, and every way out of a task (done,
failed, stopped, crashed) leaves its variants finished or claimable again.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import InterfaceError, OperationalError
from django.db.models import F, Q
from django.utils import timezone

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import StylizedVariant, VariantStatus
from ..weights import method_options, missing_weights
from .batches import batches_refresh
from .files import SourceTooLarge, read_limited, save_content_addressed
from .quality import product_masks_read, variant_route
from .queueing import variants_release
from .renditions import renditions_schedule

logger = logging.getLogger(__name__)


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
