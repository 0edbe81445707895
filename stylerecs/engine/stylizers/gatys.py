"""The "gatys" stylizer: style transfer by optimising the image itself.

L. A. Gatys, A. S. Ecker and M. Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016. Starting from the content photo, the pixels are optimised so that

- its deep VGG-19 features (relu4_2 where the encoder has it, else relu4_1) stay those of
  the content (content loss),
- the Gram matrices (channel correlations) of relu1_1, relu2_1, relu3_1, relu4_1 and
  relu5_1 become those of the style image (style loss),
- neighbouring pixels stay close (total-variation loss; A. Mahendran and A. Vedaldi,
  "Understanding Deep Image Representations by Inverting Them", CVPR 2015).

Each loss is divided by the energy of its target, so the losses are dimensionless and
the same weights work for both encoder layouts (whose activations differ in scale by
orders of magnitude): a style loss of 0.01 means the Grams are within 10 % of the style's.

``preserve_color`` follows L. A. Gatys, M. Bethge, A. Hertzmann and E. Shechtman,
"Preserving Color in Neural Artistic Style Transfer", arXiv:1606.05897 (2016), section
2.2: the transfer runs on lightness alone (grey images with the Lab lightness of content
and style); the result's lightness, matched to the content's mean and spread, is then
recombined with the content's own a*b* colour.

This is the slowest backend by far (hundreds of forward and backward passes per
image): meant for hero images, at modest sizes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..colorspace import lab_to_rgb, rgb_to_lab
from ..loading import load_encoder
from ..vgg import Encoder
from .base import StyleState, Stylizer, WeightsMissing

__all__ = ["DEFAULT_STYLE_LAYERS", "GatysStylizer", "ProgressCallback"]

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_CONTENT_LAYERS = ("relu4_2", "relu4_1")  # the paper's choice first
_OPTIMIZERS = ("adam", "lbfgs")
_SETTING = 'STYLERECS["WEIGHTS"]["vgg19"] (CLI: --encoder-weights)'

ProgressCallback = Callable[[int, int, dict[str, float]], None]
"""progress(step, total, losses): ``step`` counts from 1 to ``total``; ``losses`` holds
the unweighted terms "content", "style", "tv" and the weighted "total", summed over the
batch (Adam: as evaluated before that step's update; LBFGS: after that iteration). An
LBFGS batch is optimised image by image, so its ``total`` is steps x images."""


def gram(features: Tensor) -> Tensor:
    """Gram matrices [N, C, C] of features [N, C, H, W], divided by H * W."""
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def _grey(lightness: Tensor) -> Tensor:
    """The sRGB grey image [N, 3, H, W] with Lab lightness ``lightness`` [N, 1, H, W]."""
    return lab_to_rgb(torch.cat((lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)), 1))


class GatysStylizer(Stylizer):
    """Optimisation-based style transfer on VGG-19 features.

    Options: ``encoder_weights`` (path to VGG-19 weights, either the torchvision
    ``vgg19-dcbb9e9d.pth`` or the AdaIN ``vgg_normalised.pth``; required),
    ``encoder_format`` (None to detect), ``steps`` (default 200), ``optimizer``
    (``"adam"``, default, or ``"lbfgs"``), ``lr`` (default 0.02 for Adam, 1 for LBFGS),
    ``content_weight`` (1), ``style_weight`` (10), ``tv_weight`` (10), ``style_side``
    (long side the style is analysed at, default 512), ``style_layers`` and
    ``content_layer`` (layer names; defaults in the module docstring) and ``progress``
    (a :data:`ProgressCallback`; ``stylize(progress=...)`` overrides it per call).
    """

    name = "gatys"
    needs_weights = True

    def __init__(
        self,
        *,
        device: torch.device | str | None = None,
        encoder_weights: str | os.PathLike[str] | None = None,
        encoder_format: str | None = None,
        steps: int = 200,
        optimizer: str = "adam",
        lr: float | None = None,
        content_weight: float = 1.0,
        style_weight: float = 10.0,
        tv_weight: float = 10.0,
        style_side: int = 512,
        style_layers: tuple[str, ...] | list[str] | None = None,
        content_layer: str | None = None,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> None:
        super().__init__(device=device, **options)
        if int(steps) < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
        for label, value in (
            ("content_weight", content_weight),
            ("style_weight", style_weight),
            ("tv_weight", tv_weight),
        ):
            if not float(value) >= 0.0:
                raise ValueError(f"{label} must be >= 0, got {value}")
        if lr is not None and not float(lr) > 0.0:
            raise ValueError(f"lr must be positive, got {lr}")
        if int(style_side) < 16:
            raise ValueError(f"style_side must be at least 16, got {style_side}")
        if not encoder_weights or not Path(encoder_weights).is_file():
            raise WeightsMissing(
                self.name,
                str(encoder_weights or "(no encoder_weights given)"),
                setting=_SETTING,
                hint="install VGG-19 weights (vgg19-dcbb9e9d.pth); see docs/WEIGHTS.md",
            )
        self.encoder: Encoder = load_encoder(
            encoder_weights, format=encoder_format, device=self.device
        )
        self.steps = int(steps)
        self.optimizer = optimizer
        self.lr = float(lr) if lr is not None else (0.02 if optimizer == "adam" else 1.0)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.style_side = int(style_side)
        self.style_layers = self._pick_style_layers(style_layers)
        self.content_layer = self._pick_content_layer(content_layer)
        self.progress = progress

    def _pick_style_layers(self, layers) -> tuple[str, ...]:
        if layers is None:
            # As far as the encoder reaches.
            return tuple(name for name in DEFAULT_STYLE_LAYERS if name in self.encoder.index)
        layers = tuple(layers)
        unknown = [name for name in layers if name not in self.encoder.index]
        if not layers or unknown:
            raise ValueError(f"style_layers must be known VGG layers; unknown: {unknown}")
        return layers

    def _pick_content_layer(self, layer: str | None) -> str:
        if layer is None:
            return next(name for name in _CONTENT_LAYERS if name in self.encoder.index)
        if layer not in self.encoder.index:
            raise ValueError(f"unknown content_layer {layer!r}")
        return layer

    # Style ---------------------------------------------------------------------------

    def prepare_style(self, image: Tensor) -> StyleState:
        """The style's Gram matrices, in colour and on lightness alone (for
        ``preserve_color``), at ``style_side``. Computed once per style."""
        image = self.check_image(image)
        with torch.inference_mode(False), torch.no_grad():
            # A clone made outside inference mode, so later autograd may use it.
            style = image.detach().clone().to(self.device, torch.float32).unsqueeze(0)
            height, width = style.shape[-2:]
            if max(height, width) > self.style_side:
                scale = self.style_side / max(height, width)
                size = (max(1, round(height * scale)), max(1, round(width * scale)))
                style = F.interpolate(style, size=size, mode="bilinear", antialias=True)
            style = style.clamp(0.0, 1.0)
            lightness = rgb_to_lab(style)[:, :1]
            tensors: dict[str, Tensor] = {}
            for prefix, source in (("gram", style), ("luma_gram", _grey(lightness))):
                features = self.encoder.features(source, self.style_layers)
                for name, feature in features.items():
                    tensors[f"{prefix}:{name}"] = gram(feature)[0]
        meta = {"style_layers": self.style_layers, "size": tuple(style.shape[-2:])}
        return StyleState(method=self.name, tensors=tensors, meta=meta)

    # Stylize -------------------------------------------------------------------------

    def stylize(
        self,
        batch: Tensor,
        style_state: StyleState,
        *,
        alpha: float = 1.0,
        preserve_color: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Tensor:
        """Optimise each image of ``batch`` [N, 3, H, W] in [0, 1] toward the style.

        ``alpha`` blends the result with the content (0 returns the content, without
        optimising). Works even when called under ``torch.inference_mode()``.
        """
        alpha = self.check_alpha(alpha)
        batch = self.check_batch(batch)
        if style_state.method != self.name:
            raise ValueError(f"style state was prepared by {style_state.method!r}, not gatys")
        missing = [n for n in self.style_layers if f"gram:{n}" not in style_state.tensors]
        if missing:
            raise ValueError(f"style state lacks Grams for {missing}: prepare it again")
        progress = progress or self.progress
        with torch.inference_mode(False), torch.enable_grad():
            content = batch.detach().clone().to(self.device, torch.float32).clamp(0.0, 1.0)
            if alpha == 0.0 or content.shape[0] == 0:
                return content
            prefix = "luma_gram" if preserve_color else "gram"
            grams = {
                name: style_state[f"{prefix}:{name}"].detach().clone().to(self.device)
                for name in self.style_layers
            }
            if preserve_color:
                lab = rgb_to_lab(content)
                result = self._optimise(_grey(lab[:, :1]), grams, progress)
                result = self._recolour(result, lab)
            else:
                result = self._optimise(content, grams, progress)
            return torch.lerp(content, result, alpha).clamp(0.0, 1.0).detach()

    def _recolour(self, result: Tensor, content_lab: Tensor) -> Tensor:
        """Result lightness matched to the content's mean and spread, content colour."""
        lightness = rgb_to_lab(result)[:, :1]
        mean_r = lightness.mean(dim=(2, 3), keepdim=True)
        std_r = lightness.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)
        mean_c = content_lab[:, :1].mean(dim=(2, 3), keepdim=True)
        std_c = content_lab[:, :1].std(dim=(2, 3), keepdim=True)
        matched = ((lightness - mean_r) * (std_c / std_r) + mean_c).clamp(0.0, 100.0)
        return lab_to_rgb(torch.cat((matched, content_lab[:, 1:]), dim=1))

    def _losses(self, x: Tensor, target: Tensor, target_energy: Tensor, grams) -> dict:
        """Per-image loss terms [N] of the current image ``x``."""
        wanted = (*self.style_layers, self.content_layer)
        features = self.encoder.features(x, wanted)
        content = (features[self.content_layer] - target).square().mean(dim=(1, 2, 3))
        content = content / target_energy
        style = x.new_zeros(x.shape[0])
        for name in self.style_layers:
            target_gram = grams[name]
            diff = (gram(features[name]) - target_gram).square().sum(dim=(1, 2))
            style = style + diff / target_gram.square().sum().clamp_min(1e-12)
        style = style / len(self.style_layers)
        tv = (x[..., 1:, :] - x[..., :-1, :]).square().mean(dim=(1, 2, 3)) + (
            x[..., :, 1:] - x[..., :, :-1]
        ).square().mean(dim=(1, 2, 3))
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}

    def _optimise(
        self, start: Tensor, grams: dict[str, Tensor], progress: ProgressCallback | None
    ) -> Tensor:
        with torch.no_grad():
            target = self.encoder.features(start, (self.content_layer,))[self.content_layer]
            energy = target.square().mean(dim=(1, 2, 3)).clamp_min(1e-12)
        if self.optimizer == "adam":
            return self._adam(start, target, energy, grams, progress)
        # LBFGS couples the images of a batch through its line search: one at a time.
        total = self.steps * start.shape[0]
        outputs = []
        for i in range(start.shape[0]):
            one = slice(i, i + 1)
            outputs.append(
                self._lbfgs(
                    start[one], target[one], energy[one], grams, progress, i * self.steps, total
                )
            )
        return torch.cat(outputs)

    @staticmethod
    def _report(progress, step: int, total: int, losses: dict[str, Tensor]) -> None:
        if progress is not None:
            progress(step, total, {k: float(v.detach().sum()) for k, v in losses.items()})

    def _adam(self, start, target, energy, grams, progress) -> Tensor:
        # Adam updates every pixel on its own, so a batch is N independent optimisations.
        x = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=self.lr)
        for step in range(1, self.steps + 1):
            optimizer.zero_grad(set_to_none=True)
            losses = self._losses(x, target, energy, grams)
            losses["total"].sum().backward()
            self._report(progress, step, self.steps, losses)
            optimizer.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)  # projected gradient: stay a valid image
        return x.detach()

    def _lbfgs(self, start, target, energy, grams, progress, done: int, total: int) -> Tensor:
        x = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)
        optimizer = torch.optim.LBFGS(
            [x], lr=self.lr, max_iter=1, history_size=20, line_search_fn="strong_wolfe"
        )
        latest: dict[str, Tensor] = {}

        def closure() -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            losses = self._losses(x, target, energy, grams)
            loss = losses["total"].sum()
            loss.backward()
            latest.clear()
            latest.update(losses)
            return loss

        for step in range(1, self.steps + 1):
            optimizer.step(closure)  # one iteration; its history carries over
            self._report(progress, done + step, total, latest)
        # Clamped once at the end: clamping between iterations would break the
        # curvature pairs LBFGS relies on.
        return x.detach().clamp(0.0, 1.0)
