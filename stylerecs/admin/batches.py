"""Generation batches with live progress."""

from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..models import GenerationBatch


@admin.register(GenerationBatch)
class GenerationBatchAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "progress_bar",
        "ready",
        "failed",
        "total",
        "requested_by",
        "source",
        "created_at",
        "finished_at",
    ]
    readonly_fields = [
        "requested_by",
        "source",
        "product_ids",
        "styles",
        "total",
        "ready",
        "failed",
        "created_at",
        "started_at",
        "finished_at",
    ]
    exclude = ["variants"]
    change_form_template = "stylerecs/admin/generationbatch_change_form.html"

    class Media:
        js = ["stylerecs/admin_progress.js"]
        css = {"all": ["stylerecs/admin.css"]}

    def has_add_permission(self, request):
        return False  # batches come from the generate action, the API or the CLI

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Progress"))
    def progress_bar(self, obj: GenerationBatch) -> str:
        return format_html(
            '<progress class="stylerecs-progress" max="{}" value="{}" data-url="{}"></progress>'
            ' <span class="stylerecs-progress-label">{}%</span>',
            obj.total or 1,
            obj.done,
            obj.get_progress_url(),
            obj.percent,
        )

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="stylerecs_generationbatch_progress",
            )
        ]
        return urls + super().get_urls()

    def progress_view(self, request, pk: int):
        batch = get_object_or_404(GenerationBatch, pk=pk)
        if not self.has_view_permission(request, batch):
            return JsonResponse({"detail": "forbidden"}, status=403)
        return JsonResponse({**selectors.batch_progress(batch=batch), **self._page_fields(batch)})

    def _page_fields(self, batch: GenerationBatch) -> dict:
        """What the batch page shows outside the progress box, as the admin renders it:
        the script writes these into the page's title and fields as the batch runs, so
        that "Ready" and "Finished at" never disagree with the box."""

        def shown(value):
            if value is None:
                return self.get_empty_value_display()
            return formats.localize(timezone.template_localtime(value))

        return {
            "title": str(batch),
            "fields": {
                "total": str(batch.total),
                "ready": str(batch.ready),
                "failed": str(batch.failed),
                "started_at": shown(batch.started_at),
                "finished_at": shown(batch.finished_at),
            },
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if batch is not None:
            extra_context["progress"] = selectors.batch_progress(batch=batch)
            extra_context["variants_url"] = (
                reverse("admin:stylerecs_stylizedvariant_changelist")
                + f"?batches__id__exact={batch.pk}"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def lookup_allowed(self, lookup, value, request=None):
        return lookup.startswith("batches__id") or super().lookup_allowed(lookup, value, request)
