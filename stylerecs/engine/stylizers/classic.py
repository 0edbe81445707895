"""The "classic" stylizer: colour and texture statistics transfer, no learned weights.

Three steps, all in CIE Lab, batched, deterministic:

1. Colour: the content's Lab pixel distribution is moved onto the style's by the
   linear Monge-Kantorovitch map, which matches mean and full 3x3 covariance with the
   least displacement (F. Pitié and A. Kokaram, "The linear Monge-Kantorovitch linear
   colour mapping for example-based colour transfer", IET CVMP 2007). It generalises
   the per-channel mean/std matching of E. Reinhard, M. Ashikhmin, B. Gooch and
   P. Shirley, "Color Transfer between Images", IEEE CG&A 2001, which is what
   ``preserve_color`` uses on lightness alone.
2. Detail contrast: lightness is split into a Laplacian pyramid (P. Burt and
   E. Adelson, "The Laplacian Pyramid as a Compact Image Code", IEEE Trans. Comm. 1983)
   and each band is rescaled toward the style's energy in that band, so a soft style
   softens and a gritty one sharpens.
3. Texture: a texture with the style's second-order statistics is mixed into the two
   finest bands at a fraction of the style's energy (the band energies still add up to
   the style's), so grain, canvas or noise show through. By default it is a random
   phase texture: each fine band of the style keeps its Fourier amplitude and takes a
   fixed pseudo-random phase (B. Galerne, Y. Gousseau and J.-M. Morel, "Random Phase
   Textures: Theory and Synthesis", IEEE TIP 2011), after removing the band's border
   discontinuity (L. Moisan, "Periodic plus Smooth Image Decomposition", JMIV 2011).
   Random phase keeps the look of a texture but none of the objects of a style
   *photo*, which would otherwise show as ghosts on the product. ``texture_mode="tile"``
   mirror-tiles the style's bands themselves instead: truer to strongly structured
   textures (brick, pebbles), but it ghosts the content of photographic styles.

``alpha`` blends the result with the content in RGB (0 returns the content exactly).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..colorspace import lab_to_rgb, rgb_to_lab
from .base import StyleState, Stylizer

__all__ = ["ClassicStylizer"]

# Burt & Adelson's 5-tap generating kernel (a = 0.375), applied separably.
_KERNEL_1D = (1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16)
# Coarsest pyramid level kept at least this many pixels on its short side.
_MIN_LEVEL_SIDE = 8
# How much of the texture share each band gets, finest first. Coarse bands of a style
# photo hold its objects (a face, a rocket), which would show as ghosts, so texture
# comes only from the two finest bands; coarse bands only have their energy matched.
_TEXTURE_PER_LEVEL = (1.0, 0.5)
_TEXTURE_MODES = ("spectrum", "tile")
# Pixels per chunk of a batch (cpu, cuda): see ClassicStylizer.stylize.
_CHUNK_PIXELS = (512 * 512, 32 * 1024 * 1024)
# Added to covariance diagonals (Lab units squared): keeps the map finite for flat or
# grey images instead of amplifying their noise without bound.
_COV_EPS = 1.0


def _blur(x: Tensor) -> Tensor:
    """Separable 5-tap Gaussian blur of [N, 1, H, W] with edge replication."""
    k = torch.tensor(_KERNEL_1D, dtype=x.dtype, device=x.device)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))


def _upsample(x: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _pyramid_levels(height: int, width: int, wanted: int) -> int:
    """How many band-pass levels fit while the coarsest stays >= _MIN_LEVEL_SIDE."""
    short = min(height, width)
    if short < 2 * _MIN_LEVEL_SIDE:
        return 0
    return max(0, min(wanted, int(math.floor(math.log2(short / _MIN_LEVEL_SIDE)))))


def _laplacian_pyramid(x: Tensor, levels: int) -> tuple[list[Tensor], Tensor]:
    """Split [N, 1, H, W] into ``levels`` band-pass images (fine first) and a low-pass."""
    bands = []
    current = x
    for _ in range(levels):
        down = _blur(current)[..., ::2, ::2]
        bands.append(current - _upsample(down, current.shape[-2:]))
        current = down
    return bands, current


def _reconstruct(bands: list[Tensor], low: Tensor) -> Tensor:
    """Invert :func:`_laplacian_pyramid` exactly (same upsampling both ways)."""
    x = low
    for band in reversed(bands):
        x = _upsample(x, band.shape[-2:]) + band
    return x


def _mirror_tile(tile: Tensor, size: tuple[int, int]) -> Tensor:
    """Cover ``size`` with ``tile`` [1, 1, h, w], flipping alternate copies.

    Mirrored copies meet at identical edges, so the repetition has no seams.
    """
    unit = torch.cat((tile, tile.flip(-1)), dim=-1)
    unit = torch.cat((unit, unit.flip(-2)), dim=-2)
    return _tile(unit, size)


def _periodic_component(u: Tensor) -> Tensor:
    """Moisan's periodic component of a 2-D image: ``u`` minus its smooth part.

    Without this the jump between opposite borders of the band becomes a bright cross
    in its spectrum, and streaks in the random phase texture.
    """
    h, w = u.shape
    v = torch.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = torch.arange(h, dtype=u.dtype, device=u.device).view(-1, 1)
    r = torch.arange(w, dtype=u.dtype, device=u.device).view(1, -1)
    denom = 2 * torch.cos(2 * math.pi * q / h) + 2 * torch.cos(2 * math.pi * r / w) - 4
    denom[0, 0] = 1.0  # the mean of the smooth part is free; it is set to zero below
    smooth_hat = torch.fft.fft2(v) / denom
    smooth_hat[0, 0] = 0
    return u - torch.fft.ifft2(smooth_hat).real


def _random_phase_texture(band: Tensor, seed: int) -> Tensor:
    """A texture with the Fourier amplitude of ``band`` [h, w] and a fixed random phase.

    The phase is that of seeded white noise, which is Hermitian-symmetric, so the result
    is real; the same seed gives the same texture on every device.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(band.shape, generator=generator, dtype=torch.float32)
    phase = torch.angle(torch.fft.rfft2(noise.to(band.device)))
    amplitude = torch.fft.rfft2(_periodic_component(band)).abs()
    amplitude[0, 0] = 0  # zero mean: the texture only adds detail
    texture = torch.fft.irfft2(amplitude * torch.exp(1j * phase), s=band.shape)
    # Removing the smooth part took some energy; give the band's energy back.
    return texture * (band.std() / texture.std().clamp_min(1e-8))


