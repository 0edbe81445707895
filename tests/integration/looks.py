"""A small catalogue with planted looks, for the recommendation tests.

Each look is one scikit-image photo; its products are different crops of it, so their
embeddings cluster by look (checked by test_profiles). A style made from the same photo
sits near its look's products.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

LOOKS = ("coffee", "astronaut", "camera", "chelsea", "rocket")
CROPS = ((0, 0, 1, 1), (0, 0, 0.6, 0.6), (0.4, 0.4, 1, 1), (0.2, 0.1, 0.8, 0.9))


def crop_jpeg(name: str, box, side: int = 160) -> bytes:
    from skimage import data

    image = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")
    w, h = image.size
    left, top, right, bottom = box
    image = image.crop((int(left * w), int(top * h), int(right * w), int(bottom * h)))
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_looks(make_product, looks=LOOKS, crops=CROPS) -> dict[str, list]:
    """{look: [products]}: one product per crop of each look's photo."""
    return {
        look: [
            make_product(crop_jpeg(look, box), title=f"{look} {i}") for i, box in enumerate(crops)
        ]
        for look in looks
    }
