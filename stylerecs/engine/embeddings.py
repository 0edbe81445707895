"""Product embeddings for scoring: one fixed-length vector per image describing its look.

Two versions, named by ``model_version`` so stored vectors are only ever compared with
vectors of the same kind:

``"vggstats-v1-<sha256 prefix of the encoder file>"``
    With VGG-19 weights: the per-channel mean and standard deviation of relu1_1,
    relu2_1, relu3_1 and relu4_1 (2 x (64 + 128 + 256 + 512) = 1920 numbers). These are
    the statistics AdaIN transfers and that describe a style (X. Huang and S. Belongie,
    "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization", ICCV
    2017; Gatys et al.'s Gram matrices carry the same first and second moments). Each
    of the eight blocks (mean or std of one layer) becomes a log profile,
    log(1 + s_c / mean_c s_c) minus its average over channels, then is L2-normalised:
    relative to the layer's own level, so a brighter or higher-contrast copy of a look
    stays close; logarithmic, so a few strongly firing channels do not dominate;
    centred, so cosines use the whole range [-1, 1] instead of crowding near 1 as raw
    (all positive) ReLU statistics do. The blocks weigh the same.
``"classicstats-v1"``
    Without weights: colour and texture statistics (86 numbers): Lab mean, spread and
    channel correlations; the energy of five Laplacian-like bands of lightness and an
    8-bin histogram of gradient orientations; a soft 4 x 4 x 4 Lab colour histogram,
    square-rooted so that its dot product is the Bhattacharyya coefficient.

Images are first resized (antialiased) so their long side is ``side`` pixels, so a
photo and its resized copy describe the same look. Vectors are float32, L2-normalised:
the dot product of two of them is their cosine similarity. The computation is
deterministic; batching only changes float rounding.

:func:`embed_bytes` is what a worker calls: encoded images in, one vector (or the reason
it could not be made) per image out, decoding untrusted bytes safely.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .checkpoints import file_sha256
from .colorspace import rgb_to_lab
from .device import pick_device
from .images import ImageError, ImageLimits, decode_image, decode_image_isolated
from .loading import load_encoder
from .tensors import pil_to_tensor
from .vgg import ADAIN_LAYERS, Encoder

__all__ = [
    "CLASSIC_VERSION",
    "EMBED_SIDE",
    "VGG_VERSION",
    "BytesEmbeddingResult",
    "EmbeddingResult",
    "embed",
    "embed_bytes",
    "embedding_dim",
]

CLASSIC_VERSION = "classicstats-v1"
VGG_VERSION = "vggstats-v1"
EMBED_SIDE = 256

# classicstats-v1 layout: 9 colour moments + 5 band energies + 8 orientations + 64 bins.
_BANDS = 5
_ORIENTATIONS = 8
_HIST_BINS = 4
_CLASSIC_DIM = 9 + _BANDS + _ORIENTATIONS + _HIST_BINS**3
_VGG_DIM = 2 * (64 + 128 + 256 + 512)
# Images per forward pass: bounds memory at 256 px (relu1_1 of 16 images is 256 MiB).
_CHUNK = 16


@dataclass(frozen=True)
class EmbeddingResult:
    """``vectors`` [N, D] float32 on the CPU, each of unit length; ``model_version``
    says how they were made (only vectors of the same version are comparable)."""

    vectors: Tensor
    model_version: str

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class BytesEmbeddingResult:
    """One entry per input of :func:`embed_bytes`: a [D] float32 vector, or ``None``
    with the reason in ``errors`` (``""`` where the vector is there)."""

    vectors: list[Tensor | None]
    errors: list[str]
    model_version: str
    dim: int


def embedding_dim(model_version: str) -> int:
    """The vector length of ``model_version`` (ValueError for an unknown version)."""
    if model_version == CLASSIC_VERSION:
        return _CLASSIC_DIM
    if model_version.startswith(VGG_VERSION):
        return _VGG_DIM
    raise ValueError(f"unknown embedding model version {model_version!r}")


# Shared preparation -------------------------------------------------------------------


def _canonical(x: Tensor, side: int) -> Tensor:
    """Resize [N, 3, H, W] so the long side is ``side`` (antialiased when shrinking)."""
    height, width = x.shape[-2:]
    if max(height, width) == side:
        return x
    scale = side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _groups(images: Tensor | Sequence[Image.Image], side: int) -> list[tuple[list[int], Tensor]]:
    """Split the input into (indices, [n, 3, h, w] batch at canonical size) groups."""
    if isinstance(images, Tensor):
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape [N, 3, H, W], got {tuple(images.shape)}")
        # Resized chunk by chunk: a large batch is never copied whole.
        return [
            (list(range(start, start + len(part))), _canonical(part.float().clamp(0, 1), side))
            for start, part in zip(
                range(0, images.shape[0], _CHUNK), images.split(_CHUNK), strict=True
            )
        ]
    by_size: dict[tuple[int, int], list[tuple[int, Tensor]]] = {}
    for index, img in enumerate(images):
        if not isinstance(img, Image.Image):
            raise TypeError(f"expected PIL images or a tensor, got {type(img).__name__}")
        t = _canonical(pil_to_tensor(img).unsqueeze(0), side)[0]
        by_size.setdefault(tuple(t.shape[-2:]), []).append((index, t))
    return [
        ([i for i, _ in members], torch.stack([t for _, t in members]))
        for members in by_size.values()
    ]


# classicstats-v1 -------------------------------------------------------------------------


def _soft_bins(values: Tensor, centres: Tensor) -> Tensor:
    """Triangular (linear interpolation) bin weights of [N, P] values -> [N, B, P].

    Values beyond the outer centres go wholly to the outer bins; weights sum to 1.
    """
    spacing = float(centres[1] - centres[0])
    clamped = values.clamp(float(centres[0]), float(centres[-1]))
    return (1.0 - (clamped.unsqueeze(1) - centres.view(1, -1, 1)).abs() / spacing).clamp_min(0.0)


def _classic_features(rgb: Tensor) -> Tensor:
    """classicstats-v1 of a batch [N, 3, H, W] in [0, 1] -> [N, 86], not yet normalised."""
    lab = rgb_to_lab(rgb).double()
    n = lab.shape[0]
    flat = lab.flatten(2)  # [N, 3, P]

    # Colour moments, scaled so a typical photo gives values of order one.
    mean = flat.mean(-1)
    centred = flat - mean.unsqueeze(-1)
    cov = centred @ centred.transpose(1, 2) / flat.shape[-1]
    std = cov.diagonal(dim1=1, dim2=2).clamp_min(1e-6).sqrt()
    corr = cov / (std.unsqueeze(2) * std.unsqueeze(1))
    moments = torch.cat(
        (
            (mean[:, :1] - 50.0) / 25.0,
            mean[:, 1:] / 20.0,
            torch.log(std.clamp_min(1.0) / torch.tensor([20.0, 10.0, 10.0], dtype=std.dtype)),
            torch.stack((corr[:, 0, 1], corr[:, 0, 2], corr[:, 1, 2]), dim=1),
        ),
        dim=1,
    )

    # Texture: how much detail lives at each scale, and which way its edges run.
    lightness = lab[:, :1]
    energies = []
    current = lightness
    for _ in range(_BANDS):
        down = F.avg_pool2d(current, 2, ceil_mode=True)
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        energies.append((current - up).square().flatten(1).mean(1).sqrt())
        current = down
    bands = torch.log(torch.stack(energies, dim=1).clamp_min(0.05) / 3.0).clamp(-3.0, 3.0)

    gx = lightness[..., :, 1:] - lightness[..., :, :-1]
    gy = lightness[..., 1:, :] - lightness[..., :-1, :]
    gx, gy = gx[..., :-1, :].flatten(1), gy[..., :, :-1].flatten(1)
    magnitude = torch.sqrt(gx.square() + gy.square())
    angle = torch.remainder(torch.atan2(gy, gx), math.pi)  # edge direction, 0..pi
    step = math.pi / _ORIENTATIONS
    # Circular soft binning: the first and last bins are neighbours.
    position = angle / step - 0.5
    low = torch.floor(position)
    frac = position - low
    hist = torch.zeros(n, _ORIENTATIONS, dtype=lab.dtype)
    low_index = torch.remainder(low, _ORIENTATIONS).long()
    hist.scatter_add_(1, low_index, magnitude * (1.0 - frac))
    hist.scatter_add_(1, torch.remainder(low_index + 1, _ORIENTATIONS), magnitude * frac)
    hist = hist / hist.sum(1, keepdim=True).clamp_min(1e-12)
    orientations = (hist - 1.0 / _ORIENTATIONS) * 4.0

    # Colour histogram over Lab, soft 4 x 4 x 4.
    l_centres = torch.linspace(12.5, 87.5, _HIST_BINS, dtype=lab.dtype)
    ab_centres = torch.linspace(-45.0, 45.0, _HIST_BINS, dtype=lab.dtype)
    wl = _soft_bins(flat[:, 0], l_centres).float()
    wa = _soft_bins(flat[:, 1], ab_centres).float()
    wb = _soft_bins(flat[:, 2], ab_centres).float()
    # [N, 16, P] @ [N, P, 4]: the joint L x a x b weights, summed over pixels.
    joint = torch.bmm((wl.unsqueeze(2) * wa.unsqueeze(1)).flatten(1, 2), wb.transpose(1, 2))
    joint = joint.flatten(1).double() / flat.shape[-1]
    histogram = joint.clamp_min(0.0).sqrt()  # unit length already: the weights sum to 1

    # Each block about unit length, so colour, texture and palette weigh alike.
    texture = torch.cat((bands, orientations), dim=1) / math.sqrt(_BANDS + _ORIENTATIONS)
    return torch.cat((moments / 3.0, texture, histogram), dim=1)


# vggstats-v1 -------------------------------------------------------------------------------


def _vgg_features(encoder: Encoder, rgb: Tensor) -> Tensor:
    """vggstats-v1 of [N, 3, H, W] -> [N, 1920], not yet normalised."""
    blocks = []
    for feature in encoder.features(rgb, ADAIN_LAYERS).values():
        flat = feature.float().flatten(2)
        for stat in (flat.mean(-1), flat.std(-1, unbiased=False)):
            profile = torch.log1p(stat / stat.mean(1, keepdim=True).clamp_min(1e-12))
            blocks.append(F.normalize(profile - profile.mean(1, keepdim=True), dim=1))
    return torch.cat(blocks, dim=1)


_digests: weakref.WeakKeyDictionary[Encoder, str] = weakref.WeakKeyDictionary()
_digests_lock = threading.Lock()


def _state_digest(module: Encoder) -> str:
    """sha256 of an encoder's layout and weights, remembered per module object."""
    with _digests_lock:
        known = _digests.get(module)
    if known is None:
        digest = hashlib.sha256(module.layout.encode())
        for key, value in module.body.state_dict().items():
            digest.update(key.encode())
            digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        known = digest.hexdigest()
        with _digests_lock:
            _digests[module] = known
    return known


