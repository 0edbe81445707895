"""Styles: keep ``version`` honest so that an edit that changes output regenerates."""

from __future__ import annotations

import hashlib

from django.db import transaction

from ..models import Style
from .files import file_checksum
from .profiles import profiles_schedule


def style_fingerprint(style: Style) -> str:
    """Hash of everything about a style that changes the pictures it makes."""
    parts = [
        style.reference_checksum,
        style.method,
        f"{float(style.strength):.4f}",
        str(bool(style.preserve_color)),
    ]
    if style.product_mode != "off":  # only then: existing styles keep their fingerprint
        parts += [style.product_mode, f"{float(style.product_strength):.4f}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@transaction.atomic
def style_save(*, style: Style) -> Style:
    """Save a style, bumping its version when its output would change.

    Variants are keyed by style version, so the next generation request for a product
    makes a new variant instead of reusing one made with the old look. A style without
    an embedding of its current reference image is embedded by a worker after commit.
    """
    if style.reference_image:
        style.reference_checksum = file_checksum(style.reference_image)
    fingerprint = style_fingerprint(style)
    if style.pk and style.fingerprint and fingerprint != style.fingerprint:
        style.version += 1
    style.fingerprint = fingerprint
    style.full_clean(exclude=["reference_image"] if style.reference_image else None)
    style.save()
    if style.is_active and not style.embedding_is_current:
        # A new look: a worker embeds it and refreshes every product's affinities.
        profiles_schedule(product_ids=[])
    return style
