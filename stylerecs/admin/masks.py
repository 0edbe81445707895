"""Product masks: staff upload a correction when the mask a variant used was wrong."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..conf import get_adapter
from ..models import ProductMask
from ..services.quality import product_mask_save
from .display import thumbnail


def score(value: float | None) -> str:
    """A score in [0, 1] for the admin, or a dash when there is none."""
    return "—" if value is None else f"{value:.3f}"


def mask_upload_link(product_id) -> str:
    """A link to upload (or replace) the product's mask."""
    existing = ProductMask.objects.filter(product_id=product_id).values_list("pk", flat=True)
    if existing:
        url = reverse("admin:stylerecs_productmask_change", args=[existing[0]])
        label = _("Replace the uploaded mask")
    else:
        url = reverse("admin:stylerecs_productmask_add") + f"?product={product_id}"
        label = _("Upload a corrected mask")
    return format_html('<a href="{}">{}</a>', url, label)


class ProductMaskForm(forms.ModelForm):
    class Meta:
        model = ProductMask
        fields = ["product", "image"]

    def clean_image(self):
        from PIL import Image, UnidentifiedImageError

        image = self.cleaned_data["image"]
        try:
            with Image.open(image) as probe:
                probe.load()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise forms.ValidationError(_("Not a readable image: %(e)s") % {"e": exc}) from exc
        image.seek(0)
        return image


@admin.register(ProductMask)
class ProductMaskAdmin(admin.ModelAdmin):
    form = ProductMaskForm
    list_display = ["mask_thumb", "photo_thumb", "product", "uploaded_by", "updated_at"]
    raw_id_fields = ["product"]
    readonly_fields = ["photo_large", "mask_large", "checksum", "uploaded_by", "updated_at"]
    fields = ["product", "image", "photo_large", "mask_large", "checksum", "uploaded_by"]

    @admin.display(description=_("Mask"))
    def mask_thumb(self, obj):
        return thumbnail(obj.image, "mask", 64)

    @admin.display(description=_("Photo"))
    def photo_thumb(self, obj):
        return thumbnail(get_adapter().image_file(obj.product), "photo", 64)

    @admin.display(description=_("Mask"))
    def mask_large(self, obj):
        return thumbnail(obj.image, "mask", 300)

    @admin.display(description=_("Photo"))
    def photo_large(self, obj):
        return thumbnail(get_adapter().image_file(obj.product), "photo", 300)

    def save_model(self, request, obj, form, change):
        saved = product_mask_save(
            product=obj.product, image=form.cleaned_data["image"], user=request.user
        )
        obj.pk, obj.image = saved.pk, saved.image
        self.message_user(
            request,
            _("Mask saved: generate the product's variants again to use it."),
            messages.SUCCESS,
        )
