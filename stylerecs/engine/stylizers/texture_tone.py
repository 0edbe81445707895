"""Tone of the "texture" stylizer (stylerecs/engine/stylizers/texture.py): histogram
matching in an opponent colour basis, the Laplacian lightness bands matched toward the
style's (Heeger & Bergen), and how much of the content's own lightness a dark style
keeps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "histogram_match",
    "luma_bands",
    "match_bands",
    "opponent",
    "style_darkness",
    "target_quantiles",
]

# A dark style (median lightness under _DARK_MEDIAN) would match the content's lightness
# into near black, where SSIM sees no structure (the Hubble field: median 0.05). The
# darker the style, the more of the content's own lightness histogram is kept (up to
# _DARK_KEEP; texture.py adds back fine detail as well); tuned on the val split's dark
# pair.
_DARK_MEDIAN = 0.2
_DARK_KEEP = 0.15

# An orthonormal luma/chroma basis: matching histograms per RGB channel would invent
# colours (a grey style would tint the content by the channels' differing ranks).
_OPPONENT = (
    (0.5773502691896258, 0.5773502691896258, 0.5773502691896258),
    (0.7071067811865476, 0.0, -0.7071067811865476),
    (0.4082482904638631, -0.8164965809277260, 0.4082482904638631),
)


def opponent(x: Tensor, *, inverse: bool = False) -> Tensor:
    m = torch.tensor(_OPPONENT, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", m.T if inverse else m, x)


def histogram_match(x: Tensor, quantiles: Tensor) -> Tensor:
    """Give each opponent channel of RGB ``x`` [N, 3, H, W] the distribution of
    ``quantiles`` [3, Q] or, one per image, [N, 3, Q] (in the same channels)."""
    x = opponent(x)
    n, c, h, w = x.shape
    flat = x.reshape(n * c, h * w)
    order = flat.argsort(dim=1)
    if quantiles.dim() == 2:
        quantiles = quantiles[None]
    targets = F.interpolate(quantiles, size=h * w, mode="linear", align_corners=True)
    targets = targets.expand(n, c, h * w).reshape(n * c, h * w)
    out = torch.empty_like(flat)
    out.scatter_(1, order, targets)
    return opponent(out.view(n, c, h, w), inverse=True)


def style_darkness(quantiles: Tensor) -> float:
    """0 for a style of median lightness _DARK_MEDIAN or more, rising to 1 for black."""
    median = float(quantiles[0, quantiles.shape[1] // 2]) / 3**0.5  # lightness axis norm
    return min(1.0, max(0.0, 1.0 - median / _DARK_MEDIAN))


def target_quantiles(content: Tensor, quantiles: Tensor, darkness: float) -> Tensor:
    """The distributions [N, 3, Q] each image is matched to: the style's, with part of
    the image's own lightness histogram kept when the style is dark."""
    share = _DARK_KEEP * darkness
    out = quantiles[None].repeat(content.shape[0], 1, 1)
    if share > 0:
        probs = torch.linspace(0, 1, quantiles.shape[1], device=content.device)
        own = opponent(content)[:, 0].flatten(1).quantile(probs, dim=1).T  # [N, Q]
        out[:, 0] = torch.lerp(quantiles[0][None], own, share)
    return out


def luma_bands(x: Tensor, count: int) -> tuple[list[Tensor], Tensor]:
    """Laplacian bands [N, 1, h, w] of the opponent lightness of RGB ``x``, finest first,
    and the residual low-pass."""
    current = opponent(x)[:, :1]
    bands = []
    for _ in range(count):
        if min(current.shape[-2:]) < 16:
            break
        down = F.avg_pool2d(current, 2)
        bands.append(current - F.interpolate(down, size=current.shape[-2:], mode="bilinear"))
        current = down
    return bands, current


def match_bands(x: Tensor, band_quantiles: Tensor, strength: float) -> Tensor:
    """Move each lightness band of RGB ``x`` [N, 3, H, W] by ``strength`` toward the
    band's histogram ``band_quantiles`` [B, Q] (D. J. Heeger and J. R. Bergen,
    "Pyramid-Based Texture Analysis/Synthesis", SIGGRAPH 1995)."""
    bands, low = luma_bands(x, band_quantiles.shape[0])
    n = x.shape[0]
    for k in reversed(range(len(bands))):
        band = bands[k]
        flat = band.flatten(1)
        target = F.interpolate(
            band_quantiles[k].view(1, 1, -1), size=flat.shape[1], mode="linear", align_corners=True
        )
        matched = torch.empty_like(flat).scatter_(1, flat.argsort(dim=1), target[0].expand(n, -1))
        band = torch.lerp(band, matched.view_as(band), strength)
        low = F.interpolate(low, size=band.shape[-2:], mode="bilinear") + band
    # Only the lightness changes: it lies along (1, 1, 1) / sqrt(3) in RGB.
    return x + (low - opponent(x)[:, :1]) / 3**0.5
