"""stylerecs data model, one module per concept.

Product foreign keys follow ``STYLERECS_PRODUCT_MODEL`` the way auth's follow
``AUTH_USER_MODEL``. Vectors are stored as bytes with their dimension, dtype and model
version so that SQLite and PostgreSQL both work; scoring loads them in bulk.
"""

from .base import PRODUCT_MODEL, VectorMixin
from .experiments import (
    Arm,
    ArmRanking,
    ArmVariants,
    Assignment,
    Experiment,
    ExperimentStatus,
    Impression,
    Surface,
)
from .recommendations import ProductStyleProfile, Recommendation
from .shoppers import (
    Interaction,
    InteractionKind,
    PreferenceSource,
    ShopperSettings,
    StylePreference,
)
from .styles import GenerationBatch, Style, StylizedVariant, VariantStatus

__all__ = [
    "PRODUCT_MODEL",
    "Arm",
    "ArmRanking",
    "ArmVariants",
    "Assignment",
    "Experiment",
    "ExperimentStatus",
    "Impression",
    "Surface",
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
    "VariantStatus",
    "VectorMixin",
]
