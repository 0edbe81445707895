"""Product masks staff upload: which pixels of a product photo are the product."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import PRODUCT_MODEL


class ProductMask(models.Model):
    """A mask image for a product's photo (white is the product), uploaded by staff.

    It is a correction: it wins over the photo's alpha channel and the estimate. One per
    product; uploading again replaces it, and the next generation request makes new
    variants with it (the mask's checksum is part of their parameters).
    """

    product = models.OneToOneField(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    image = models.ImageField(
        upload_to="stylerecs/masks/uploaded",
        help_text=_("White (or opaque) is the product, black (or transparent) the rest."),
    )
    checksum = models.CharField(max_length=64, blank=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product mask")

    def __str__(self) -> str:
        return f"Mask of product {self.product_id}"
