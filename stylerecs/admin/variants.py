"""Stylized variants: review (approve/reject with its own permission), retry, filters."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ..conf import get_adapter
from ..models import StylizedVariant, VariantStatus
from ..services.variants import variants_review
from .display import original_alt, thumbnail, variant_alt
from .masks import mask_upload_link, score
from .renditions import renditions_table


@admin.register(StylizedVariant)
class StylizedVariantAdmin(admin.ModelAdmin):
    list_display = [
        "variant_thumb",
        "original_thumb",
        "product_title",
        "style",
        "style_version",
        "status",
        "fidelity",
        "strength",
        "time_taken",
    ]
    list_filter = ["status", "style", "mask_source"]
    list_select_related = ["style", "product"]
    search_fields = ["style__name", "error"]
    actions = ["approve", "reject"]
    readonly_fields = [f.name for f in StylizedVariant._meta.fields] + [
        "variant_large",
        "original_large",
        "renditions",
        "mask_large",
        "mask_correction",
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
                    "review_reason",
                    "error",
                    "renditions",
                ]
            },
        ),
        (
            _("Quality and product mask"),
            {
                "fields": [
                    "content_fidelity",
                    "style_strength",
                    "scores",
                    "mask_large",
                    "mask_source",
                    "mask_correction",
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

    def get_search_fields(self, request):
        # Staff look a variant up by its product's title, whatever the host calls it.
        product = [f"product__{name}" for name in get_adapter().search_fields()]
        return [*product, *self.search_fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("stylerecs.review_stylizedvariant")

    @admin.display(description=_("Time"), ordering="seconds")
    def time_taken(self, obj):
        return "—" if obj.seconds is None else f"{obj.seconds:.2f} s"

    def _variant(self, obj, size: int) -> str:
        return thumbnail(obj.image, variant_alt(get_adapter().title(obj.product), obj.style), size)

    def _original(self, obj, size: int) -> str:
        adapter = get_adapter()
        alt = original_alt(adapter.title(obj.product))
        return thumbnail(adapter.image_file(obj.product), alt, size)

    @admin.display(description=_("Fidelity"), ordering="content_fidelity")
    def fidelity(self, obj):
        return score(obj.content_fidelity)

    @admin.display(description=_("Style strength"), ordering="style_strength")
    def strength(self, obj):
        return score(obj.style_strength)

    @admin.display(description=_("Mask used"))
    def mask_large(self, obj):
        return thumbnail(obj.mask, _("The product mask this variant used"), 360)

    @admin.display(description=_("Correct the mask"))
    def mask_correction(self, obj):
        return mask_upload_link(obj.product_id)

    @admin.display(description=_("Variant"))
    def variant_thumb(self, obj):
        return self._variant(obj, 64)

    @admin.display(description=_("Original"))
    def original_thumb(self, obj):
        return self._original(obj, 64)

    @admin.display(description=_("Variant"))
    def variant_large(self, obj):
        return self._variant(obj, 360)

    @admin.display(description=_("Original"))
    def original_large(self, obj):
        return self._original(obj, 360)

    @admin.display(description=_("Renditions"))
    def renditions(self, obj):
        return renditions_table(obj.image.name) if obj.image else "—"

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
