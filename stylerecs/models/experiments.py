"""Online experiments: experiments and their arms, assignments, and the impression log.

An impression is one product shown to one shopper on one surface, at a position, with
the variant on show and the experiment arm the shopper was in. Storefront events link
back to the impression they followed (``Interaction.impression``), so clicks, carts and
purchases can be attributed to what was shown.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import PRODUCT_MODEL
from .styles import Style, StylizedVariant


def new_salt() -> str:
    return secrets.token_hex(8)


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    STOPPED = "stopped", _("Stopped")


class Experiment(models.Model):
    """An A/B test of what shoppers are shown, analysed per shopper.

    The fixed-horizon plan (``baseline_conversion``, ``minimum_detectable_effect``,
    ``alpha``, ``power``) says how many shoppers each arm needs before the result may
    be read; see ``stylerecs.experiments.stats.sample_size_per_arm``.
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    salt = models.CharField(
        max_length=32,
        default=new_salt,
        help_text=_("Mixed into the assignment hash; changing it reshuffles the shoppers."),
    )
    status = models.CharField(
        max_length=10, choices=ExperimentStatus.choices, default=ExperimentStatus.DRAFT
    )
    baseline_conversion = models.FloatField(
        default=0.05, help_text=_("Expected share of shoppers who buy in the control arm.")
    )
    minimum_detectable_effect = models.FloatField(
        default=0.01,
        help_text=_("Smallest absolute change in conversion worth detecting (0.01 = 1 point)."),
    )
    alpha = models.FloatField(default=0.05, help_text=_("Two-sided significance level."))
    power = models.FloatField(default=0.8, help_text=_("Chance to detect the effect if real."))
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(baseline_conversion__gt=0, baseline_conversion__lt=1),
                name="stylerecs_experiment_baseline_range",
            ),
            models.CheckConstraint(
                condition=Q(alpha__gt=0, alpha__lt=1, power__gt=0, power__lt=1),
                name="stylerecs_experiment_alpha_power_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        effect = self.minimum_detectable_effect
        if effect is not None and effect <= 0:
            raise ValidationError({"minimum_detectable_effect": _("Must be above 0.")})
        baseline = self.baseline_conversion
        if effect is not None and baseline is not None and baseline + effect >= 1:
            raise ValidationError(
                {"minimum_detectable_effect": _("Baseline plus effect must stay below 1.")}
            )

    @property
    def is_running(self) -> bool:
        return self.status == ExperimentStatus.RUNNING


class ArmVariants(models.TextChoices):
    STYLED = "styled", _("Photos in the shopper's style")
    ORIGINAL = "original", _("Original photos only")


class ArmRanking(models.TextChoices):
    PERSONALISED = "personalised", _("Personalised ranking")
    POPULAR = "popular", _("Popularity ranking")


class Arm(models.Model):
    """One treatment of an experiment and its share of the traffic (``weight``)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.CharField(max_length=80)
    slug = models.SlugField()
    weight = models.PositiveIntegerField(
        default=1, help_text=_("Share of the traffic, relative to the other arms.")
    )
    is_control = models.BooleanField(default=False)
    variants = models.CharField(
        max_length=10, choices=ArmVariants.choices, default=ArmVariants.STYLED
    )
    ranking = models.CharField(
        max_length=12, choices=ArmRanking.choices, default=ArmRanking.PERSONALISED
    )
    hidden_style = models.ForeignKey(
        Style,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("This style's variants are never shown in this arm."),
    )
    stopped_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Stopped by the guard rail: its shoppers see the control; data is kept."),
    )
    stop_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["experiment", "-is_control", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "slug"], name="stylerecs_arm_slug"),
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(is_control=True),
                name="stylerecs_arm_one_control",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name}: {self.name}"


class Assignment(models.Model):
    """Which arm a shopper is in; written at first exposure, moved to the account at login."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_key = models.CharField(max_length=40, blank=True, help_text=_("Anonymous id."))
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "user"], name="stylerecs_assignment_user"
            ),
            models.UniqueConstraint(
                fields=["experiment", "session_key"],
                condition=~Q(session_key=""),
                name="stylerecs_assignment_session",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""),
                name="stylerecs_assignment_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id or self.session_key} in {self.arm_id}"


class Surface(models.TextChoices):
    FOR_YOU = "for_you", _("For you")
    CATALOGUE = "catalogue", _("Catalogue")
    PRODUCT = "product", _("Product page")
    QUIZ = "quiz", _("Style quiz")


class Impression(models.Model):
    """A product shown to a shopper. Append-only; written in one INSERT per page.

    The foreign keys have no database constraints: checking four of them for every row
    of every page doubled the cost of the INSERT (see docs/BENCHMARKS.md). Django still
    cascades deletions (its collector does that, not the database), and rows are only
    ever written from objects that exist.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    session_key = models.CharField(max_length=40, blank=True)
    product = models.ForeignKey(
        PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    surface = models.CharField(max_length=10, choices=Surface.choices)
    position = models.PositiveSmallIntegerField()
    variant = models.ForeignKey(
        StylizedVariant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    arm = models.ForeignKey(
        Arm,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="impressions",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "product", "created_at"], name="stylerecs_imp_user"),
            models.Index(
                fields=["session_key", "product", "created_at"], name="stylerecs_imp_session"
            ),
            models.Index(fields=["arm", "created_at"], name="stylerecs_imp_arm"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""),
                name="stylerecs_impression_has_actor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id} #{self.position} on {self.surface}"


class ImpressionFlush(models.Model):
    """One chunk of buffered impressions written to the log (``IMPRESSIONS_BUFFER_URL``).

    Inserted first, in the same transaction as the chunk's rows: its unique key makes a
    flush that is run again (after a crash between the commit and the buffer's cleanup,
    or by two flushers at once) write each chunk exactly once. Rows of finished batches
    are deleted by the next flush.
    """

    batch = models.CharField(max_length=32)
    chunk = models.PositiveIntegerField()
    rows = models.PositiveIntegerField(default=0)
    flushed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "chunk"], name="stylerecs_flush_once")
        ]

    def __str__(self) -> str:
        return f"{self.batch}:{self.chunk}"