def _encoder_for(
    encoder: Encoder | str | os.PathLike[str], device: torch.device | str | None
) -> tuple[Encoder, str]:
    """The encoder to use and its model version.

    A weights file is named by its sha256; an Encoder object (which has no file) by a
    hash of its weights, computed once per object: do not change its weights in place.
    """
    if isinstance(encoder, Encoder):
        return encoder, f"{VGG_VERSION}-{_state_digest(encoder)[:12]}"
    path = Path(encoder)
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights not found: {path}")
    model = load_encoder(path, device=pick_device(device))
    return model, f"{VGG_VERSION}-{file_sha256(path)[:12]}"


# Public API ------------------------------------------------------------------------------


def embed(
    images: Tensor | Sequence[Image.Image],
    *,
    encoder: Encoder | str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
    side: int = EMBED_SIDE,
) -> EmbeddingResult:
    """Embed images ([N, 3, H, W] in [0, 1], or a list of PIL images of any sizes).

    With ``encoder`` (a VGG-19 weights file, either layout, or a loaded
    :class:`~stylerecs.engine.vgg.Encoder`, which is used on its own device) the vectors
    are ``vggstats-v1``; without, ``classicstats-v1``. Each image is first resized so
    its long side is ``side``. Returns [N, D] float32 unit vectors on the CPU, in input
    order.
    """
    if side < 16:
        raise ValueError(f"side must be at least 16, got {side}")
    model, version = (None, CLASSIC_VERSION) if encoder is None else _encoder_for(encoder, device)
    # An Encoder object is used where it lives; otherwise the requested device.
    dev = next(model.parameters()).device if model is not None else pick_device(device)
    dim = embedding_dim(version)
    count = images.shape[0] if isinstance(images, Tensor) else len(images)
    vectors = torch.zeros(count, dim, dtype=torch.float32)
    if count == 0:
        return EmbeddingResult(vectors=vectors, model_version=version)
    with torch.inference_mode():
        for indices, batch in _groups(images, side):
            for start in range(0, len(indices), _CHUNK):
                # classicstats runs on the CPU: it is cheap, and float64 there is exact.
                part = batch[start : start + _CHUNK].to("cpu" if model is None else dev)
                raw = _classic_features(part) if model is None else _vgg_features(model, part)
                rows = torch.tensor(indices[start : start + _CHUNK])
                vectors[rows] = F.normalize(raw.double().cpu(), dim=1).float()
    return EmbeddingResult(vectors=vectors, model_version=version)


