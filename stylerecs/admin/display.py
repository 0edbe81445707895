"""How the admin shows images."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.translation import gettext as _

# Sized by attribute, not style="...": the Content-Security-Policy allows no inline style.
THUMB = '<img src="{}" alt="{}" height="{}" loading="lazy">'


def thumbnail(field_file, alt: str, size: int = 80) -> str:
    """An ``<img>`` of ``field_file`` at most ``size`` px high, or a dash when empty.

    ``alt`` is required: staff using a screen reader must hear what each image is.
    """
    if not field_file:
        return "—"
    return format_html(THUMB, field_file.url, alt, size)


def original_alt(title: str) -> str:
    return _("%(title)s: original photo") % {"title": title}


def variant_alt(title: str, style) -> str:
    return _("%(title)s in the %(style)s style") % {"title": title, "style": style}
