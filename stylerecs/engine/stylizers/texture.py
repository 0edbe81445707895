"""The "texture" stylizer: style transfer via texture synthesis, no learned weights.

M. Elad and P. Milanfar, "Style Transfer Via Texture Synthesis", IEEE Transactions on
Image Processing 26(5), 2017. The output starts as the content with the style's colours
plus noise and is refined coarse to fine; at every scale and patch size it repeats:

1. Patch matching: overlapping patches of the current estimate are matched to their
   nearest style patch. Distances are matrix products in a PCA space of the style's
   patches (so a batch of images is one GEMM, which a GPU runs well). When a style has
   more patches than ``max_patches`` the search is approximate: each iteration
   searches a different random subset, so over the iterations all are visited.
2. Robust aggregation: each pixel becomes the average of the matched patches covering
   it, weighted by ``||x - z||^(r - 2)`` (one IRLS step of an L_r fit, r = 0.8), so a
   poor match counts less than a good one (the paper's eq. 6-8).
3. Content fusion: ``x = (x + W c) / (1 + W)`` pulls the estimate toward the content
   where the content weight ``W`` is high; ``W`` follows the content's edges, so
   outlines stay and flat areas take the style's texture.
4. Colour transfer: per-channel histogram matching to the style.
5. Denoising: a small edge-preserving (bilateral) filter removes the blocking that
   patch averaging leaves, as the paper's domain-transform filter does.

Two steps the paper does not have. Averaging overlapping patches leaves about half the
style's fine-band energy, so a fine style (grass) came out as a colour grade: at the end
the Laplacian bands of the lightness are moved halfway toward the style's band
histograms (D. J. Heeger and J. R. Bergen, "Pyramid-Based Texture Analysis/Synthesis",
SIGGRAPH 1995). And a dark style (a deep-sky photo) would match the content's lightness
into near black, where the product can no longer be made out: the darker the style's
median, the more of the content's own lightness histogram is kept and the more of its
fine luminance detail is added back.

``alpha`` blends the result with the content (0 returns the content exactly);
``preserve_color`` keeps the content's chroma (CIE Lab a*, b*) under the synthesised
lightness. Images larger than ``work_side`` are synthesised at that size and their own
fine detail above it is added back, so 1024 px variants cost little more than 512 px.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..colorspace import lab_to_rgb, rgb_to_lab
from .base import StyleState, Stylizer
from .texture_tone import (
    histogram_match,
    luma_bands,
    match_bands,
    opponent,
    style_darkness,
    target_quantiles,
)

__all__ = ["TextureStylizer"]

# Patch sizes per scale, finest scale first; each scale runs its sizes large to small.
# The finest scale ends at 5 px: moss's grass blades are a few pixels wide at 512 px.
_PATCHES = ((13, 9, 5), (15, 9), (17, 11))
_IRLS_R = 0.8  # the paper's robust exponent
# Weights are raised to this power: a plain average of overlapping matches blurs the
# style's fine texture away over the iterations (measured: a third of the detail).
_SHARPEN = 4.0
_QUERY_CHUNK = 1024  # query patches per distance matrix: it stays in cache
# Patch averaging leaves the synthesis with half the style's fine-band energy (moss:
# 0.016 against 0.039 in the finest lightness band), so the finest bands are then pulled
# toward the style's histograms (Heeger & Bergen) by this share (tuned on the val split).
_BANDS = 3
_BAND_MATCH = 0.5
# The darker the style (texture_tone.style_darkness), the more of the content's fine luminance
# detail is added back, up to _DARK_DETAIL; tuned on the val split's dark pair.
_DARK_DETAIL = 1.0
_DETAIL_SIZE = 7  # box side of the blur whose residual is the detail added back
_GAP = 0.6  # step between query patches, in patch sizes (the paper's is 0.55-0.85)


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    smaller = size[0] < x.shape[-2]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=smaller)


def _scale_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Image sizes from finest (the input) to coarsest, halving each level."""
    sizes = [(height, width)]
    for _ in range(levels - 1):
        h, w = sizes[-1]
        if min(h, w) < 64:
            break
        sizes.append((max(1, h // 2), max(1, w // 2)))
    return sizes


def _pad_for(length: int, patch: int, gap: int) -> int:
    """Padding that makes patches of ``patch`` at step ``gap`` end exactly on the border."""
    if length <= patch:
        return patch - length
    return (-(length - patch)) % gap


def _style_patches(style: Tensor, patch: int, index: Tensor) -> Tensor:
    """Rows ``index`` of ``F.unfold(style, patch, stride=patch // 4)`` without unfolding
    all of it (at 5 px and stride 1 that is 80 MB per step for a 512 px style)."""
    stride = max(1, patch // 4)
    cols = (style.shape[-1] - patch) // stride + 1
    offsets = torch.arange(patch, device=style.device)
    rows = ((index // cols) * stride)[:, None] + offsets  # [K, patch]
    columns = ((index % cols) * stride)[:, None] + offsets
    picked = style[:, rows[:, :, None], columns[:, None, :]]  # [C, K, patch, patch]
    return picked.transpose(0, 1).reshape(index.shape[0], -1)


def _bilateral(x: Tensor, sigma_range: float) -> Tensor:
    """3 x 3 bilateral filter of [N, 3, H, W]: smooths blocking, keeps edges."""
    n, c, h, w = x.shape
    neighbours = F.unfold(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3).view(n, c, 9, h, w)
    spatial = torch.tensor([0.5, 1, 0.5, 1, 1, 1, 0.5, 1, 0.5], dtype=x.dtype, device=x.device)
    diff = ((neighbours - x.unsqueeze(2)) ** 2).sum(1, keepdim=True)
    weight = spatial.view(1, 1, 9, 1, 1) * torch.exp(-diff / (2 * sigma_range**2))
    return (neighbours * weight).sum(2) / weight.sum(2)


def _edge_weight(content: Tensor) -> Tensor:
    """Content-fusion mask [N, 1, H, W] in [0, 1]: high on the content's edges."""
    grey = content.mean(1, keepdim=True)
    gx = grey[..., :, 1:] - grey[..., :, :-1]
    gy = grey[..., 1:, :] - grey[..., :-1, :]
    mag = F.pad(gx.abs(), (0, 1, 0, 0)) + F.pad(gy.abs(), (0, 0, 0, 1))
    mag = F.avg_pool2d(mag, 5, stride=1, padding=2, count_include_pad=False)
    scale = mag.flatten(1).quantile(0.9, dim=1).clamp_min(1e-4).view(-1, 1, 1, 1)
    return (mag / scale).clamp(0.0, 1.0)


class TextureStylizer(Stylizer):
    """Example-based style transfer by multi-scale patch synthesis (Elad & Milanfar).

    Options: ``levels`` (scales, default 3), ``iterations`` per patch size (default 2),
    ``content_weight`` (content fusion on edges, default 1.0; flat areas get a tenth of
    it), ``noise`` (std of the noise added at each scale, default 0.3), ``pca_dims``
    (default 32),
    ``max_patches`` (style patches searched per iteration, default 6144), ``work_side``
    (long side synthesised, default 512), ``style_side`` (long side the style is
    analysed at, default 512), ``denoise`` (bilateral range sigma, 0 to skip, default
    0.05) and ``seed`` (default 0: the same inputs give the same output).
    """

    name = "texture"

    def __init__(
        self,
        *,
        device: torch.device | str | None = None,
        levels: int = 3,
        iterations: int = 2,
        content_weight: float = 1.0,
        noise: float = 0.3,
        pca_dims: int = 32,
        max_patches: int = 6144,
        work_side: int = 512,
        style_side: int = 512,
        denoise: float = 0.05,
        seed: int = 0,
        **options,
    ) -> None:
        super().__init__(device=device, **options)
        checks = {
            "levels": (levels, 1, len(_PATCHES)),
            "iterations": (iterations, 1, 10),
            "pca_dims": (pca_dims, 4, 512),
            "max_patches": (max_patches, 64, 1 << 20),
            "work_side": (work_side, 64, 4096),
            "style_side": (style_side, 64, 4096),
        }
        for label, (value, low, high) in checks.items():
            if not low <= int(value) <= high:
                raise ValueError(f"{label} must be in {low}..{high}, got {value}")
        for label, value in {"content_weight": content_weight, "noise": noise}.items():
            if not 0.0 <= float(value) <= 100.0:
                raise ValueError(f"{label} must be in [0, 100], got {value}")
        if not 0.0 <= float(denoise) <= 1.0:
            raise ValueError(f"denoise must be in [0, 1], got {denoise}")
        self.levels = int(levels)
        self.iterations = int(iterations)
        self.content_weight = float(content_weight)
        self.noise = float(noise)
        self.pca_dims = int(pca_dims)
        self.max_patches = int(max_patches)
        self.work_side = int(work_side)
        self.style_side = int(style_side)
        self.denoise = float(denoise)
        self.seed = int(seed)

    # Style analysis ----------------------------------------------------------------

    @torch.inference_mode()
    def prepare_style(self, image: Tensor) -> StyleState:
        """The style's pyramid, colour quantiles and a PCA of its patches per scale."""
        image = self.check_image(image).to(self.device, torch.float32).clamp(0, 1)[None]
        height, width = image.shape[-2:]
        scale = min(1.0, self.style_side / max(height, width))
        size = (max(16, round(height * scale)), max(16, round(width * scale)))
        image = _resize(image, size)
        tensors: dict[str, Tensor] = {}
        probs = torch.linspace(0, 1, 1024, device=self.device)
        tensors["quantiles"] = opponent(image)[0].flatten(1).quantile(probs, dim=1).T.contiguous()
        sizes = _scale_sizes(*size, self.levels)
        for level, level_size in enumerate(sizes):
            style = _resize(image, level_size)
            tensors[f"image{level}"] = style[0]
            for patch in _PATCHES[level]:
                if min(level_size) < patch:
                    continue
                flat = F.unfold(style, patch, stride=max(1, patch // 4))[0].T  # [M, d]
                mean = flat.mean(0)
                # The basis comes from a subset: it only has to span the patches' main
                # directions, and the SVD of every patch would cost more than the search.
                generator = torch.Generator().manual_seed(self.seed + level * 100 + patch)
                pick = torch.randperm(flat.shape[0], generator=generator)[:4096]
                k = min(self.pca_dims, flat.shape[1], len(pick))
                _, _, v = torch.linalg.svd(flat[pick.to(self.device)] - mean, full_matrices=False)
                basis = v[:k].T.contiguous()
                key = f"{level}_{patch}"
                tensors[f"mean{key}"] = mean
                tensors[f"basis{key}"] = basis
                tensors[f"proj{key}"] = (flat - mean) @ basis
        bands, _ = luma_bands(image, _BANDS)
        tensors["bands"] = torch.stack([b.flatten().quantile(probs) for b in bands])
        meta = {"levels": len(sizes)}
        return StyleState(method=self.name, tensors=tensors, meta=meta)

    # Synthesis ---------------------------------------------------------------------

    @torch.inference_mode()
    def stylize(
        self,
        batch: Tensor,
        style_state: StyleState,
        *,
        alpha: float = 1.0,
        preserve_color: bool = False,
    ) -> Tensor:
        """Restyle ``batch`` [N, 3, H, W] in [0, 1] with a prepared texture style."""
        alpha = self.check_alpha(alpha)
        batch = self.check_batch(batch)
        state = self.check_state(style_state)
        content = batch.to(self.device, torch.float32).clamp(0.0, 1.0)
        if alpha == 0.0 or content.shape[0] == 0:
            return content.clone()
        height, width = content.shape[-2:]
        scale = min(1.0, self.work_side / max(height, width))
        work_size = (max(16, round(height * scale)), max(16, round(width * scale)))
        work = _resize(content, work_size)
        styled = self._synthesise(work, state)
        if work_size != (height, width):
            # Synthesised at work size; the content's own finer detail comes back on top.
            detail = content - _resize(_resize(content, work_size), (height, width))
            styled = _resize(styled, (height, width)) + detail
        styled = styled.clamp(0.0, 1.0)
        if preserve_color:
            lab = rgb_to_lab(styled)
            lab[:, 1:] = rgb_to_lab(content)[:, 1:]
            styled = lab_to_rgb(lab)
        return torch.lerp(content, styled, alpha).clamp(0.0, 1.0)

    def _synthesise(self, content: Tensor, state: StyleState) -> Tensor:
        sizes = _scale_sizes(*content.shape[-2:], min(self.levels, state.meta["levels"]))
        darkness = style_darkness(state["quantiles"])
        quantiles = target_quantiles(content, state["quantiles"], darkness)
        x = histogram_match(_resize(content, sizes[-1]), quantiles)
        for level in reversed(range(len(sizes))):
            c = _resize(content, sizes[level])
            # Fresh noise at every scale: without it flat areas of the content match the
            # style's flattest patches and stay flat (no texture appears). One seeded
            # field per scale, the same for every image, so batching changes nothing.
            generator = torch.Generator().manual_seed(self.seed + level)
            noise = torch.randn((1, 3, *sizes[level]), generator=generator).to(self.device)
            x = _resize(x, sizes[level]) + self.noise * noise
            weight = self.content_weight * (0.1 + 0.9 * _edge_weight(c))
            for patch in _PATCHES[level]:
                key = f"{level}_{patch}"
                if f"proj{key}" not in state.tensors or min(sizes[level]) < patch:
                    continue
                for _ in range(self.iterations):
                    x = self._aggregate(x, state, level, patch, generator)
                    x = (x + weight * c) / (1.0 + weight)
                    x = histogram_match(x, quantiles)
                if self.denoise > 0:
                    x = _bilateral(x, self.denoise)
        if "bands" in state.tensors:  # states prepared before band matching lack them
            x = histogram_match(match_bands(x, state["bands"], _BAND_MATCH), quantiles)
        if darkness > 0:
            grey = content.mean(1, keepdim=True)
            pad = _DETAIL_SIZE // 2
            blur = F.avg_pool2d(grey, _DETAIL_SIZE, stride=1, padding=pad, count_include_pad=False)
            x = x + _DARK_DETAIL * darkness * (grey - blur)
        return x

    def _aggregate(
        self, x: Tensor, state: StyleState, level: int, patch: int, generator: torch.Generator
    ) -> Tensor:
        """One patch-matching and robust-aggregation step at one scale and patch size."""
        key = f"{level}_{patch}"
        n, c, h, w = x.shape
        gap = max(1, round(patch * _GAP))
        pad_h, pad_w = _pad_for(h, patch, gap), _pad_for(w, patch, gap)
        mode = "reflect" if max(pad_h, pad_w) < min(h, w) else "replicate"
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        size = padded.shape[-2:]
        queries = F.unfold(padded, patch, stride=gap)  # [N, d, L]
        length = queries.shape[-1]
        queries = queries.transpose(1, 2).reshape(n * length, -1)

        proj, mean, basis = state[f"proj{key}"], state[f"mean{key}"], state[f"basis{key}"]
        candidates = torch.arange(proj.shape[0], device=self.device)
        if proj.shape[0] > self.max_patches:
            # Approximate search: a fresh random subset each call covers the whole set
            # over the iterations at a fraction of the cost.
            pick = torch.randperm(proj.shape[0], generator=generator)[: self.max_patches]
            candidates = pick.to(self.device)
        cand_proj = proj[candidates]
        cand_norm = (cand_proj**2).sum(1)
        cand_t = cand_proj.T.contiguous()
        q_proj = (queries - mean) @ basis
        best = torch.empty(q_proj.shape[0], dtype=torch.long, device=self.device)
        for start in range(0, q_proj.shape[0], _QUERY_CHUNK):
            part = q_proj[start : start + _QUERY_CHUNK]
            # ||q||^2 is the same for every candidate, so it is left out of the argmin.
            dist = torch.addmm(cand_norm, part, cand_t, alpha=-2.0)
            best[start : start + _QUERY_CHUNK] = dist.argmin(1)
        style = state[f"image{level}"][None]
        matched = _style_patches(style[0], patch, candidates[best])  # [N*L, d]

        residual = ((queries - matched) ** 2).mean(1)
        robust = (residual + 1e-4).pow((_IRLS_R - 2.0) / 2.0).view(n, 1, length)
        # Scaled per image, so an image's result does not depend on its batch.
        robust = robust / robust.amax(dim=2, keepdim=True)
        robust = robust.pow(_SHARPEN).clamp_min(1e-6)
        matched = matched.view(n, length, -1).transpose(1, 2)
        summed = F.fold(matched * robust, size, patch, stride=gap)
        norm = F.fold(robust.expand(n, patch * patch, length).contiguous(), size, patch, stride=gap)
        out = summed / norm.clamp_min(1e-8)
        return out[..., :h, :w]