def _tile(tile: Tensor, size: tuple[int, int]) -> Tensor:
    """Cover ``size`` with copies of the periodic texture ``tile`` [1, 1, h, w]."""
    reps_h = -(-size[0] // tile.shape[-2])
    reps_w = -(-size[1] // tile.shape[-1])
    return tile.repeat(1, 1, reps_h, reps_w)[..., : size[0], : size[1]]


def _sym_matrix_fn(m: Tensor, fn) -> Tensor:
    """Apply ``fn`` to the eigenvalues of symmetric matrices [..., 3, 3]."""
    values, vectors = torch.linalg.eigh(m)
    return vectors @ torch.diag_embed(fn(values)) @ vectors.transpose(-1, -2)


def _monge_kantorovitch(cov_c: Tensor, cov_s: Tensor, max_gain: float) -> Tensor:
    """The linear map T with T cov_c T^T = cov_s that moves colours the least.

    T = C^-1/2 (C^1/2 S C^1/2)^1/2 C^-1/2 (Pitié & Kokaram 2007, eq. 11). T is symmetric
    positive definite, so its gains are clamped through its eigenvalues.
    """
    c_half = _sym_matrix_fn(cov_c, lambda v: v.clamp_min(1e-12).sqrt())
    c_inv_half = _sym_matrix_fn(cov_c, lambda v: v.clamp_min(1e-12).rsqrt())
    middle = _sym_matrix_fn(c_half @ cov_s @ c_half, lambda v: v.clamp_min(0.0).sqrt())
    t = c_inv_half @ middle @ c_inv_half
    t = 0.5 * (t + t.transpose(-1, -2))  # remove rounding asymmetry before eigh
    return _sym_matrix_fn(t, lambda v: v.clamp(0.0, max_gain))


def _lab_stats(lab: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image mean [N, 3] and covariance [N, 3, 3] of Lab pixels, in float64."""
    flat = lab.flatten(2).double()
    mean = flat.mean(-1)
    centred = flat - mean.unsqueeze(-1)
    cov = centred @ centred.transpose(-1, -2) / flat.shape[-1]
    eye = torch.eye(3, dtype=cov.dtype, device=cov.device)
    return mean, cov + _COV_EPS * eye


class ClassicStylizer(Stylizer):
    """Colour (Lab mean/covariance) plus multi-scale detail and texture transfer.

    Options: ``levels`` (pyramid bands, default 4), ``texture`` (share of the style's
    fine-band energy that comes from the style's texture, 0..1, default 0.5),
    ``texture_mode`` (``"spectrum"``, the default, or ``"tile"``, see the module
    docstring),
    ``detail_gain`` (clamp range for rescaling the content's own detail, default
    (0.5, 3.0)), ``max_color_gain`` (largest colour stretch, default 4.0) and
    ``style_side`` (long side the style is analysed at, default 512).
    """

    name = "classic"

    def __init__(
        self,
        *,
        device: torch.device | str | None = None,
        levels: int = 4,
        texture: float = 0.5,
        texture_mode: str = "spectrum",
        detail_gain: tuple[float, float] = (0.5, 3.0),
        max_color_gain: float = 4.0,
        style_side: int = 512,
        **options,
    ) -> None:
        super().__init__(device=device, **options)
        if not 0 <= int(levels) <= 8:
            raise ValueError(f"levels must be in 0..8, got {levels}")
        if not 0.0 <= float(texture) <= 1.0:
            raise ValueError(f"texture must be in [0, 1], got {texture}")
        if texture_mode not in _TEXTURE_MODES:
            raise ValueError(f"texture_mode must be one of {_TEXTURE_MODES}, got {texture_mode!r}")
        low, high = (float(g) for g in detail_gain)
        if not 0.0 < low <= high:
            raise ValueError(f"detail_gain must be (low, high) with 0 < low <= high: {detail_gain}")
        if float(max_color_gain) <= 0:
            raise ValueError(f"max_color_gain must be positive, got {max_color_gain}")
        if int(style_side) < 16:
            raise ValueError(f"style_side must be at least 16, got {style_side}")
        self.levels = int(levels)
        self.texture = float(texture)
        self.texture_mode = texture_mode
        self.detail_gain = (low, high)
        self.max_color_gain = float(max_color_gain)
        self.style_side = int(style_side)

    @torch.inference_mode()
    def prepare_style(self, image: Tensor) -> StyleState:
        """Measure the style's Lab mean/covariance and its lightness pyramid."""
        image = self.check_image(image).to(self.device, torch.float32).unsqueeze(0)
        height, width = image.shape[-2:]
        if max(height, width) > self.style_side:
            # Statistics need no more pixels than this, and a smaller style keeps the
            # cached state (which holds its texture bands) small.
            scale = self.style_side / max(height, width)
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            image = F.interpolate(image, size=size, mode="bilinear", antialias=True)
        lab = rgb_to_lab(image.clamp(0.0, 1.0))
        mean, cov = _lab_stats(lab)
        levels = _pyramid_levels(*lab.shape[-2:], self.levels)
        bands, _ = _laplacian_pyramid(lab[:, :1], levels)
        tensors: dict[str, Tensor] = {"mean": mean[0], "cov": cov[0]}
        tensors["band_std"] = torch.stack([b.std() for b in bands]) if bands else lab.new_zeros(0)
        # Only the bands that receive texture are kept: they are most of the state's size.
        for k, band in enumerate(bands[: len(_TEXTURE_PER_LEVEL)]):
            if self.texture_mode == "spectrum":
                tensors[f"texture{k}"] = _random_phase_texture(band[0, 0], seed=k)
            else:
                tensors[f"texture{k}"] = band[0, 0]
        meta = {"levels": levels, "texture_mode": self.texture_mode}
        return StyleState(method=self.name, tensors=tensors, meta=meta)

    @torch.inference_mode()
    def stylize(
        self,
        batch: Tensor,
        style_state: StyleState,
        *,
        alpha: float = 1.0,
        preserve_color: bool = False,
    ) -> Tensor:
        """Restyle ``batch`` [N, 3, H, W] in [0, 1] with a prepared classic style."""
        alpha = self.check_alpha(alpha)
        batch = self.check_batch(batch)
        state = self.check_state(style_state)
        content = batch.to(self.device, torch.float32).clamp(0.0, 1.0)
        if alpha == 0.0 or content.shape[0] == 0:
            return content.clone()

        # Every image is processed on its own statistics, so chunking changes nothing
        # but speed and memory: on CPU these element-wise passes are bound by memory
        # bandwidth, and a whole 1024 px batch of 8 no longer fits any cache.
        per_chunk = max(1, _CHUNK_PIXELS[self.device.type == "cuda"] // content[0, 0].numel())
        chunks = [
            self._stylize_chunk(part, state, alpha, preserve_color)
            for part in content.split(per_chunk)
        ]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    def _stylize_chunk(
        self, content: Tensor, state: StyleState, alpha: float, preserve_color: bool
    ) -> Tensor:
        lab = rgb_to_lab(content)
        mean_c, cov_c = _lab_stats(lab)
        mean_s, cov_s = state["mean"], state["cov"]
        if preserve_color:
            out = self._transfer_lightness(lab, mean_c, cov_c, mean_s, cov_s)
        else:
            out = self._transfer_colour(lab, mean_c, cov_c, mean_s, cov_s)
        out[:, :1] = self._transfer_detail(out[:, :1], state)
        styled = lab_to_rgb(out)
        return torch.lerp(content, styled, alpha).clamp(0.0, 1.0)

    def _transfer_colour(self, lab, mean_c, cov_c, mean_s, cov_s) -> Tensor:
        """Monge-Kantorovitch map of all three Lab channels onto the style's."""
        n, _, h, w = lab.shape
        t = _monge_kantorovitch(cov_c, cov_s.expand_as(cov_c), self.max_color_gain).float()
        flat = lab.flatten(2) - mean_c.float().unsqueeze(-1)
        mapped = t @ flat + mean_s.float().view(1, 3, 1)
        return mapped.view(n, 3, h, w)

    def _transfer_lightness(self, lab, mean_c, cov_c, mean_s, cov_s) -> Tensor:
        """Match the style's lightness contrast only; colour and mean lightness stay.

        Reinhard's per-channel std match, on L alone and around the content's own mean:
        moving the mean too would push saturated colours out of gamut (a red product
        under a night-sky style would clip to a different, darker red).
        """
        gain = (cov_s[0, 0] / cov_c[:, 0, 0]).sqrt().clamp(max=self.max_color_gain).float()
        mean = mean_c[:, 0].float().view(-1, 1, 1)
        out = lab.clone()
        out[:, 0] = (lab[:, 0] - mean) * gain.view(-1, 1, 1) + mean
        return out

    def _transfer_detail(self, lightness: Tensor, state: StyleState) -> Tensor:
        """Rescale each band of [N, 1, H, W] lightness toward the style and add texture."""
        levels = min(_pyramid_levels(*lightness.shape[-2:], self.levels), state.meta["levels"])
        if levels == 0:
            return lightness
        bands, low = _laplacian_pyramid(lightness, levels)
        low_gain, high_gain = self.detail_gain
        new_bands = []
        for k, band in enumerate(bands):
            texture = self.texture * (_TEXTURE_PER_LEVEL[k] if k < len(_TEXTURE_PER_LEVEL) else 0)
            # Own detail keeps the share of energy the tiled texture leaves over, so the
            # sum of the two matches the style's band energy (they are uncorrelated).
            own_share = math.sqrt(1.0 - texture**2)
            style_std = state["band_std"][k]
            content_std = band.flatten(1).std(dim=1).clamp_min(1e-4).view(-1, 1, 1, 1)
            gain = (own_share * style_std / content_std).clamp(low_gain, high_gain)
            new = band * gain
            if texture > 0:
                source = state[f"texture{k}"][None, None]
                if state.meta["texture_mode"] == "spectrum":
                    tile = _tile(source, band.shape[-2:])  # periodic: seamless as is
                else:
                    tile = _mirror_tile(source, band.shape[-2:])
                new = new + texture * tile
            new_bands.append(new)
        return _reconstruct(new_bands, low)
