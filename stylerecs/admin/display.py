"""How the admin shows images."""

from __future__ import annotations

from django.utils.html import format_html

THUMB = '<img src="{}" alt="{}" style="max-height:{}px;max-width:{}px;border-radius:4px">'


def thumbnail(field_file, alt: str = "", size: int = 80) -> str:
    """An ``<img>`` of ``field_file`` at most ``size`` px high, or a dash when empty."""
    if not field_file:
        return "—"
    return format_html(THUMB, field_file.url, alt, size, size * 2)
