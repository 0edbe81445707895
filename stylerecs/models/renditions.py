"""Renditions: a stored image (variant or product photo) resized and re-encoded."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RenditionFormat(models.TextChoices):
    AVIF = "avif", "AVIF"
    WEBP = "webp", "WebP"
    JPEG = "jpeg", "JPEG"


class RenditionStatus(models.TextChoices):
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class Rendition(models.Model):
    """One width of one format of one stored image.

    A rendition belongs to the file it was made from (``source``, its storage name),
    not to a variant or a product: variants and host product photos are both files,
    and the markup finds the renditions of whatever file it is asked to show. The
    source's checksum tells when a file was replaced under the same name.
    """

    source = models.CharField(
        max_length=255, db_index=True, help_text=_("Storage name of the source image.")
    )
    source_checksum = models.CharField(max_length=64, help_text=_("SHA-256 of the source."))
    source_width = models.PositiveIntegerField(default=0)
    source_height = models.PositiveIntegerField(default=0)
    format = models.CharField(max_length=8, choices=RenditionFormat.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=8, choices=RenditionStatus.choices, default=RenditionStatus.READY
    )
    image = models.FileField(upload_to="stylerecs/renditions", max_length=255, blank=True)
    file_size = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text=_("Encoding time."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "format", "width"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "format", "width"], name="stylerecs_rendition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.format} {self.width}w"

    @property
    def mime_type(self) -> str:
        return f"image/{self.format}"
