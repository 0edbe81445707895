"""Renditions in the admin: read-only, with their byte sizes; a table for a variant page."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..models import Rendition, RenditionStatus


def renditions_table(source_name: str) -> str:
    """An HTML table of a stored file's renditions: format, size, bytes, status."""
    rows = list(Rendition.objects.filter(source=source_name).order_by("format", "width"))
    if not rows:
        return _("None yet (the worker makes them; or run manage.py stylerecs_renditions).")
    total = sum(r.file_size for r in rows if r.status == RenditionStatus.READY)
    body = format_html_join(
        "",
        '<tr><td>{}</td><td>{} × {}</td><td title="{} bytes">{}</td><td>{}</td></tr>',
        (
            (
                row.get_format_display(),
                row.width,
                row.height,
                row.file_size,
                filesizeformat(row.file_size) if row.status == RenditionStatus.READY else "—",
                format_html('<a href="{}">{}</a>', row.image.url, _("open"))
                if row.image
                else format_html('<strong class="errors">{}</strong>', row.error),
            )
            for row in rows
        ),
    )
    return format_html(
        '<table class="stylerecs-renditions"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th></th></tr></thead><tbody>{}</tbody><tfoot><tr><td colspan=2>{}</td>"
        "<td>{}</td><td></td></tr></tfoot></table>",
        _("Format"),
        _("Pixels"),
        _("Size"),
        body,
        _("All ready renditions"),
        filesizeformat(total),
    )


@admin.register(Rendition)
class RenditionAdmin(admin.ModelAdmin):
    list_display = ["source", "format", "width", "height", "size", "status", "created_at"]
    list_filter = ["format", "status"]
    search_fields = ["source", "source_checksum", "error"]
    readonly_fields = [f.name for f in Rendition._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Bytes"), ordering="file_size")
    def size(self, obj: Rendition) -> str:
        return filesizeformat(obj.file_size) if obj.status == RenditionStatus.READY else "—"
