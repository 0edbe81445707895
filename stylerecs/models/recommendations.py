"""Product looks and the recommendations scored from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import PRODUCT_MODEL, VectorMixin, product_title


class ProductStyleProfile(VectorMixin):
    """A product's look as a vector, and its affinity to each active style."""

    product = models.OneToOneField(
        PRODUCT_MODEL, on_delete=models.CASCADE, related_name="style_profile"
    )
    source_checksum = models.CharField(max_length=64, blank=True)
    affinities = models.JSONField(default=dict, blank=True, help_text=_("{style_id: score}"))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Style profile of {product_title(self.product)}"


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
        # One row per place of a shopper's list: two rescorings of one shopper at once
        # cannot both write theirs (services/recommendations.py retries the later one).
        # The indexes also serve reading a shopper's list in order.
        constraints = [
            models.UniqueConstraint(
                fields=["user", "rank"],
                condition=models.Q(user__isnull=False),
                name="stylerecs_rec_user_rank_unique",
            ),
            models.UniqueConstraint(
                fields=["session_key", "rank"],
                condition=models.Q(user__isnull=True),
                name="stylerecs_rec_session_rank_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {product_title(self.product)} for {self.user or self.session_key}"
