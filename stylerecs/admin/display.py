"""How the admin shows images."""

from __future__ import annotations

from django.utils.html import format_html

# Sized by attribute, not style="...": the Content-Security-Policy allows no inline style.
THUMB = '<img src="{}" alt="{}" height="{}" loading="lazy">'


def thumbnail(field_file, alt: str = "", size: int = 80) -> str:
    """An ``<img>`` of ``field_file`` at most ``size`` px high, or a dash when empty."""
    if not field_file:
        return "—"
    return format_html(THUMB, field_file.url, alt, size)
