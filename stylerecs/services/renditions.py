"""Renditions of variants and product photos: made once, on a worker, per stored file.

Safe to run twice: a file's renditions are keyed by (source name, format, width), and a
ready rendition of the same source bytes is never made again, so a second run reads the
source's bytes (to notice a replaced file) and writes nothing. Rendition files are
content-addressed like the variants. A rendition that fails (an encoder or a storage
error) is recorded as failed with its reason and costs that rendition only; the next
run tries it again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..engine import images as engine_images
from ..engine import renditions as engine_renditions
from ..models import Rendition, RenditionStatus, StylizedVariant, VariantStatus
from .files import SourceTooLarge, read_limited, save_content_addressed

logger = logging.getLogger(__name__)

# Variants that may be shown (or are about to be reviewed); rejected ones never are.
RENDERED_STATUSES = (VariantStatus.READY, VariantStatus.APPROVED)


@dataclass
class RenditionReport:
    """What one call did: renditions written, found already made, failed (with why)."""

    created: int = 0
    existing: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RenditionReport) -> RenditionReport:
        self.created += other.created
        self.existing += other.existing
        self.failed += other.failed
        self.errors.extend(other.errors)
        return self


def rendition_formats() -> list[str]:
    """The configured formats this host can encode (AVIF drops out without an encoder)."""
    return engine_renditions.supported_formats(stylerecs_settings.RENDITION_FORMATS)


def _wanted(source_width: int) -> list[tuple[str, int]]:
    widths = engine_renditions.rendition_widths(
        source_width, list(stylerecs_settings.RENDITION_WIDTHS)
    )
    return [(fmt, width) for fmt in rendition_formats() for width in widths]


def renditions_make(*, field_file) -> RenditionReport:
    """Make the missing renditions of one stored image (a FieldFile); safe to repeat."""
    report = RenditionReport()
    name = field_file.name
    max_bytes = int(stylerecs_settings.MAX_IMAGE_BYTES)
    try:
        data = read_limited(field_file, max_bytes=max_bytes)
    except (OSError, SourceTooLarge) as exc:
        report.failed += 1
        report.errors.append(f"{name}: cannot be read: {exc}")
        return report
    checksum = hashlib.sha256(data).hexdigest()
    rows = list(Rendition.objects.filter(source=name))
    replaced = [row.pk for row in rows if row.source_checksum != checksum]
    if replaced:
        # The file was replaced under the same name: its old renditions show old pixels.
        Rendition.objects.filter(pk__in=replaced).delete()
        rows = [row for row in rows if row.pk not in replaced]
    done = {(r.format, r.width) for r in rows if r.status == RenditionStatus.READY}
    known_width = next((r.source_width for r in rows if r.source_width), 0)
    if known_width and not set(_wanted(known_width)) - done:
        report.existing += len(done)
        return report

    limits = engine_images.ImageLimits(
        max_bytes=max_bytes, max_pixels=int(stylerecs_settings.MAX_IMAGE_PIXELS)
    )
    try:
        if stylerecs_settings.ISOLATE_DECODING:
            img = engine_images.decode_image_isolated(data, limits=limits)
        else:
            img = engine_images.decode_image(data, limits=limits)
    except engine_images.ImageError as exc:
        report.failed += 1
        report.errors.append(f"{name}: {exc}")
        return report

    wanted = _wanted(img.width)
    todo = [item for item in wanted if item not in done]
    report.existing += len(wanted) - len(todo)
    outcomes = engine_renditions.make_renditions(
        img,
        wanted=todo,
        quality=dict(stylerecs_settings.RENDITION_QUALITY),
        avif_speed=int(stylerecs_settings.RENDITION_AVIF_SPEED),
    )
    source = {
        "source_checksum": checksum,
        "source_width": img.width,
        "source_height": img.height,
    }
    prefix = stylerecs_settings.RENDITION_UPLOAD_TO
    for outcome in outcomes:
        fields = {**source, "height": outcome.height, "seconds": outcome.seconds}
        if outcome.ok:
            try:
                stored = save_content_addressed(
                    outcome.data,
                    prefix=prefix,
                    extension=engine_renditions.EXTENSIONS[outcome.format],
                )
            except Exception as exc:  # noqa: BLE001 - a storage error fails this file only
                fields.update(status=RenditionStatus.FAILED, image="", file_size=0)
                fields["error"] = f"Storing failed ({type(exc).__name__}): {exc}"[:2000]
            else:
                fields.update(
                    status=RenditionStatus.READY,
                    image=stored,
                    file_size=len(outcome.data),
                    error="",
                )
        else:
            fields.update(status=RenditionStatus.FAILED, image="", error=outcome.error[:2000])
        Rendition.objects.update_or_create(
            source=name, format=outcome.format, width=outcome.width, defaults=fields
        )
        if fields["status"] == RenditionStatus.READY:
            report.created += 1
        else:
            report.failed += 1
            report.errors.append(f"{name} {outcome.format} {outcome.width}w: {fields['error']}")
            logger.warning("Rendition failed: %s", report.errors[-1])
    return report


def _product_photos(product_ids: Iterable) -> list:
    adapter = get_adapter()
    products = get_product_model()._default_manager.filter(pk__in=list(product_ids))
    prefetch = adapter.image_queryset_prefetch()
    if prefetch:
        products = products.prefetch_related(*prefetch)
    return [photo for photo in (adapter.image_file(p) for p in products) if photo]


def renditions_for_products(*, product_ids: Iterable) -> RenditionReport:
    """Renditions of the products' photos (the originals stylerecs shows)."""
    report = RenditionReport()
    for photo in _product_photos(product_ids):
        report.add(renditions_make(field_file=photo))
    return report


def renditions_for_variants(
    *, variant_ids: Sequence[int], with_products: bool = True
) -> RenditionReport:
    """Renditions of finished variants and (by default) of their products' photos."""
    report = RenditionReport()
    variants = list(
        StylizedVariant.objects.filter(pk__in=list(variant_ids), status__in=RENDERED_STATUSES)
        .exclude(image="")
        .order_by("pk")
    )
    for variant in variants:
        report.add(renditions_make(field_file=variant.image))
    if with_products:
        report.add(renditions_for_products(product_ids={v.product_id for v in variants}))
    return report


def renditions_schedule(*, variant_ids: Sequence[int]) -> None:
    """Enqueue the renditions of variants that just became ready (after commit)."""
    ids = [int(pk) for pk in variant_ids]
    if not ids or not stylerecs_settings.RENDITIONS_ENABLED:
        return
    from ..tasks import make_renditions

    transaction.on_commit(lambda: make_renditions.delay(variant_ids=ids))
