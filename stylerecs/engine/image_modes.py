"""Any Pillow image mode to 8-bit sRGB RGB: palettes, alpha (flattened on white),
16-bit and float grayscale (rescaled, not clipped), embedded ICC profiles (converted to
sRGB where LittleCMS can, else Pillow's unmanaged conversion).

Used by :func:`stylerecs.engine.images.decode_image`; like that module it imports only
Pillow, numpy and the standard library (the decoding child process imports it).
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache

import numpy as np
from PIL import Image

__all__ = ["ALPHA_MODES", "to_rgb"]

logger = logging.getLogger(__name__)

ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def to_rgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert any Pillow mode to 8-bit sRGB ``RGB``."""
    mode = img.mode
    if mode == "1":
        img = img.convert("L")
    elif mode.startswith("I") or mode == "F":
        img = _high_bit_depth_to_l(img)
    elif mode == "P":
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
    elif mode in ("L", "RGB") and "transparency" in img.info:
        # tRNS chunk in a PNG: one colour is transparent.
        img = img.convert("RGBA")

    if img.mode in ALPHA_MODES:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        # Grey alpha images stay grey, so an embedded gray ICC profile still applies.
        flat = Image.alpha_composite(background, rgba)
        img = flat.convert("L" if mode in ("LA", "La") else "RGB")

    if icc and img.mode in ("RGB", "CMYK", "L"):
        managed = _icc_to_srgb(img, icc)
        if managed is not None:
            return managed
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float grayscale to 8 bits.

    Pillow opens 16-bit PNG/TIFF as ``I;16`` (or ``I``) without rescaling, so a naive
    ``convert("L")`` clips everything above 255 to white.
    """
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        arr = arr.astype(np.float64) / 257.0
    elif img.mode == "F":
        arr = arr.astype(np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            arr = arr * 255.0  # the usual convention for float images
        elif lo < 0.0 or hi > 255.0:
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    else:  # "I": 32-bit signed ints, in practice 8- or 16-bit samples
        arr = arr.astype(np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 255:
            pass
        elif lo >= 0 and hi <= 65535:
            arr = arr / 257.0
        else:
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


@lru_cache(maxsize=1)
def _srgb_profile():
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


_ICC_SPACE_FOR_MODE = {"RGB": "RGB", "CMYK": "CMYK", "L": "GRAY"}


def _icc_to_srgb(img: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert ``img`` from its embedded ICC profile to sRGB, or None if that fails.

    Colour management is best effort: a broken or mismatched profile, or a Pillow built
    without LittleCMS, falls back to Pillow's unmanaged conversion.
    """
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = (src.profile.xcolor_space or "").strip().upper()
        if space != _ICC_SPACE_FOR_MODE[img.mode]:
            return None
        out = ImageCms.profileToProfile(img, src, _srgb_profile(), outputMode="RGB")
    except Exception as exc:  # noqa: BLE001 - fall back to unmanaged conversion
        logger.debug("ICC conversion skipped: %s", exc)
        return None
    if out is None or out.mode != "RGB":
        return None
    out.info.pop("icc_profile", None)
    return out