def embed_bytes(
    contents: Sequence[bytes],
    *,
    encoder_weights: str | os.PathLike[str] | None = None,
    max_side: int = EMBED_SIDE,
    device: torch.device | str | None = None,
    limits: ImageLimits | None = None,
    isolate_decoding: bool = True,
) -> BytesEmbeddingResult:
    """Embed encoded images (product photos, style references) as :func:`embed` does.

    Each input is decoded with :func:`~stylerecs.engine.images.decode_image_isolated` (in
    a child process, so a decoder crash costs one image) or, with ``isolate_decoding=
    False``, :func:`~stylerecs.engine.images.decode_image`, downscaled to ``max_side`` on
    the way. An undecodable input gets ``None`` and its reason; the others are
    unaffected. ``encoder_weights`` None gives ``classicstats-v1``; a missing file
    raises FileNotFoundError (a configuration error, not the image's).
    """
    if max_side < 16:
        raise ValueError(f"max_side must be at least 16, got {max_side}")
    limits = limits or ImageLimits()
    decode = decode_image_isolated if isolate_decoding else decode_image
    decoded: list[Image.Image] = []
    positions: list[int] = []
    errors = [""] * len(contents)
    for index, data in enumerate(contents):
        try:
            decoded.append(decode(data, limits=limits, max_side=max_side))
            positions.append(index)
        except ImageError as exc:
            errors[index] = str(exc)
    result = embed(decoded, encoder=encoder_weights, device=device, side=max_side)
    vectors: list[Tensor | None] = [None] * len(contents)
    for row, index in enumerate(positions):
        vectors[index] = result.vectors[row].clone()
    return BytesEmbeddingResult(
        vectors=vectors, errors=errors, model_version=result.model_version, dim=result.dim
    )
