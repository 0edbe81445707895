"""Curation in the Django admin: styles, variant galleries, batches, approvals.

Host shops add :class:`ProductVariantsAdminMixin` to their product admin to get the
"generate variants" action and the variant gallery inline (the demo shop does). Importing
this package registers the stylerecs models with the default admin site.
"""

from .batches import GenerationBatchAdmin
from .display import thumbnail
from .experiments import ExperimentAdmin, ImpressionAdmin
from .masks import ProductMaskAdmin
from .products import ProductStyleProfileInline, ProductVariantsAdminMixin, StylizedVariantInline
from .renditions import RenditionAdmin
from .styles import StyleAdmin
from .taste import TrainedTasteModelAdmin
from .variants import StylizedVariantAdmin

__all__ = [
    "ExperimentAdmin",
    "GenerationBatchAdmin",
    "ProductMaskAdmin",
    "ImpressionAdmin",
    "ProductStyleProfileInline",
    "ProductVariantsAdminMixin",
    "RenditionAdmin",
    "StyleAdmin",
    "StylizedVariantAdmin",
    "StylizedVariantInline",
    "TrainedTasteModelAdmin",
    "thumbnail",
]
