"""sRGB <-> CIE L*a*b* (D65) for batched tensors.

Lab separates lightness from colour and is close to perceptually uniform, which is why
colour statistics are matched there (Reinhard et al. 2001, "Color Transfer between
Images"). Formulas from IEC 61966-2-1 (sRGB) and CIE 15 (Lab), D65 white point.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lab_to_rgb", "rgb_to_lab"]

# Linear sRGB -> XYZ (D65), rows X, Y, Z.
_RGB_TO_XYZ = (
    (0.4123907992659595, 0.3575843393838780, 0.1804807884018343),
    (0.2126390058715104, 0.7151686787677559, 0.0721923153607337),
    (0.0193308187155918, 0.1191947797946259, 0.9505321522496606),
)
_XYZ_TO_RGB = (
    (3.2409699419045226, -1.5373831775700940, -0.4986107602930034),
    (-0.9692436362808796, 1.8759675015077202, 0.0415550574071756),
    (0.0556300796969937, -0.2039769588889765, 1.0569715142428786),
)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def _matrix(rows, like: Tensor) -> Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply_3x3(m: Tensor, x: Tensor) -> Tensor:
    """Apply a 3x3 matrix to the channel axis of [N, 3, H, W]."""
    return torch.einsum("ij,njhw->nihw", m, x)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """Convert sRGB in [0, 1], shape [N, 3, H, W], to Lab (L in 0..100, a/b about ±100)."""
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = _apply_3x3(_matrix(_RGB_TO_XYZ, rgb), linear)
    white = torch.tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(
        t > _DELTA**3, t.clamp_min(1e-12) ** (1.0 / 3.0), t / (3 * _DELTA**2) + 4.0 / 29.0
    )
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Convert Lab [N, 3, H, W] back to sRGB, clipped to [0, 1] (out-of-gamut clips)."""
    fy = (lab[:, 0] + 16.0) / 116.0
    fx = fy + lab[:, 1] / 500.0
    fz = fy - lab[:, 2] / 200.0
    f = torch.stack((fx, fy, fz), dim=1)
    t = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0))
    white = torch.tensor(_WHITE_D65, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    xyz = t * white
    linear = _apply_3x3(_matrix(_XYZ_TO_RGB, lab), xyz).clamp(0.0, 1.0)
    rgb = torch.where(
        linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055
    )
    return rgb.clamp(0.0, 1.0)
