"""Styles and the variants, batches that stylize products in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .base import PRODUCT_MODEL, VectorMixin, product_title


def default_method() -> str:
    """The stylizer of new styles: STYLERECS["DEFAULT_METHOD"], "auto" resolved."""
    from ..weights import default_method as resolve

    return resolve()


class ProductMode(models.TextChoices):
    """What a style does to the product itself (the mask finds it in the photo)."""

    OFF = "off", _("Restyle the whole photo")
    KEEP = "keep", _("Keep the product as it is; restyle the rest")
    SOFTEN = "soften", _("Restyle the product at the lower product strength")


class FidelityAction(models.TextChoices):
    REVIEW = "review", _("Hold for review")
    REJECT = "reject", _("Reject")


class Style(VectorMixin):
    """A look that staff curate: a reference image and how strongly to apply it."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    reference_image = models.ImageField(upload_to="stylerecs/styles")
    reference_checksum = models.CharField(max_length=64, blank=True, editable=False)
    method = models.CharField(
        max_length=50,
        default=default_method,
        help_text=_(
            "Stylizer backend: texture or classic (no weights), adain or gatys (need weights)."
        ),
    )
    strength = models.FloatField(
        default=1.0, help_text=_("Alpha, 0 (the original photo) to 1 (the full style).")
    )
    preserve_color = models.BooleanField(
        default=False, help_text=_("Keep the product's own colours; transfer texture only.")
    )
    product_mode = models.CharField(
        max_length=8,
        choices=ProductMode.choices,
        default=ProductMode.OFF,
        help_text=_(
            "Keep the product faithful: its mask comes from an uploaded product mask, the "
            "photo's transparency, or an estimate of a plain background."
        ),
    )
    product_strength = models.FloatField(
        default=0.3, help_text=_("Strength on the product when it is restyled softer, 0..1.")
    )
    min_fidelity = models.FloatField(
        null=True,
        blank=True,
        help_text=_(
            "Variants whose content fidelity (0..1) is below this are not approved "
            "automatically; empty for no threshold."
        ),
    )
    low_fidelity_action = models.CharField(
        max_length=8,
        choices=FidelityAction.choices,
        default=FidelityAction.REVIEW,
        help_text=_("What happens to a variant below the fidelity threshold."),
    )
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text=_("Bumped when anything that changes output changes.")
    )
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    vector_checksum = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("SHA-256 of the reference image the style embedding was made from."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(strength__gte=0) & Q(strength__lte=1),
                name="stylerecs_style_strength_0_1",
            ),
            models.CheckConstraint(
                condition=Q(product_strength__gte=0) & Q(product_strength__lte=1),
                name="stylerecs_style_product_strength_0_1",
            ),
            models.CheckConstraint(
                condition=Q(min_fidelity__isnull=True)
                | (Q(min_fidelity__gte=0) & Q(min_fidelity__lte=1)),
                name="stylerecs_style_min_fidelity_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def embedding_is_current(self) -> bool:
        """Whether the stored embedding was made from the current reference image."""
        return bool(self.vector) and self.vector_checksum == self.reference_checksum


class VariantStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready for review")
    FAILED = "failed", _("Failed")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class StylizedVariant(models.Model):
    """One product photo restyled in one version of one style."""

    product = models.ForeignKey(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    style = models.ForeignKey(Style, on_delete=models.CASCADE, related_name="variants")
    style_version = models.PositiveIntegerField()
    source_checksum = models.CharField(max_length=64, help_text=_("SHA-256 of the source photo."))
    params = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    status = models.CharField(
        max_length=12, choices=VariantStatus.choices, default=VariantStatus.PENDING, db_index=True
    )
    image = models.ImageField(upload_to="stylerecs/variants", blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    file_size = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When its task message was last published; empty when publishing failed. "
            "A pending variant queued long ago is published again (its message was lost)."
        ),
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text=_("Stylizing time."))
    content_fidelity = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Mean of luminance SSIM and edge agreement with the photo (inside the mask)."),
    )
    style_strength = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Share of the photo's distance to the style's texture and colour closed."),
    )
    scores = models.JSONField(default=dict, blank=True, help_text=_("All quality scores."))
    mask = models.ImageField(upload_to="stylerecs/masks/used", blank=True)
    mask_source = models.CharField(max_length=12, blank=True)
    review_reason = models.CharField(max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_stylizedvariant", "Can approve or reject stylized variants")]
        indexes = [models.Index(fields=["product", "status"], name="stylerecs_variant_prod_st")]

    def __str__(self) -> str:
        return f"{self.style} v{self.style_version} of {product_title(self.product)}"

    @property
    def is_visible_to_shoppers(self) -> bool:
        return self.status == VariantStatus.APPROVED and bool(self.image)


class GenerationBatch(models.Model):
    """One request to generate variants for some products in some styles."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="admin")
    product_ids = models.JSONField(default=list)
    styles = models.ManyToManyField(Style, related_name="+")
    variants = models.ManyToManyField(StylizedVariant, related_name="batches", blank=True)
    total = models.PositiveIntegerField(default=0)
    ready = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "generation batches"

    def __str__(self) -> str:
        return f"Batch #{self.pk} ({self.done}/{self.total})"

    @property
    def done(self) -> int:
        return self.ready + self.failed

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.done / self.total)

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    def get_progress_url(self) -> str:
        return reverse("admin:stylerecs_generationbatch_progress", args=[self.pk])
