"""The demo catalogue and style library, made from scikit-image's sample photos.

Products are crops of real photographs (scikit-image ships them in its wheel, so nothing
is downloaded); style references are mostly textures (brick, grass, gravel, a tissue
slide, star fields), some toned to give a look: the default weight-free stylizer
(texture) carries a reference's texture, so references are chosen for theirs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from PIL import Image, ImageOps

CATEGORIES = {
    "animals": "Animals",
    "food": "Food & drink",
    "space": "Space",
    "portraits": "Portraits",
    "black-and-white": "Black & white",
}


@dataclass(frozen=True)
class DemoProduct:
    slug: str
    title: str
    category: str
    source: str
    box: tuple[float, float, float, float]  # left, top, right, bottom as fractions
    price: str
    mirror: bool = False
    available: bool = True


P = DemoProduct
PRODUCTS = [
    P("chelsea-the-cat", "Chelsea the Cat", "animals", "chelsea", (0, 0, 1, 1), "39.00"),
    P("cat-eyes", "Cat Eyes", "animals", "chelsea", (0.3, 0.05, 0.85, 0.65), "29.00"),
    P("whiskers", "Whiskers", "animals", "chelsea", (0.2, 0.3, 0.75, 1), "24.00", mirror=True),
    P("tabby-ear", "Tabby Ear", "animals", "chelsea", (0.5, 0, 1, 0.6), "19.00"),
    P("cat-nap", "Cat Nap", "animals", "chelsea", (0, 0.2, 0.6, 1), "24.00", available=False),
    P("morning-coffee", "Morning Coffee", "food", "coffee", (0, 0, 1, 1), "35.00"),
    P("espresso-cup", "Espresso Cup", "food", "coffee", (0.2, 0.05, 0.8, 0.75), "27.00"),
    P("saucer-detail", "Saucer Detail", "food", "coffee", (0.05, 0.45, 0.6, 1), "19.00"),
    P("latte-art", "Latte Art", "food", "coffee", (0.3, 0.1, 0.75, 0.6), "22.00", mirror=True),
    P("coffee-table", "Coffee Table", "food", "coffee", (0.4, 0.3, 1, 1), "25.00"),
    P("astronaut-portrait", "Astronaut Portrait", "portraits", "astronaut", (0, 0, 1, 1), "45.00"),
    P("flight-suit", "Flight Suit", "portraits", "astronaut", (0.1, 0.45, 0.9, 1), "32.00"),
    P("mission-patch", "Mission Patch", "portraits", "astronaut", (0.55, 0.5, 1, 0.95), "18.00"),
    P("helmet-study", "Helmet Study", "portraits", "astronaut", (0.05, 0, 0.6, 0.55), "29.00"),
    P("rocket-launch", "Rocket Launch", "space", "rocket", (0, 0, 1, 1), "42.00"),
    P("launch-pad", "Launch Pad", "space", "rocket", (0.25, 0.3, 0.8, 1), "30.00"),
    P("service-tower", "Service Tower", "space", "rocket", (0.35, 0, 0.75, 0.7), "26.00"),
    P("steel-and-sky", "Steel and Sky", "space", "rocket", (0, 0, 0.55, 0.6), "21.00", mirror=True),
    P("deep-field", "Hubble Deep Field", "space", "hubble_deep_field", (0, 0, 1, 1), "55.00"),
    P(
        "galaxy-cluster",
        "Galaxy Cluster",
        "space",
        "hubble_deep_field",
        (0.1, 0.1, 0.5, 0.5),
        "33.00",
    ),
    P(
        "distant-spiral",
        "Distant Spiral",
        "space",
        "hubble_deep_field",
        (0.5, 0.45, 0.95, 0.9),
        "33.00",
    ),
    P("cameraman", "The Cameraman", "black-and-white", "camera", (0, 0, 1, 1), "38.00"),
    P("old-coins", "Old Coins", "black-and-white", "coins", (0, 0, 1, 1), "23.00"),
    P("desk-clock", "Desk Clock", "black-and-white", "clock", (0, 0, 1, 1), "26.00"),
    P("lunar-surface", "Lunar Surface", "black-and-white", "moon", (0, 0, 1, 1), "31.00"),
    P("tripod", "Tripod", "black-and-white", "camera", (0.3, 0.1, 0.9, 0.9), "20.00"),
]


@dataclass(frozen=True)
class DemoStyle:
    slug: str
    name: str
    description: str
    strength: float
    preserve_color: bool = False


STYLES = [
    DemoStyle(
        "cosmic", "Cosmic", "Deep-space blues and star speckle, from the Hubble Deep Field.", 0.9
    ),
    DemoStyle("ember", "Ember", "Warm reds and glowing oranges on a rough gravel grain.", 0.85),
    DemoStyle(
        "botanical", "Botanical", "Soft stained-glass browns and lilacs of a lab slide.", 0.9
    ),
    DemoStyle("vintage", "Vintage", "Faded sepia film with a vignette and grain.", 0.85),
    DemoStyle("noir", "Noir", "High-contrast black and white.", 1.0),
    DemoStyle(
        "brickwork",
        "Brickwork",
        "Rough masonry texture, your colours kept.",
        0.7,
        preserve_color=True,
    ),
    DemoStyle("moss", "Moss", "Deep greens with an organic grass texture.", 0.85),
]


def _sample(name: str) -> np.ndarray:
    from skimage import data

    array = getattr(data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return array


def _to_image(array: np.ndarray) -> Image.Image:
    image = Image.fromarray(array)
    return image.convert("RGB") if image.mode != "RGB" else image


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def product_photo(product: DemoProduct) -> bytes:
    """The JPEG photo of a demo product: a crop of a sample photograph."""
    image = _to_image(_sample(product.source))
    w, h = image.size
    left, top, right, bottom = product.box
    image = image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    if product.mirror:
        image = ImageOps.mirror(image)
    image.thumbnail((800, 800), Image.Resampling.LANCZOS)
    return _jpeg(image)


def _colourize(gray: np.ndarray, dark: tuple, light: tuple) -> np.ndarray:
    t = (gray.astype(np.float32) / 255.0)[..., None]
    return (np.array(dark) * (1 - t) + np.array(light) * t).clip(0, 255).astype(np.uint8)


def style_reference(slug: str) -> bytes:
    """The JPEG reference image of a demo style."""
    if slug == "cosmic":
        array = _sample("hubble_deep_field")[100:700, 150:750]
    elif slug == "ember":
        # A texture, not a photo: the example-based stylizer copies a reference's patches,
        # so a photo would ghost its objects onto the product.
        array = _colourize(_sample("gravel"), (70, 8, 4), (255, 170, 40))
    elif slug == "botanical":
        array = _sample("immunohistochemistry")
    elif slug == "vintage":
        gray = np.asarray(_to_image(_sample("coffee")).convert("L"))
        array = _colourize(gray, (45, 28, 12), (245, 226, 190))
        yy, xx = np.mgrid[0 : array.shape[0], 0 : array.shape[1]]
        cy, cx = array.shape[0] / 2, array.shape[1] / 2
        r = np.sqrt(((yy - cy) / cy) ** 2 + ((xx - cx) / cx) ** 2)
        vignette = np.clip(1.15 - 0.45 * r**2, 0.35, 1)[..., None]
        grain = np.random.default_rng(7).normal(0, 9, array.shape[:2])[..., None]
        array = (array * vignette + grain).clip(0, 255).astype(np.uint8)
    elif slug == "noir":
        array = _sample("camera")
    elif slug == "brickwork":
        array = _sample("brick")
    elif slug == "moss":
        array = _colourize(_sample("grass"), (8, 32, 10), (170, 210, 90))
    else:
        raise KeyError(slug)
    return _jpeg(_to_image(array))


def price(product: DemoProduct) -> Decimal:
    return Decimal(product.price)
