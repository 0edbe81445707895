"""Trained taste models: one row per training run, the model file in storage."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TasteModelStatus(models.TextChoices):
    TRAINING = "training", _("Training")
    ACTIVE = "active", _("In service")
    RETIRED = "retired", _("Retired")
    REJECTED = "rejected", _("Rejected: did not beat the model in service")
    FAILED = "failed", _("Failed")


class TrainedTasteModel(models.Model):
    """A fitted hybrid taste model, its tuned parameters and validation metrics.

    At most one is in service (``status=active``): scoring reads its file from the
    default storage, so any worker that can reach the storage can score a chunk.
    """

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(
        max_length=10, choices=TasteModelStatus.choices, default=TasteModelStatus.TRAINING
    )
    params = models.JSONField(default=dict, blank=True, help_text=_("Tuned parameters."))
    metrics = models.JSONField(
        default=dict, blank=True, help_text=_("This model's metrics on the validation split.")
    )
    baselines = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Metrics of the baselines and of the model in service, same split."),
    )
    trials = models.JSONField(default=list, blank=True, help_text=_("Every tuned setting."))
    file = models.FileField(max_length=255, blank=True)
    events = models.PositiveIntegerField(default=0)
    shoppers = models.PositiveIntegerField(default=0)
    products = models.PositiveIntegerField(default=0)
    validation_from = models.DateTimeField(
        null=True, blank=True, help_text=_("Events from this time on were held out.")
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("Percent done."))
    fit_seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="stylerecs_one_active_taste_model",
            )
        ]

    def __str__(self) -> str:
        return f"Taste model v{self.version} ({self.get_status_display()})"

    @property
    def recall(self) -> float | None:
        return self.metrics.get("recall@10")
