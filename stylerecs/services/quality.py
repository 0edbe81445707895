"""Product masks and quality scores: what the variant pipeline asks about both.

Staff upload a product mask as a correction (:func:`product_mask_save`); its checksum
becomes part of new variants' parameters, so a corrected mask makes new variants instead
of reusing the old ones. :func:`variant_route` decides, from a variant's scores and its
style's threshold, whether it is approved, held for review or rejected.
"""

from __future__ import annotations

from django.db import transaction

from ..conf import stylerecs_settings
from ..models import FidelityAction, ProductMask, ProductMode, Style, VariantStatus
from .files import file_checksum, read_limited

__all__ = ["product_mask_checksums", "product_mask_save", "product_masks_read", "variant_route"]


@transaction.atomic
def product_mask_save(*, product, image, user=None) -> ProductMask:
    """Store ``image`` (an uploaded file) as the product's mask, replacing any earlier.

    Raises ValueError when the file is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as probe:
            probe.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"The mask is not a readable image: {exc}") from exc
    image.seek(0)
    mask = ProductMask.objects.select_for_update().filter(product=product).first()
    if mask is None:
        mask = ProductMask(product=product)
    mask.image = image
    mask.uploaded_by = user
    mask.save()
    mask.checksum = file_checksum(mask.image)
    mask.save(update_fields=["checksum"])
    return mask


def product_mask_checksums(*, product_ids) -> dict:
    """{product pk: checksum of its uploaded mask} for the products that have one."""
    return dict(
        ProductMask.objects.filter(product_id__in=list(product_ids)).values_list(
            "product_id", "checksum"
        )
    )


def product_masks_read(*, product_ids, max_bytes: int) -> dict:
    """{product pk: uploaded mask bytes}; an unreadable file counts as no mask."""
    out = {}
    for mask in ProductMask.objects.filter(product_id__in=list(product_ids)):
        try:
            out[mask.product_id] = read_limited(mask.image, max_bytes=max_bytes)
        except (OSError, ValueError):
            continue
    return out


def variant_route(*, style: Style, scores: dict | None) -> tuple[str, str]:
    """The status a freshly made variant gets, and why when it is not the usual one.

    Auto-approval (STYLERECS["AUTO_APPROVE"]) applies only to variants at or above the
    style's fidelity threshold; below it they are held for review or rejected, as the
    style says.
    """
    usual = VariantStatus.APPROVED if stylerecs_settings.AUTO_APPROVE else VariantStatus.READY
    fidelity = (scores or {}).get("fidelity")
    if style.min_fidelity is None or fidelity is None or fidelity >= style.min_fidelity:
        return usual, ""
    reason = (
        f"Content fidelity {fidelity:.3f} is below the style's threshold {style.min_fidelity:.3f}."
    )
    if style.low_fidelity_action == FidelityAction.REJECT:
        return VariantStatus.REJECTED, reason
    return VariantStatus.READY, reason


def uses_mask(style: Style) -> bool:
    return style.product_mode != ProductMode.OFF
