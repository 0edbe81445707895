"""Weight-free quality scores of a stylized image: content fidelity and style strength.

Content fidelity (1 is the content itself):

- ``ssim``: the structural similarity of the luminance (Z. Wang, A. C. Bovik,
  H. R. Sheikh and E. P. Simoncelli, "Image Quality Assessment: From Error Visibility to
  Structural Similarity", IEEE TIP 2004; 11 x 11 Gaussian window, sigma 1.5).
- ``edges``: agreement of the luminance gradient fields (Sobel), the normalised inner
  product of the two fields: 1 when every edge keeps its place and direction.
- ``fidelity``: their mean. With a product mask both are measured inside it only,
  since that is where the shop asked for the product to stay faithful.

Style strength:

- ``style_distance``: sliced Wasserstein distance (J. Rabin, G. Peyré, J. Delon and
  M. Bernot, "Wasserstein Barycenter and its Application to Texture Mixing", SSVM 2011)
  between the image's and the style's distributions of colours and of 5 x 5 patches of
  each band of a Laplacian pyramid (Burt & Adelson 1983), averaged over the bands; the
  texture measure of E. Heitz, K. Vanhoey, T. Chambon and L. Belcour, "A Sliced
  Wasserstein Loss for Neural Texture Synthesis", CVPR 2021, on pixels instead of VGG
  features so no weights are needed.
- ``style_gap_closed``: how much of the content's own distance to the style the
  variant closed, ``1 - d(variant, style) / d(content, style)``: 0 is no change, 1 is
  as close as the style to itself (it may be negative for a variant further away).

With a mask that keeps the product, style strength is measured on the background.
Every random choice is seeded: the same images give the same scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .colorspace import rgb_to_lab

__all__ = ["SCORE_NAMES", "content_fidelity", "quality_scores", "style_distance"]

SCORE_NAMES = ("ssim", "edges", "fidelity", "style_distance", "style_gap_closed")

_LEVELS = 3
_PATCH = 5
_PROJECTIONS = 64
_MAX_SAMPLES = 8192
_ANALYSIS_SIDE = 256  # statistics need no more pixels; it keeps scoring fast


def _luma(x: Tensor) -> Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
    return (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _gaussian_window(size: int, sigma: float, like: Tensor) -> Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).view(1, 1, -1)


def _filter(x: Tensor, window: Tensor) -> Tensor:
    pad = window.shape[-1] // 2
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="replicate"), window.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, pad, pad), mode="replicate"), window.view(1, 1, -1, 1))


def _ssim_map(a: Tensor, b: Tensor) -> Tensor:
    window = _gaussian_window(11, 1.5, a)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = _filter(a, window), _filter(b, window)
    var_a = _filter(a * a, window) - mu_a**2
    var_b = _filter(b * b, window) - mu_b**2
    cov = _filter(a * b, window) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )


def _sobel(x: Tensor) -> Tensor:
    kx = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=x.dtype, device=x.device) / 8
    kernels = torch.stack((kx, kx.T)).unsqueeze(1)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)


def content_fidelity(content: Tensor, output: Tensor, mask: Tensor | None = None) -> dict:
    """SSIM and edge agreement of ``output`` to ``content`` ([3, H, W] in [0, 1]).

    ``mask`` ([H, W] in [0, 1]) restricts both to the product (weighted by the mask).
    """
    a, b = _luma(content[None].float()), _luma(output[None].float())
    weight = torch.ones_like(a) if mask is None else mask.float().view_as(a)
    total = weight.sum().clamp_min(1e-8)
    ssim = float((_ssim_map(a, b) * weight).sum() / total)
    ga, gb = _sobel(a), _sobel(b)
    inner = ((ga * gb).sum(1, keepdim=True) * weight).sum()
    norms = ((ga**2).sum(1, keepdim=True) * weight).sum() * (
        (gb**2).sum(1, keepdim=True) * weight
    ).sum()
    edges = float((inner / norms.sqrt().clamp_min(1e-12)).clamp(0.0, 1.0))
    return {"ssim": ssim, "edges": edges, "fidelity": 0.5 * (ssim + edges)}


def _shrink(x: Tensor, region: Tensor | None) -> tuple[Tensor, Tensor | None]:
    h, w = x.shape[-2:]
    scale = min(1.0, _ANALYSIS_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(8, round(h * scale)), max(8, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        if region is not None:
            region = F.interpolate(region, size=size, mode="bilinear", align_corners=False)
    return x, region


def _features(image: Tensor, region: Tensor | None, generator: torch.Generator) -> list[Tensor]:
    """Colour samples and per-band patch samples of one [1, 3, H, W] image."""
    image, region = _shrink(image, region)
    lab = rgb_to_lab(image) / 100.0
    colour_keep = None if region is None else region.flatten() > 0.5
    feats = [_sample(lab.flatten(2)[0].T, colour_keep, generator)]
    current = lab
    for _ in range(_LEVELS):
        if min(current.shape[-2:]) < 2 * _PATCH:
            break
        down = F.avg_pool2d(current, 2)
        band = current - F.interpolate(down, size=current.shape[-2:], mode="bilinear")
        patches = F.unfold(band, _PATCH)[0].T  # [L, 75]
        keep = None
        if region is not None:
            reg = F.interpolate(region, size=band.shape[-2:], mode="bilinear")
            keep = F.unfold(reg, _PATCH)[0].mean(0) > 0.5
        feats.append(_sample(patches, keep, generator))
        current = down
        if region is not None:
            region = F.avg_pool2d(region, 2)
    return feats


def _sample(rows: Tensor, keep: Tensor | None, generator: torch.Generator) -> Tensor:
    if keep is not None and int(keep.sum()) >= 16:
        rows = rows[keep]
    if rows.shape[0] > _MAX_SAMPLES:
        pick = torch.randperm(rows.shape[0], generator=generator)[:_MAX_SAMPLES]
        rows = rows[pick.to(rows.device)]
    return rows


def _sliced_wasserstein(a: Tensor, b: Tensor, generator: torch.Generator) -> float:
    """Sliced 2-Wasserstein distance between two point clouds [Na, d] and [Nb, d]."""
    dirs = torch.randn(a.shape[1], _PROJECTIONS, generator=generator).to(a.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa, _ = (a @ dirs).sort(0)
    pb, _ = (b @ dirs).sort(0)
    count = max(pa.shape[0], pb.shape[0])
    pa = F.interpolate(pa.T[None], size=count, mode="linear", align_corners=True)[0]
    pb = F.interpolate(pb.T[None], size=count, mode="linear", align_corners=True)[0]
    return float(((pa - pb) ** 2).mean().sqrt())


def style_distance(image: Tensor, style: Tensor, region: Tensor | None = None) -> float:
    """Mean sliced Wasserstein distance of colours and band patches, ``image`` to
    ``style`` (both [3, H, W] in [0, 1]); ``region`` [H, W] limits the image's side."""
    generator = torch.Generator().manual_seed(0)
    reg = None if region is None else region.float()[None, None]
    ours = _features(image[None].float(), reg, generator)
    theirs = _features(style[None].float(), None, generator)
    dists = [
        _sliced_wasserstein(a, b, torch.Generator().manual_seed(k))
        for k, (a, b) in enumerate(zip(ours, theirs, strict=False))
    ]
    return sum(dists) / len(dists)


@torch.inference_mode()
def quality_scores(
    content: Tensor,
    output: Tensor,
    style: Tensor,
    *,
    mask: Tensor | None = None,
    product_kept: bool = False,
) -> dict[str, float]:
    """All scores of one variant (see the module docstring), rounded to 4 places.

    ``content`` and ``output`` are [3, H, W], ``style`` [3, h, w], all in [0, 1];
    ``mask`` [H, W] is the product mask. ``product_kept`` measures style strength on
    the background only (the product was meant to stay as it is).
    """
    if content.shape != output.shape:
        raise ValueError(f"content {tuple(content.shape)} and output {tuple(output.shape)} differ")
    scores = content_fidelity(content, output, mask)
    region = None
    if mask is not None and product_kept and float((1 - mask).mean()) > 0.05:
        region = 1.0 - mask
    before = style_distance(content, style, region)
    after = style_distance(output, style, region)
    scores["style_distance"] = after
    scores["style_gap_closed"] = max(-1.0, min(1.0, 1.0 - after / max(before, 1e-8)))
    return {k: round(float(v), 4) for k, v in scores.items()}
