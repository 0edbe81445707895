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
    ImpressionFlush,
    Surface,
)
from .masks import ProductMask
from .recommendations import ProductStyleProfile, Recommendation
from .renditions import Rendition, RenditionFormat, RenditionStatus
from .shoppers import (
    Interaction,
    InteractionKind,
    PreferenceSource,
    ShopperSettings,
    StylePreference,
)
from .styles import (
    FidelityAction,
    GenerationBatch,
    ProductMode,
    Style,
    StylizedVariant,
    VariantStatus,
)
from .taste import TasteModelStatus, TrainedTasteModel

__all__ = [
    "PRODUCT_MODEL",
    "FidelityAction",
    "Arm",
    "ArmRanking",
    "ArmVariants",
    "Assignment",
    "Experiment",
    "ExperimentStatus",
    "Impression",
    "ImpressionFlush",
    "Surface",
    "GenerationBatch",
    "Interaction",
    "InteractionKind",
    "PreferenceSource",
    "ProductMask",
    "ProductMode",
    "ProductStyleProfile",
    "Recommendation",
    "Rendition",
    "RenditionFormat",
    "RenditionStatus",
    "ShopperSettings",
    "Style",
    "StylePreference",
    "StylizedVariant",
    "TasteModelStatus",
    "TrainedTasteModel",
    "VariantStatus",
    "VectorMixin",
]
