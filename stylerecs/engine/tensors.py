"""Conversions between Pillow images and float tensors in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["pil_to_tensor", "stack_batch", "tensor_to_pil"]


def pil_to_tensor(img: Image.Image) -> Tensor:
    """Return ``img`` as a float32 tensor of shape [3, H, W] with values in [0, 1]."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    # asarray of a Pillow image is read-only; from_numpy wants a writable buffer.
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(t: Tensor) -> Image.Image:
    """Return a [3, H, W] tensor in [0, 1] as an 8-bit RGB image (clamped, rounded)."""
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a tensor of shape [3, H, W], got {tuple(t.shape)}")
    arr = (
        t.detach()
        .float()
        .clamp(0.0, 1.0)
        .mul(255.0)
        .round()
        .to(torch.uint8)
        .permute(1, 2, 0)
        .contiguous()
        .cpu()
        .numpy()
    )
    return Image.fromarray(arr)


def stack_batch(tensors: Sequence[Tensor]) -> Tensor:
    """Stack equally sized [3, H, W] tensors into one [N, 3, H, W] batch."""
    if not tensors:
        raise ValueError("cannot stack an empty list of images")
    shape = tensors[0].shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(f"images differ in size: {tuple(shape)} vs {tuple(t.shape)}")
    return torch.stack(list(tensors), dim=0)
