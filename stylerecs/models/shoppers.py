"""What stylerecs knows of a shopper: preferences, settings, interactions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import PRODUCT_MODEL, product_title
from .styles import Style, StylizedVariant


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
    # The impression this event followed (same shopper and product, shortly before).
    impression = models.ForeignKey(
        "stylerecs.Impression",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
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
        return f"{self.user or self.session_key} {self.kind} {product_title(self.product)}"
