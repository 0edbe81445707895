"""What the stylerecs models share: the product model label and vectors kept as bytes."""

from __future__ import annotations

import numpy as np
from django.db import models

from ..conf import product_model_label

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


def product_title(product) -> str:
    """A product's name as the host's adapter tells it (for ``__str__`` of our models)."""
    from ..conf import get_adapter  # the adapter may import the host's models

    return get_adapter().title(product)
