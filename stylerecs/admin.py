"""Curation in the Django admin: styles, variant galleries, batches, approvals.

Host shops add :class:`ProductVariantsAdminMixin` to their product admin to get the
"generate variants" action and the variant gallery inline (the demo shop does).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import selectors
from .conf import get_adapter, stylerecs_settings
from .forms import GenerateVariantsForm
from .models import GenerationBatch, ProductStyleProfile, Style, StylizedVariant, VariantStatus
from .services.styles import style_save
from .services.variants import variants_request, variants_review, weights_missing_reason
from .weights import METHOD_WEIGHTS, missing_weights

THUMB = '<img src="{}" alt="{}" style="max-height:{}px;max-width:{}px;border-radius:4px">'


def thumbnail(field_file, alt: str = "", size: int = 80) -> str:
    if not field_file:
        return "—"
    return format_html(THUMB, field_file.url, alt, size, size * 2)


@admin.register(Style)
class StyleAdmin(admin.ModelAdmin):
    list_display = [
        "preview",
        "name",
        "method",
        "runnable",
        "strength",
        "preserve_color",
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
        (
            _("Bookkeeping"),
            {"fields": ["version", "reference_checksum", "updated_at"], "classes": ["collapse"]},
        ),
    ]

    @admin.display(description=_("Reference"))
    def preview(self, obj: Style) -> str:
        return thumbnail(obj.reference_image, obj.name, 48)

    @admin.display(description=_("Reference preview"))
    def reference_preview(self, obj: Style) -> str:
        return thumbnail(obj.reference_image, obj.name, 240)

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
            '<span style="color:var(--error-fg,#ba2121)" title="{}">⚠ {}</span>',
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
                initial=stylerecs_settings.DEFAULT_METHOD,
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


class StylizedVariantInline(admin.TabularInline):
    """The variant gallery on a product's admin page: original beside each variant."""

    model = StylizedVariant
    fk_name = "product"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["original", "variant", "style", "style_version", "status", "error"]
    readonly_fields = fields
    verbose_name = _("stylized variant")
    verbose_name_plural = _("Stylized variants (original beside variant)")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Original"))
    def original(self, obj: StylizedVariant) -> str:
        return thumbnail(get_adapter().image_file(obj.product), "original", 120)

    @admin.display(description=_("Variant"))
    def variant(self, obj: StylizedVariant) -> str:
        return thumbnail(obj.image, str(obj.style), 120)


class ProductStyleProfileInline(admin.StackedInline):
    """A product's look, as the scoring sees it: its top styles by affinity."""

    model = ProductStyleProfile
    fk_name = "product"
    extra = 0
    max_num = 1
    can_delete = False
    fields = ["top_styles", "vector_model", "vector_dim", "updated_at"]
    readonly_fields = fields
    verbose_name = _("style profile")
    verbose_name_plural = _("Style profile (top styles by affinity)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Top styles"))
    def top_styles(self, obj: ProductStyleProfile) -> str:
        return selectors.top_styles_of_profile(profile=obj) or "—"


class ProductVariantsAdminMixin:
    """Add to a host shop's product ModelAdmin: generate action, variant gallery and
    the product's style profile."""

    actions = ["generate_variants"]
    stylerecs_inlines = [StylizedVariantInline, ProductStyleProfileInline]

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is None or not request.user.has_perm("stylerecs.view_stylizedvariant"):
            return inlines
        return inlines + [cls(self.model, self.admin_site) for cls in self.stylerecs_inlines]

    def has_generate_permission(self, request) -> bool:
        return request.user.has_perm("stylerecs.add_generationbatch")

    @admin.action(description=_("Generate stylized variants…"), permissions=["generate"])
    def generate_variants(self, request, queryset):
        form = GenerateVariantsForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            batch = variants_request(
                product_ids=list(queryset.values_list("pk", flat=True)),
                style_ids=[s.pk for s in form.cleaned_data["styles"]],
                requested_by=request.user,
                source="admin",
            )
            self.message_user(
                request,
                ngettext(
                    "Batch #%(id)d: %(n)d variant queued; follow its progress here.",
                    "Batch #%(id)d: %(n)d variants queued; follow their progress here.",
                    batch.total,
                )
                % {"id": batch.pk, "n": batch.total},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:stylerecs_generationbatch_change", args=[batch.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Generate stylized variants"),
            "form": form,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "stylerecs/admin/generate_variants.html", context)


@admin.register(StylizedVariant)
class StylizedVariantAdmin(admin.ModelAdmin):
    list_display = [
        "variant_thumb",
        "original_thumb",
        "product_title",
        "style",
        "style_version",
        "status",
        "seconds",
    ]
    list_filter = ["status", "style"]
    list_select_related = ["style", "product"]
    search_fields = ["style__name", "error"]
    actions = ["approve", "reject"]
    readonly_fields = [f.name for f in StylizedVariant._meta.fields] + [
        "variant_large",
        "original_large",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "original_large",
                    "variant_large",
                    "product",
                    "style",
                    "style_version",
                    "status",
                    "error",
                ]
            },
        ),
        (
            _("Details"),
            {
                "fields": [
                    "params",
                    "source_checksum",
                    "idempotency_key",
                    "image",
                    "width",
                    "height",
                    "file_size",
                    "seconds",
                    "attempts",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "reviewed_by",
                    "reviewed_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("stylerecs.review_stylizedvariant")

    @admin.display(description=_("Variant"))
    def variant_thumb(self, obj):
        return thumbnail(obj.image, str(obj.style), 64)

    @admin.display(description=_("Original"))
    def original_thumb(self, obj):
        return thumbnail(get_adapter().image_file(obj.product), "original", 64)

    @admin.display(description=_("Variant"))
    def variant_large(self, obj):
        return thumbnail(obj.image, str(obj.style), 360)

    @admin.display(description=_("Original"))
    def original_large(self, obj):
        return thumbnail(get_adapter().image_file(obj.product), "original", 360)

    @admin.display(description=_("Product"))
    def product_title(self, obj):
        return get_adapter().title(obj.product)

    def _review(self, request, queryset, *, approve: bool):
        target = VariantStatus.APPROVED if approve else VariantStatus.REJECTED
        already = queryset.filter(status=target).count()
        changed = variants_review(
            variant_ids=queryset.values_list("pk", flat=True), approve=approve, user=request.user
        )
        unfinished = queryset.count() - changed - already
        verb = _("approved") if approve else _("rejected")
        self.message_user(request, _("%(n)d variant(s) %(verb)s.") % {"n": changed, "verb": verb})
        if already:
            self.message_user(
                request, _("%(n)d variant(s) were %(verb)s already.") % {"n": already, "verb": verb}
            )
        if unfinished:
            self.message_user(
                request,
                _("%(n)d variant(s) skipped: only finished variants can be reviewed.")
                % {"n": unfinished},
                messages.WARNING,
            )

    @admin.action(description=_("Approve: show to shoppers"), permissions=["review"])
    def approve(self, request, queryset):
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject: never show"), permissions=["review"])
    def reject(self, request, queryset):
        self._review(request, queryset, approve=False)


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
        return JsonResponse(selectors.batch_progress(batch=batch))

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
