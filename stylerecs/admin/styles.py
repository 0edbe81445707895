"""The style library: upload, preview, method and weights warnings."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..conf import stylerecs_settings
from ..models import Style
from ..services.styles import style_save
from ..services.variant_processing import weights_missing_reason
from ..validators import ValidatedImageFormMixin
from ..weights import METHOD_WEIGHTS, default_method, missing_weights
from .display import thumbnail


class StyleAdminForm(ValidatedImageFormMixin, forms.ModelForm):
    """The style form: a reference image must decode fully, as the workers will decode it."""

    image_fields = ("reference_image",)

    class Meta:
        model = Style
        fields = [
            "name",
            "slug",
            "description",
            "is_active",
            "reference_image",
            "method",
            "strength",
            "preserve_color",
            "product_mode",
            "product_strength",
            "min_fidelity",
            "low_fidelity_action",
        ]


@admin.register(Style)
class StyleAdmin(admin.ModelAdmin):
    form = StyleAdminForm
    list_display = [
        "preview",
        "name",
        "method",
        "runnable",
        "strength",
        "preserve_color",
        "product_mode",
        "is_active",
        "version",
        "embedding",
    ]
    list_display_links = ["preview", "name"]
    list_filter = ["is_active", "method"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["reference_preview", "version", "reference_checksum", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "is_active"]}),
        (
            _("Look"),
            {
                "fields": [
                    "reference_image",
                    "reference_preview",
                    "method",
                    "strength",
                    "preserve_color",
                ]
            },
        ),
        (_("Product"), {"fields": ["product_mode", "product_strength"]}),
        (_("Quality"), {"fields": ["min_fidelity", "low_fidelity_action"]}),
        (
            _("Bookkeeping"),
            {"fields": ["version", "reference_checksum", "updated_at"], "classes": ["collapse"]},
        ),
    ]

    @admin.display(description=_("Reference"))
    def preview(self, obj: Style) -> str:
        return thumbnail(
            obj.reference_image, _("%(style)s: reference image") % {"style": obj.name}, 48
        )

    @admin.display(description=_("Reference preview"))
    def reference_preview(self, obj: Style) -> str:
        return thumbnail(
            obj.reference_image, _("%(style)s: reference image") % {"style": obj.name}, 240
        )

    @admin.display(description=_("Embedding"))
    def embedding(self, obj: Style) -> str:
        # Styles are embedded by a worker after saving; until then they cannot score.
        if not obj.vector:
            return _("pending")
        if not obj.embedding_is_current:
            return _("outdated (%(model)s)") % {"model": obj.vector_model}
        return f"{obj.vector_model} · {obj.vector_dim}-d"

    @admin.display(description=_("Weights"))
    def runnable(self, obj: Style) -> str:
        missing = missing_weights(obj.method)
        if not missing:
            return format_html('<span title="{}">✔</span>', _("ready to run"))
        return format_html(
            '<strong title="{}">⚠ {}</strong>',
            ", ".join(missing),
            _("weights missing"),
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "method":
            # Built per request: the extra stylizers come from settings at run time.
            names = list(METHOD_WEIGHTS) + [
                n for n in stylerecs_settings.STYLIZERS if n not in METHOD_WEIGHTS
            ]
            return forms.ChoiceField(
                choices=[(n, n) for n in names],
                initial=default_method(),
                help_text=db_field.help_text,
                label=db_field.verbose_name.capitalize(),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        style = self.get_object(request, object_id)
        if style is not None and request.method == "GET":
            missing = missing_weights(style.method)
            if missing:
                self.message_user(
                    request, weights_missing_reason(style.method, missing), messages.WARNING
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        style_save(style=obj)
