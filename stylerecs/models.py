"""stylerecs data model.

Product foreign keys follow ``STYLERECS_PRODUCT_MODEL`` the way auth's follow
``AUTH_USER_MODEL``. Vectors are stored as bytes with their dimension, dtype and model
version so that SQLite and PostgreSQL both work; scoring loads them in bulk.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .conf import product_model_label

PRODUCT_MODEL = product_model_label()


class VectorMixin(models.Model):
    """A float vector kept as bytes (float32 or float16) with its dimension."""

    vector = models.BinaryField(null=True, blank=True, editable=False)
    vector_dim = models.PositiveIntegerField(default=0, editable=False)
    vector_dtype = models.CharField(max_length=8, default="float32", editable=False)
    vector_model = models.CharField(max_length=100, blank=True, editable=False)

    class Meta:
        abstract = True

    def get_vector(self) -> np.ndarray | None:
        if not self.vector:
            return None
        return np.frombuffer(bytes(self.vector), dtype=self.vector_dtype).reshape(self.vector_dim)

    def set_vector(self, values, *, model_version: str, dtype: str = "float32") -> None:
        array = np.asarray(values, dtype=dtype).reshape(-1)
        self.vector = array.tobytes()
        self.vector_dim = array.shape[0]
        self.vector_dtype = dtype
        self.vector_model = model_version


class Style(VectorMixin):
    """A look that staff curate: a reference image and how strongly to apply it."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    reference_image = models.ImageField(upload_to="stylerecs/styles")
    reference_checksum = models.CharField(max_length=64, blank=True, editable=False)
    method = models.CharField(
        max_length=50,
        default="classic",
        help_text=_("Stylizer backend: classic (no weights), adain or gatys."),
    )
    strength = models.FloatField(
        default=1.0, help_text=_("Alpha, 0 (the original photo) to 1 (the full style).")
    )
    preserve_color = models.BooleanField(
        default=False, help_text=_("Keep the product's own colours; transfer texture only.")
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
            )
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
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text=_("Stylizing time."))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_stylizedvariant", "Can approve or reject stylized variants")]
        indexes = [models.Index(fields=["product", "status"], name="stylerecs_variant_prod_st")]

    def __str__(self) -> str:
        return f"{self.style} v{self.style_version} of product {self.product_id}"

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


class PreferenceSource(models.TextChoices):
    EXPLICIT = "explicit", _("Chosen by the shopper")
    LEARNED = "learned", _("Learned from behaviour")


class StylePreference(models.Model):
    """How much a shopper (a user or an anonymous id) likes a style.

    Explicit rows come from the shopper (the quiz, "my style"); learned rows are
    written by the scoring from their behaviour, for styles they did not choose.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="style_preferences",
    )
    session_key = models.CharField(max_length=40, blank=True, help_text=_("Anonymous id."))
    style = models.ForeignKey(Style, on_delete=models.CASCADE, related_name="preferences")
    weight = models.FloatField(default=1.0)
    source = models.CharField(
        max_length=10, choices=PreferenceSource.choices, default=PreferenceSource.EXPLICIT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "style"], name="stylerecs_pref_user_style"),
            models.UniqueConstraint(
                fields=["session_key", "style"],
                condition=~Q(session_key=""),
                name="stylerecs_pref_session_style",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""),
                name="stylerecs_preference_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.session_key} likes {self.style} ({self.weight:+.2f})"


class ShopperSettings(models.Model):
    """A shopper's privacy choices; no row means the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="style_settings",
    )
    session_key = models.CharField(max_length=40, blank=True, help_text=_("Anonymous id."))
    personalise = models.BooleanField(
        default=True, help_text=_("Use the shopper's preferences and behaviour to rank products.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "shopper settings"
        constraints = [
            models.UniqueConstraint(
                fields=["session_key"],
                condition=~Q(session_key=""),
                name="stylerecs_settings_session",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""),
                name="stylerecs_settings_has_actor",
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.personalise else "off"
        return f"Personalisation {state} for {self.user or self.session_key}"


class InteractionKind(models.TextChoices):
    VIEW = "view", _("Viewed")
    LIKE = "like", _("Liked")
    DISLIKE = "dislike", _("Disliked")
    ADD_TO_CART = "add_to_cart", _("Added to cart")
    PURCHASE = "purchase", _("Purchased")
    QUIZ_PICK = "quiz_pick", _("Picked in the style quiz")


class Interaction(models.Model):
    """An append-only event from the storefront."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="style_interactions",
    )
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    product = models.ForeignKey(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=InteractionKind.choices)
    variant = models.ForeignKey(
        StylizedVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="stylerecs_inter_user_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""),
                name="stylerecs_interaction_has_actor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user or self.session_key} {self.kind} {self.product_id}"


class ProductStyleProfile(VectorMixin):
    """A product's look as a vector, and its affinity to each active style."""

    product = models.OneToOneField(
        PRODUCT_MODEL, on_delete=models.CASCADE, related_name="style_profile"
    )
    source_checksum = models.CharField(max_length=64, blank=True)
    affinities = models.JSONField(default=dict, blank=True, help_text=_("{style_id: score}"))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Style profile of product {self.product_id}"


class Recommendation(models.Model):
    """A scored product for a shopper; a shopper's set is replaced atomically."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="style_recommendations",
    )
    session_key = models.CharField(max_length=40, blank=True)
    product = models.ForeignKey(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    rank = models.PositiveIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["rank"]
        indexes = [
            models.Index(fields=["user", "rank"], name="stylerecs_rec_user_rank"),
            models.Index(fields=["session_key", "rank"], name="stylerecs_rec_session_rank"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.product_id} for {self.user or self.session_key}"
