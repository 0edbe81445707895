"""Trained taste models: their validation metrics beside the baselines', live progress."""

from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..models import TrainedTasteModel
from ..services.taste_training import taste_model_progress

METRICS = ("recall@10", "ndcg@10", "coverage", "cold_recall@10", "users")


@admin.register(TrainedTasteModel)
class TrainedTasteModelAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "status",
        "progress_bar",
        "recall",
        "popularity_recall",
        "in_service_recall",
        "events",
        "shoppers",
        "products",
        "created_at",
    ]
    list_filter = ["status"]
    readonly_fields = [
        "version",
        "status",
        "progress_bar",
        "metrics_table",
        "params",
        "file",
        "events",
        "shoppers",
        "products",
        "validation_from",
        "fit_seconds",
        "error",
        "created_at",
        "finished_at",
    ]
    exclude = ["metrics", "baselines", "trials", "progress"]

    class Media:
        js = ["stylerecs/admin_progress.js"]
        css = {"all": ["stylerecs/admin.css"]}

    def has_add_permission(self, request):
        return False  # models come from `stylerecs_recommend --train` or the beat job

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("recall@10"))
    def recall(self, obj: TrainedTasteModel):
        return obj.metrics.get("recall@10")

    @admin.display(description=_("popularity recall@10"))
    def popularity_recall(self, obj: TrainedTasteModel):
        return obj.baselines.get("popularity", {}).get("recall@10")

    @admin.display(description=_("in service recall@10"))
    def in_service_recall(self, obj: TrainedTasteModel):
        return obj.baselines.get("in service", {}).get("recall@10")

    @admin.display(description=_("Progress"))
    def progress_bar(self, obj: TrainedTasteModel) -> str:
        return format_html(
            '<progress class="stylerecs-progress" max="100" value="{}" data-url="{}"></progress>'
            ' <span class="stylerecs-progress-label">{}%</span>',
            obj.progress,
            reverse("admin:stylerecs_trainedtastemodel_progress", args=[obj.pk]),
            obj.progress,
        )

    @admin.display(description=_("Validation metrics"))
    def metrics_table(self, obj: TrainedTasteModel) -> str:
        rows = [(_("this model"), obj.metrics)] + list(obj.baselines.items())
        head = format_html_join("", "<th>{}</th>", ((m,) for m in METRICS))
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (
                    name,
                    format_html_join("", "<td>{}</td>", ((values.get(m, "–"),) for m in METRICS)),
                )
                for name, values in rows
            ),
        )
        return format_html(
            '<table class="stylerecs-metrics"><thead><tr><th></th>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            head,
            body,
        )

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="stylerecs_trainedtastemodel_progress",
            )
        ]
        return urls + super().get_urls()

    def progress_view(self, request, pk: int):
        record = get_object_or_404(TrainedTasteModel, pk=pk)
        if not self.has_view_permission(request, record):
            return JsonResponse({"detail": "forbidden"}, status=403)
        return JsonResponse(taste_model_progress(record=record))
