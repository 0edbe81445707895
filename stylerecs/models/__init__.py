"""stylerecs data model, one module per concept.

Product foreign keys follow ``STYLERECS_PRODUCT_MODEL`` the way auth's follow
``AUTH_USER_MODEL``. Vectors are stored as bytes with their dimension, dtype and model
version so that SQLite and PostgreSQL both work; scoring loads them in bulk.
"""

from .base import PRODUCT_MODEL, VectorMixin
from .recommendations import ProductStyleProfile, Recommendation
from .shoppers import (
    Interaction,
    InteractionKind,
    PreferenceSource,
    ShopperSettings,
    StylePreference,
)
from .styles import GenerationBatch, Style, StylizedVariant, VariantStatus
from .taste import TasteModelStatus, TrainedTasteModel

__all__ = [
    "PRODUCT_MODEL",
    "GenerationBatch",
    "Interaction",
    "InteractionKind",
    "PreferenceSource",
    "ProductStyleProfile",
    "Recommendation",
    "ShopperSettings",
    "Style",
    "StylePreference",
    "StylizedVariant",
    "TasteModelStatus",
    "TrainedTasteModel",
    "VariantStatus",
    "VectorMixin",
]
