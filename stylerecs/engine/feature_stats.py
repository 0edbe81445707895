"""Feature statistics for style transfer: per-channel mean and std, AdaIN, colour matching.

X. Huang and S. Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017 (AdaIN, eq. 8); L. Gatys et al., "Controlling Perceptual
Factors in Neural Style Transfer", CVPR 2017 (colour preservation by matching the
style image's colour mean and covariance to the content's). Used by the adain stylizer
and by decoder training (its mean/std style loss).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["EPS", "adain", "match_color", "mean_std"]

EPS = 1e-5  # added to the variance, as in the authors' code


def mean_std(features: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and std over positions of [N, C, H, W], in float32.

    std = sqrt(unbiased variance + eps).
    """
    flat = features.float().flatten(2)
    var = flat.var(dim=2, unbiased=True) if flat.shape[2] > 1 else torch.zeros_like(flat[..., 0])
    return flat.mean(dim=2), (var + eps).sqrt()


def adain(
    content: Tensor,
    style_mean: Tensor,
    style_std: Tensor,
    *,
    content_mean: Tensor | None = None,
    content_std: Tensor | None = None,
) -> Tensor:
    """AdaIN of content features [N, C, H, W] to the style's mean and std ([N, C] or [C]).

    ``content_mean`` / ``content_std`` override the content's own statistics (used when
    the features are one tile of a larger image). Computed in float32 at least.
    """
    dtype = torch.promote_types(content.dtype, torch.float32)
    x = content.to(dtype)
    if content_mean is None or content_std is None:
        content_mean, content_std = mean_std(x)
    n, c = x.shape[:2]

    def view(t: Tensor) -> Tensor:
        return t.to(dtype).expand(n, c).reshape(n, c, 1, 1)

    normalised = (x - view(content_mean)) / view(content_std)
    return normalised * view(style_std) + view(style_mean)


def _sym_power(m: Tensor, power: float) -> Tensor:
    values, vectors = torch.linalg.eigh(m)
    return vectors @ torch.diag_embed(values.clamp_min(1e-12) ** power) @ vectors.mT


def match_color(source: Tensor, target: Tensor, *, eps: float = EPS) -> Tensor:
    """Recolour ``source`` [3, h, w] so its RGB mean and covariance equal ``target``'s.

    x' = C_t^1/2 C_s^-1/2 (x - mu_s) + mu_t, with symmetric matrix square roots (the
    colour preservation of Gatys et al. 2017 used by the AdaIN paper). Not clamped:
    the encoder takes values slightly outside [0, 1].
    """
    src = source.double().flatten(1)
    tgt = target.double().flatten(1)
    mu_s, mu_t = src.mean(1, keepdim=True), tgt.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=src.dtype, device=src.device)
    cov_s = torch.cov(src) + eps * eye
    cov_t = torch.cov(tgt) + eps * eye
    transform = _sym_power(cov_t, 0.5) @ _sym_power(cov_s, -0.5)
    out = transform @ (src - mu_s) + mu_t
    return out.view_as(source).to(source.dtype)
