"""Experiments in the admin: arms and split, the power plan, start/stop, the report."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import Arm, Experiment, ExperimentStatus, Impression
from ..services.experiment_analysis import (
    METHOD,
    METRICS,
    experiment_plan,
    experiment_report,
)
from ..services.experiments import experiment_start, experiment_stop
from .experiment_plot import report_svg


class ArmInline(admin.TabularInline):
    model = Arm
    extra = 0
    min_num = 2
    fields = [
        "name",
        "slug",
        "weight",
        "is_control",
        "variants",
        "ranking",
        "hidden_style",
        "stopped_at",
        "stop_reason",
    ]
    readonly_fields = ["stopped_at", "stop_reason"]
    prepopulated_fields = {"slug": ["name"]}

    def _editable(self, obj) -> bool:
        # The arms of a started experiment are what its data means: they stay as they were.
        return obj is None or obj.status == ExperimentStatus.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "arm_count", "started_at", "stopped_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ArmInline]
    actions = ["start_selected", "stop_selected"]
    change_form_template = "stylerecs/admin/experiment_change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "status", "started_at", "stopped_at"]}),
        (
            _("Plan (fixed horizon)"),
            {
                "fields": [
                    "baseline_conversion",
                    "minimum_detectable_effect",
                    "alpha",
                    "power",
                    "plan",
                ],
                "description": _(
                    "How many shoppers each arm needs before the result may be read. "
                    "Reading earlier, and stopping at the first significant difference, "
                    "makes false positives far likelier than alpha."
                ),
            },
        ),
        (_("Assignment"), {"fields": ["salt"], "classes": ["collapse"]}),
    ]

    class Media:
        css = {"all": ["stylerecs/admin.css"]}

    def get_readonly_fields(self, request, obj=None):
        fields = ["status", "started_at", "stopped_at", "plan"]
        if obj is not None and obj.status != ExperimentStatus.DRAFT:
            # Changing these after the start would change who is in which arm or what
            # the report promises.
            fields += [
                "slug",
                "salt",
                "baseline_conversion",
                "minimum_detectable_effect",
                "alpha",
                "power",
            ]
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        draft = obj is None or obj.status == ExperimentStatus.DRAFT
        return self.prepopulated_fields if draft else {}

    @admin.display(description=_("Arms"))
    def arm_count(self, obj: Experiment) -> int:
        return obj.arms.count()

    @admin.display(description=_("Shoppers needed"))
    def plan(self, obj: Experiment) -> str:
        if obj is None or obj.pk is None:
            return _("Save to see how many shoppers each arm needs.")
        plan = experiment_plan(experiment=obj)
        if plan["required_per_arm"] is None:
            return plan["error"]
        return format_html(
            "<strong>{}</strong> shoppers per arm to detect a change of {} points in a "
            "conversion of {}% with {}% power at alpha {} (two-sided).",
            plan["required_per_arm"],
            round(plan["minimum_detectable_effect"] * 100, 2),
            round(plan["baseline_conversion"] * 100, 2),
            round(plan["power"] * 100),
            plan["alpha"],
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if experiment is not None and experiment.status != ExperimentStatus.DRAFT:
            report = experiment_report(experiment=experiment)
            extra_context.update(
                report=report,
                plot=report_svg(report),
                method=METHOD,
                diff_rows=[
                    {"arm": c["name"], "label": label, "result": c["metrics"].get(metric)}
                    for c in report["comparisons"]
                    for metric, label in METRICS.items()
                ],
            )
        if experiment is not None:
            extra_context["can_start"] = experiment.status == ExperimentStatus.DRAFT
            extra_context["can_stop"] = experiment.status == ExperimentStatus.RUNNING
        return super().change_view(request, object_id, form_url, extra_context)

    def _run(self, request, experiment: Experiment, service) -> bool:
        try:
            service(experiment=experiment)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return False
        return True

    def response_change(self, request, obj):
        for name, service, done in (
            ("_start", experiment_start, _("started")),
            ("_stop", experiment_stop, _("stopped")),
        ):
            if name in request.POST:
                if self._run(request, obj, service):
                    self.message_user(request, f"{obj} {done}.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description=_("Start the selected experiments"), permissions=["change"])
    def start_selected(self, request, queryset):
        started = sum(self._run(request, e, experiment_start) for e in queryset)
        if started:
            self.message_user(request, f"{started} experiment(s) started.", messages.SUCCESS)

    @admin.action(description=_("Stop the selected experiments"), permissions=["change"])
    def stop_selected(self, request, queryset):
        stopped = sum(self._run(request, e, experiment_stop) for e in queryset)
        if stopped:
            self.message_user(request, f"{stopped} experiment(s) stopped.", messages.SUCCESS)


@admin.register(Impression)
class ImpressionAdmin(admin.ModelAdmin):
    """The exposure log, read-only: what was shown to whom, where, in which arm."""

    list_display = ["created_at", "surface", "position", "product", "variant", "arm", "shopper"]
    list_filter = ["surface", "arm__experiment"]
    list_select_related = ["product", "variant", "arm__experiment"]
    show_full_result_count = False  # a COUNT(*) of a large log on every page is slow
    date_hierarchy = "created_at"

    @admin.display(description=_("Shopper"))
    def shopper(self, obj: Impression) -> str:
        return f"user {obj.user_id}" if obj.user_id else f"visitor {obj.session_key[:8]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
