"""What a host adds to its product admin: the variant gallery, the style profile and
the "generate variants" action (:class:`ProductVariantsAdminMixin`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import selectors
from ..conf import get_adapter
from ..forms import GenerateVariantsForm
from ..models import ProductStyleProfile, StylizedVariant
from ..services.variants import variants_request
from .display import original_alt, thumbnail, variant_alt
from .masks import score


class StylizedVariantInline(admin.TabularInline):
    """The variant gallery on a product's admin page: original beside each variant."""

    model = StylizedVariant
    fk_name = "product"
    extra = 0
    # Variants come from the generate action, never from this form: with no add
    # permission and max_num 0 the admin's inline script offers no "Add another" link
    # (it had one, dead, whose click raised a JS error).
    max_num = 0
    can_delete = False
    show_change_link = True
    fields = [
        "original",
        "variant",
        "mask_used",
        "style",
        "style_version",
        "status",
        "fidelity",
        "strength",
        "error",
    ]
    readonly_fields = fields
    verbose_name = _("stylized variant")
    verbose_name_plural = _("Stylized variants (original beside variant)")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Least faithful first: those are the ones a curator should look at.
        return (
            super()
            .get_queryset(request)
            .select_related("style")
            .order_by(F("content_fidelity").asc(nulls_last=True), "style__name")
        )

    @admin.display(description=_("Fidelity"))
    def fidelity(self, obj: StylizedVariant) -> str:
        return score(obj.content_fidelity)

    @admin.display(description=_("Style strength"))
    def strength(self, obj: StylizedVariant) -> str:
        return score(obj.style_strength)

    @admin.display(description=_("Mask used"))
    def mask_used(self, obj: StylizedVariant) -> str:
        return thumbnail(obj.mask, obj.mask_source or "mask", 60)

    @admin.display(description=_("Original"))
    def original(self, obj: StylizedVariant) -> str:
        adapter = get_adapter()
        alt = original_alt(adapter.title(obj.product))
        return thumbnail(adapter.image_file(obj.product), alt, 120)

    @admin.display(description=_("Variant"))
    def variant(self, obj: StylizedVariant) -> str:
        return thumbnail(obj.image, variant_alt(get_adapter().title(obj.product), obj.style), 120)


class ProductStyleProfileInline(admin.StackedInline):
    """A product's look, as the scoring sees it: its top styles by affinity."""

    model = ProductStyleProfile
    fk_name = "product"
    extra = 0
    can_delete = False
    fields = ["top_styles", "vector_model", "vector_dim", "updated_at"]
    readonly_fields = fields
    verbose_name = _("style profile")
    verbose_name_plural = _("Style profile (top styles by affinity)")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Computed by the workers, never added here: no "Add another" link (a one-to-one
        # inline is given max_num 1 whatever the class says, so it is set afterwards).
        formset.max_num = 0
        return formset

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
