"""The "adain" stylizer: arbitrary style transfer in one forward pass.

X. Huang and S. Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017. A fixed VGG-19 encoder maps the content and the style to
relu4_1 features; adaptive instance normalisation gives the content features the
style's per-channel mean and standard deviation,

    AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y),

and a trained decoder maps the result back to an image. ``alpha`` interpolates in
feature space, t = alpha * AdaIN(f_c, f_s) + (1 - alpha) * f_c (section 7), so alpha 0
gives decoder(encoder(content)), the decoder's reconstruction, not the content itself.
Several styles mix as sum_k w_k AdaIN(f_c, f_sk) with normalised weights (section 7);
because AdaIN is affine in (mu(y), sigma(y)) that equals AdaIN with the weighted mean
of the style statistics, which is how :func:`blend_states` stores it.
``preserve_color`` is the paper's colour control: the style image's colours are first
matched to the content's (mean and covariance of RGB, as in the authors' code), then
its statistics are taken.

The weights are the community PyTorch port's pair (``vgg_normalised.pth`` and
``decoder.pth``) or torchvision's VGG-19 with a decoder trained on it; see
:mod:`stylerecs.engine.checkpoints`.

Large images are processed in overlapping tiles; see :meth:`AdaINStylizer.stylize`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import checkpoints, loading
from ..feature_stats import EPS, adain, match_color, mean_std
from ..tiling import ALIGN as _ALIGN
from ..tiling import axis_tiles, axis_weights
from .base import StyleState, Stylizer, WeightsMissing

__all__ = [
    "EPS",
    "AdaINStylizer",
    "adain",
    "blend_states",
    "match_color",
    "mean_std",
]

_MIN_SIDE = 16  # below this the reflection pads at relu4_1 have nothing to reflect
_DEFAULT_TILE = {"cuda": 2048, "cpu": 1024}
# Keep the tiles' relu4_1 features between the statistics pass and the decoding pass
# while they fit in this many bytes; above it they are computed again.
_FEATURE_BUDGET = 1 << 30
# On the CPU batches of 1, 2 and 4 at 512 px ran at the same speed per image, within 5-20%
# (docs/BENCHMARKS.md); a larger batch only costs memory.
_CPU_BATCH_PIXELS = 2 * 512 * 512

_SETTINGS = {
    "encoder_weights": ("adain_encoder", "--encoder-weights"),
    "decoder_weights": ("adain_decoder", "--decoder-weights"),
}


def blend_states(items: Sequence[tuple[StyleState, float]]) -> StyleState:
    """Mix prepared adain styles: ``[(state, weight), ...]`` -> one state.

    Weights must be non-negative with a positive sum; they are normalised. Blended
    states blend again (weights multiply). ``[(a, 1), (b, 0)]`` stylizes exactly as
    ``a`` alone.
    """
    items = list(items)
    if not items:
        raise ValueError("blend at least one style")
    weights = [float(w) for _, w in items]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"style weights must be >= 0 with a positive sum, got {weights}")
    total = sum(weights)
    means, stds, ws, images = [], [], [], []
    for (state, _), weight in zip(items, weights, strict=True):
        if not isinstance(state, StyleState) or state.method != AdaINStylizer.name:
            method = getattr(state, "method", type(state).__name__)
            raise ValueError(f"can only blend adain style states, got {method!r}")
        device = items[0][0].device
        means.append(state["mean"].to(device))
        stds.append(state["std"].to(device))
        ws.append(state["weights"].to(device) * (weight / total))
        images += [state[f"image{k}"].to(device) for k in range(state["weights"].numel())]
    tensors = {
        "mean": torch.cat(means),
        "std": torch.cat(stds),
        "weights": torch.cat(ws),
        **{f"image{k}": image for k, image in enumerate(images)},
    }
    meta = dict(items[0][0].meta, styles=len(images))
    return StyleState(method=AdaINStylizer.name, tensors=tensors, meta=meta)


class AdaINStylizer(Stylizer):
    """AdaIN style transfer (Huang & Belongie, ICCV 2017) with a VGG-19 encoder.

    Options:

    ``encoder_weights``, ``decoder_weights``
        Paths of the encoder (``vgg_normalised.pth``, or torchvision's VGG-19) and of
        the decoder trained with it. Required; a missing file raises
        :class:`WeightsMissing` naming the setting to fix.
    ``style_size``
        Long side a style image is analysed at (downscaled only; 0 keeps it). 512 as in
        the authors' code: the size of the style's brush strokes depends on it.
    ``tile_size``, ``tile_overlap``
        Images whose long side exceeds ``tile_size`` (default 2048 on CUDA, 1024
        elsewhere) are processed in tiles overlapping by ``tile_overlap`` pixels
        (default 128).
    ``half``, ``channels_last``
        Precision and memory format; default half precision on CUDA only, and
        channels-last everywhere (it measured faster on CPU too).
    ``batch_pixels``
        Most pixels the pipeline stacks into one batch. On the CPU 2 x 512 x 512 by
        default: larger batches were no faster per image there (5-20% slower) and
        each 512 px image adds about 0.4 GB; unlimited on CUDA, where large batches
        pay and an out-of-memory batch is split.
    """

    name = "adain"
    needs_weights = True

    def __init__(
        self,
        *,
        device: torch.device | str | None = None,
        encoder_weights: str | os.PathLike[str] = "",
        decoder_weights: str | os.PathLike[str] = "",
        style_size: int = 512,
        tile_size: int = 0,
        tile_overlap: int = 128,
        half: bool | None = None,
        channels_last: bool | None = None,
        batch_pixels: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(device=device, **options)
        if batch_pixels is None:
            batch_pixels = _CPU_BATCH_PIXELS if self.device.type == "cpu" else 0
        if int(batch_pixels) < 0:
            raise ValueError(f"batch_pixels must be 0 (no limit) or positive, got {batch_pixels}")
        self.batch_pixels = int(batch_pixels) or None
        if int(style_size) < 0:
            raise ValueError(f"style_size must be 0 (keep) or positive, got {style_size}")
        overlap = int(tile_overlap)
        if overlap < 4 * _ALIGN or overlap % _ALIGN:
            raise ValueError(f"tile_overlap must be a multiple of 8, at least 32: {overlap}")
        tile = int(tile_size) or _DEFAULT_TILE.get(self.device.type, 1024)
        if tile < 2 * overlap:
            raise ValueError(f"tile_size must be at least twice tile_overlap ({2 * overlap})")
        self.style_size = int(style_size)
        self.tile_size = tile // _ALIGN * _ALIGN
        self.tile_overlap = overlap
        on_cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if (on_cuda if half is None else half) else torch.float32
        use_channels_last = True if channels_last is None else bool(channels_last)
        self.memory_format = torch.channels_last if use_channels_last else torch.contiguous_format
        self.encoder_path = self._weights_path("encoder_weights", encoder_weights)
        self.decoder_path = self._weights_path("decoder_weights", decoder_weights)
        load = {"device": self.device, "dtype": self.dtype, "memory_format": self.memory_format}
        self.encoder = loading.load_encoder(self.encoder_path, **load)
        self.decoder = loading.load_decoder(self.decoder_path, **load)

    def _weights_path(self, option: str, value: str | os.PathLike[str]) -> Path:
        key, flag = _SETTINGS[option]
        setting = f'STYLERECS["WEIGHTS"]["{key}"] (CLI: {flag})'
        spec = checkpoints.KNOWN[key]
        hint = f"install {spec.filename} ({spec.source_url}) or train one"
        if not value:
            raise WeightsMissing(self.name, f"({option} not set)", setting=setting, hint=hint)
        path = Path(value).expanduser()
        if not path.is_file():
            raise WeightsMissing(self.name, str(path), setting=setting, hint=hint)
        return path

    # Networks -----------------------------------------------------------------------

    def _encode(self, images: Tensor) -> Tensor:
        """relu4_1 of images [N, 3, H, W], in the networks' dtype (statistics and AdaIN
        are computed from it in float32)."""
        x = images.to(self.dtype).contiguous(memory_format=self.memory_format)
        return self.encoder(x)

    def _decode(self, features: Tensor) -> Tensor:
        x = features.to(self.dtype).contiguous(memory_format=self.memory_format)
        return self.decoder(x).float()

    # Styles -------------------------------------------------------------------------

    def _style_image(self, image: Tensor) -> Tensor:
        image = self.check_image(image).to(self.device, torch.float32).clamp(0.0, 1.0)
        height, width = image.shape[-2:]
        scale = 1.0
        if self.style_size and max(height, width) > self.style_size:
            scale = self.style_size / max(height, width)
        scale = max(scale, _MIN_SIDE * 2 / min(height, width))  # tiny styles grow
        if scale != 1.0:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            image = F.interpolate(
                image[None], size=size, mode="bilinear", antialias=scale < 1, align_corners=False
            )[0].clamp(0.0, 1.0)
        return image

    @torch.inference_mode()
    def prepare_style(self, image: Tensor) -> StyleState:
        """Encode the style once; keep its relu4_1 mean/std and the (small) image.

        The image is kept for ``preserve_color``, which recolours it per content.
        """
        image = self._style_image(image)
        mean, std = mean_std(self._encode(image[None]))
        tensors = {
            "mean": mean,
            "std": std,
            "weights": torch.ones(1, device=self.device),
            "image0": image,
        }
        meta = {"styles": 1, "encoder": self.encoder.layout, "style_size": self.style_size}
        return StyleState(method=self.name, tensors=tensors, meta=meta)

    def blend_styles(self, items: Sequence[tuple[StyleState, float]]) -> StyleState:
        """See :func:`blend_states`."""
        return blend_states(items)

    def _targets(self, content: Tensor, state: StyleState, preserve_color: bool):
        """The AdaIN target mean and std per content image, [N, C] each."""
        weights = state["weights"].float().view(-1, 1)
        if not preserve_color:
            mean = (weights * state["mean"].float()).sum(0)
            std = (weights * state["std"].float()).sum(0)
            n = content.shape[0]
            return mean.expand(n, -1), std.expand(n, -1)
        means, stds = [], []
        for image in content:
            recoloured = [match_color(state[f"image{k}"], image) for k in range(weights.shape[0])]
            stats = [mean_std(self._encode(r[None])) for r in recoloured]
            means.append((weights * torch.cat([m for m, _ in stats])).sum(0))
            stds.append((weights * torch.cat([s for _, s in stats])).sum(0))
        return torch.stack(means), torch.stack(stds)

    # Stylizing ----------------------------------------------------------------------

    @staticmethod
    def _mix(features, content_mean, content_std, target_mean, target_std, alpha) -> Tensor:
        """alpha * AdaIN(f_c, f_s) + (1 - alpha) * f_c (the paper's content-style trade-off)."""
        t = adain(
            features, target_mean, target_std, content_mean=content_mean, content_std=content_std
        )
        return t if alpha == 1.0 else alpha * t + (1.0 - alpha) * features

    def stylize(
        self,
        batch: Tensor,
        style_state: StyleState | Sequence[tuple[StyleState, float]],
        *,
        alpha: float = 1.0,
        preserve_color: bool = False,
        tile_size: int | None = None,
    ) -> Tensor:
        """Restyle ``batch`` [N, 3, H, W] in [0, 1]; ``style_state`` may be a list of
        ``(state, weight)`` pairs to blend.

        Images larger than the tile size are split into overlapping tiles aligned to
        8 pixels. The AdaIN statistics of the content are those of the WHOLE image: a
        first pass encodes every tile and merges the relu4_1 mean and variance of the
        part each tile owns (the owned parts partition the image, and each lies at
        least half an overlap from its tile's border, so these equal the untiled
        statistics up to the encoder's border effects). Statistics of a downscaled copy
        would be cheaper but differ, since VGG features depend on scale. A second pass
        decodes each tile and cross-fades them with raised-cosine weights.

        On CUDA out-of-memory a batch of several images is handed back to the caller
        (the pipeline splits it); a single image is retried with tiles half as large.
        """
        alpha = self.check_alpha(alpha)
        batch = self.check_batch(batch)
        if not isinstance(style_state, StyleState):
            style_state = blend_states(style_state)
        if style_state.method != self.name:
            raise ValueError(f"style state was prepared by {style_state.method!r}, not adain")
        tile = self.tile_size if tile_size is None else int(tile_size) // _ALIGN * _ALIGN
        if tile < 2 * self.tile_overlap:
            raise ValueError(f"tile_size must be at least {2 * self.tile_overlap}")
        while True:
            try:
                return self._stylize(batch, style_state, alpha, preserve_color, tile)
            except torch.cuda.OutOfMemoryError:
                if batch.shape[0] > 1 or tile <= 2 * self.tile_overlap:
                    raise
            # Outside the except block, so the failed attempt's tensors are freed.
            torch.cuda.empty_cache()
            longest = max(batch.shape[-2:]) + _ALIGN
            tile = max(2 * self.tile_overlap, min(tile, longest) // 2)
            tile = tile // _ALIGN * _ALIGN

    @torch.inference_mode()
    def _stylize(
        self, batch: Tensor, state: StyleState, alpha: float, preserve_color: bool, tile: int
    ) -> Tensor:
        content = batch.to(self.device, torch.float32).clamp(0.0, 1.0)
        n, _, height, width = content.shape
        if n == 0:
            return content.clone()
        state = state.to(self.device)
        target_mean, target_std = self._targets(content, state, preserve_color)

        # Pad to a multiple of 8 (at least 16) so pooling never rounds and tiles align.
        padded_h = max(_MIN_SIDE, -(-height // _ALIGN) * _ALIGN)
        padded_w = max(_MIN_SIDE, -(-width // _ALIGN) * _ALIGN)
        pad = (0, padded_w - width, 0, padded_h - height)
        mode = "reflect" if pad[1] < width and pad[3] < height else "replicate"
        image = F.pad(content, pad, mode=mode) if any(pad) else content

        rows = axis_tiles(padded_h, tile, self.tile_overlap)
        cols = axis_tiles(padded_w, tile, self.tile_overlap)
        row_w = [axis_weights(rows, i, device=self.device) for i in range(len(rows))]
        col_w = [axis_weights(cols, j, device=self.device) for j in range(len(cols))]
        grid = [(i, j) for i in range(len(rows)) for j in range(len(cols))]

        def crop(i: int, j: int) -> Tensor:
            (top, bottom), (left, right) = rows[i], cols[j]
            return image[:, :, top:bottom, left:right]

        if len(grid) == 1:
            features = self._encode(image)
            content_mean, content_std = mean_std(features)
            mixed = self._mix(features, content_mean, content_std, target_mean, target_std, alpha)
            out = self._decode(mixed)
            return out[:, :, :height, :width].clamp(0.0, 1.0).contiguous()

        # Pass 1: whole-image statistics of relu4_1, merged tile by tile (Chan et al.'s
        # pairwise update, in float64, so many tiles lose no precision).
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        keep = n * 512 * (tile // _ALIGN) ** 2 * itemsize * len(grid) <= _FEATURE_BUDGET
        kept: list[Tensor] = []
        count, mean, m2 = 0, None, None
        for i, j in grid:
            f = self._encode(crop(i, j))
            if keep:
                kept.append(f)
            (top, _), (left, _) = rows[i], cols[j]
            (own_top, own_bottom), (own_left, own_right) = row_w[i][1], col_w[j][1]
            owned = f[
                :,
                :,
                (own_top - top) // _ALIGN : (own_bottom - top) // _ALIGN,
                (own_left - left) // _ALIGN : (own_right - left) // _ALIGN,
            ].double()
            k = owned.shape[2] * owned.shape[3]
            tile_mean = owned.mean(dim=(2, 3))
            tile_m2 = ((owned - tile_mean[..., None, None]) ** 2).sum(dim=(2, 3))
            if mean is None or m2 is None:
                count, mean, m2 = k, tile_mean, tile_m2
                continue
            delta = tile_mean - mean
            total = count + k
            mean = mean + delta * (k / total)
            m2 = m2 + tile_m2 + delta**2 * (count * k / total)
            count = total
        assert mean is not None and m2 is not None
        content_mean = mean.float()
        content_std = (m2 / max(count - 1, 1) + EPS).sqrt().float()

        # Pass 2: AdaIN with the whole-image statistics, decode, cross-fade.
        out = torch.zeros(n, 3, padded_h, padded_w, device=self.device)
        total_weight = torch.zeros(1, 1, padded_h, padded_w, device=self.device)
        for index, (i, j) in enumerate(grid):
            f = kept[index] if keep else self._encode(crop(i, j))
            decoded = self._decode(
                self._mix(f, content_mean, content_std, target_mean, target_std, alpha)
            )
            (top, bottom), (left, right) = rows[i], cols[j]
            weight = row_w[i][0].view(1, 1, -1, 1) * col_w[j][0].view(1, 1, 1, -1)
            out[:, :, top:bottom, left:right] += decoded * weight
            total_weight[:, :, top:bottom, left:right] += weight
        out = out / total_weight.clamp_min(1e-8)
        return out[:, :, :height, :width].clamp(0.0, 1.0).contiguous()
