"""Product masks, and blending a stylized image back over the product it must keep.

Where a mask comes from, first found wins:

1. ``uploaded``: a mask image staff uploaded for the photo (white is the product). It is
   a correction, so it beats everything else.
2. ``alpha``: the photo's own alpha channel (cut-outs on transparent backgrounds).
3. ``estimated``: product photography's plain or near-uniform background, found from
   the photo's border, then refined with GrabCut (C. Rother, V. Kolmogorov and
   A. Blake, "GrabCut: Interactive Foreground Extraction using Iterated Graph Cuts",
   SIGGRAPH 2004; OpenCV's implementation). No learned weights.

When none applies (a busy scene) there is no mask and the whole photo is restyled.

Edges are feathered *inward*: the soft ramp lies inside the product, so no ring of the
original background survives around it (the halo a centred blur leaves on a product
shot on white).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = [
    "MASK_SOURCES",
    "alpha_mask",
    "blend_product",
    "encode_mask",
    "estimate_foreground",
    "feather",
    "load_mask",
    "product_mask",
]

MASK_SOURCES = ("uploaded", "alpha", "estimated")
_ANALYSIS_SIDE = 320  # GrabCut's cost grows with pixels; the mask is upscaled after
_BORDER = 0.04  # share of each side taken as the background sample
_UNIFORM_DELTA_E = 14.0  # 90% of the border within this Lab distance of its median
_MIN_SHARE, _MAX_SHARE = 0.02, 0.92  # a "product" covering less or more is no product


def alpha_mask(image: Image.Image) -> np.ndarray | None:
    """The alpha channel [H, W] in [0, 1] when it makes some pixels transparent."""
    if "A" not in image.getbands():
        return None
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    if alpha.min() > 0.98:
        return None  # an opaque alpha channel says nothing about the product
    return alpha


def load_mask(data: bytes | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """An uploaded mask image as [H, W] in [0, 1] at ``size`` (width, height).

    Any mode works: transparency counts as background, then lightness is the mask.
    """
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    img.load()
    if "A" in img.getbands() and img.getchannel("A").getextrema()[0] < 250:
        grey = img.getchannel("A")
    else:
        grey = img.convert("L")
    grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def estimate_foreground(rgb: Image.Image) -> np.ndarray | None:
    """A 0/1 product mask for a photo on a near-uniform background, else None."""
    import cv2

    full_w, full_h = rgb.size
    small = rgb.convert("RGB")
    small.thumbnail((_ANALYSIS_SIDE, _ANALYSIS_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small)
    h, w = pixels.shape[:2]
    if min(h, w) < 16:
        return None
    lab = cv2.cvtColor(pixels.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    b = max(2, round(_BORDER * min(h, w)))
    border = np.zeros((h, w), dtype=bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    background = np.median(lab[border], axis=0)
    distance = np.linalg.norm(lab - background, axis=2)
    spread = float(np.percentile(distance[border], 90))
    if spread > _UNIFORM_DELTA_E:
        return None  # a busy or graded background: no reliable estimate
    candidate = distance > max(2.5 * spread, 10.0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, kernel, iterations=2)
    if not _MIN_SHARE <= candidate.mean() <= _MAX_SHARE:
        return None
    # GrabCut's seeds: the border is background for sure, the eroded candidate product
    # for sure, its rim and the rest only probably.
    seeds = np.where(candidate > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    core = cv2.erode(candidate, kernel, iterations=3)
    seeds[core > 0] = cv2.GC_FGD
    seeds[border & (candidate == 0)] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(pixels[..., ::-1].copy(), seeds, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
        refined = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:
        refined = candidate  # GrabCut refuses degenerate seeds; the estimate stands
    refined = _fill_holes(refined)
    if not _MIN_SHARE <= refined.mean() <= _MAX_SHARE:
        return None
    up = cv2.resize(refined.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    return (up >= 0.5).astype(np.float32)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Background is what the border reaches: enclosed holes belong to the product."""
    import cv2

    h, w = mask.shape
    flood = np.pad(1 - mask, 1, constant_values=1).astype(np.uint8)
    reach = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(flood, reach, (0, 0), 2)
    return (flood[1:-1, 1:-1] != 2).astype(np.uint8)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften a mask's edge inward over about ``radius`` pixels (see the module doc)."""
    import cv2

    if radius <= 0:
        return mask.astype(np.float32)
    size = 2 * round(radius) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    inner = cv2.erode((mask >= 0.5).astype(np.uint8), kernel).astype(np.float32)
    soft = cv2.GaussianBlur(inner, (0, 0), sigmaX=radius / 2, borderType=cv2.BORDER_REPLICATE)
    # Inside the original mask the ramp rises to 1; outside it is 0, so no halo.
    return np.clip(np.minimum(soft * 2.0, 1.0) * (mask >= 0.5), 0.0, 1.0).astype(np.float32)


def product_mask(
    image: Image.Image, *, uploaded: bytes | None = None
) -> tuple[np.ndarray | None, str]:
    """The product mask [H, W] in [0, 1] of a decoded photo and where it came from.

    ``image`` may carry an alpha channel (RGBA); returns ``(None, "")`` when no mask
    can be had (then the whole photo is restyled).
    """
    if uploaded:
        return load_mask(uploaded, image.size), "uploaded"
    alpha = alpha_mask(image)
    if alpha is not None:
        return alpha, "alpha"
    estimate = estimate_foreground(image)
    if estimate is not None:
        return estimate, "estimated"
    return None, ""


def blend_product(
    content: Tensor, styled: Tensor, mask: np.ndarray, *, alpha: float, product_alpha: float
) -> tuple[Tensor, Tensor]:
    """Restyle the background at ``alpha`` and the product at ``product_alpha``.

    ``styled`` is the stylizer's output at ``alpha``; the product gets the share
    ``product_alpha / alpha`` of that change (0 keeps it exactly). Returns the blended
    [3, H, W] image and the feathered mask [H, W] that was used.
    """
    radius = max(1.0, max(mask.shape) / 400.0)
    soft = torch.from_numpy(feather(mask, radius)).to(content.device, content.dtype)
    share = 0.0 if alpha <= 0 else min(1.0, product_alpha / alpha)
    weight = (1.0 - soft) + soft * share
    return content + (styled - content) * weight, soft


def encode_mask(mask: Tensor | np.ndarray) -> bytes:
    """A mask as an 8-bit greyscale PNG (white is the product)."""
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else mask
    buffer = io.BytesIO()
    Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8), "L").save(
        buffer, "PNG", optimize=True
    )
    return buffer.getvalue()
