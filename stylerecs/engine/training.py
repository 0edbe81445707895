"""Training an AdaIN decoder for a given VGG-19 encoder.

X. Huang and S. Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017, section 6. The encoder f is fixed; for a content batch c and
a style batch s the target is t = AdaIN(f(c), f(s)) and the decoder g is trained with

    L = L_c + style_weight * L_s
    L_c = || f(g(t)) - t ||^2                                   (relu4_1, mean squared)
    L_s = sum over relu1_1, relu2_1, relu3_1, relu4_1 of
          || mu(phi(g(t))) - mu(phi(s)) ||^2 + || sigma(phi(g(t))) - sigma(phi(s)) ||^2

with Adam (lr 1e-4, decayed as lr / (1 + lr_decay * step)), batches of 8 random
256 x 256 crops of images whose short side was resized to 512, and style weight 10, as
in the paper and its authors' code.

Images come from two directories (searched recursively), decoded with
:func:`stylerecs.engine.images.decode_image` (format allow-list, size caps, EXIF
orientation); a file that fails to decode is skipped with a warning. Which images and
crops make step n depends only on (seed, n), so a resumed run sees the same data as an
uninterrupted one.

The checkpoint (written atomically every ``save_every`` steps, at the end, and on
Ctrl-C) is ``{"state_dict", "format": "adain-decoder", "optimizer", "step", "encoder":
{"sha256", "format"}, "meta"}``: :func:`stylerecs.engine.loading.load_decoder` reads it
as a decoder, and ``resume=True`` continues from its step.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .checkpoints import CheckpointError, file_sha256
from .device import pick_device
from .feature_stats import adain, mean_std
from .images import ImageError, decode_image
from .loading import load_decoder, load_encoder
from .tensors import pil_to_tensor
from .vgg import ADAIN_LAYERS, Decoder, Encoder

logger = logging.getLogger(__name__)

__all__ = ["IMAGE_SUFFIXES", "TrainResult", "list_images", "train_decoder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
CHECKPOINT_FORMAT = "adain-decoder"

StepCallback = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What one call of :func:`train_decoder` did.

    ``losses``, ``content_losses`` and ``style_losses`` have one entry per step run by
    this call (``style_losses`` unweighted), for steps ``start_step + 1`` .. ``step``.
    """

    checkpoint: Path
    start_step: int
    step: int
    losses: list[float] = field(default_factory=list)
    content_losses: list[float] = field(default_factory=list)
    style_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    skipped_files: list[str] = field(default_factory=list)


def list_images(directory: str | os.PathLike[str]) -> list[Path]:
    """Image files under ``directory`` (recursively, by suffix), sorted for determinism."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return files


class _Crops:
    """Random crops of images from one directory, chosen by (seed, step) alone."""

    def __init__(self, files: Sequence[Path], *, load_size: int, crop: int, seed: int) -> None:
        self.files = list(files)
        self.load_size = load_size
        self.crop = crop
        self.seed = seed
        self.bad: dict[int, str] = {}

    def _load(self, index: int) -> Image.Image:
        path = self.files[index]
        # A long side of 4 x load_size still leaves the short side >= load_size for
        # aspect ratios up to 4, and spares decoding 40 MP paintings at full size.
        img = decode_image(path.read_bytes(), max_side=4 * max(self.load_size, self.crop))
        # Short side to load_size (never below the crop), keeping the aspect ratio.
        scale = max(self.load_size, self.crop) / min(img.size)
        size = (max(self.crop, round(img.width * scale)), max(self.crop, round(img.height * scale)))
        return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)

    def batch(self, step: int, size: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        picks: list[Tensor] = []
        attempts = 0
        while len(picks) < size:
            attempts += 1
            if attempts > 20 * size + len(self.files):
                raise ValueError(f"too many unreadable images ({len(self.bad)} skipped)")
            index = int(torch.randint(len(self.files), (1,), generator=generator))
            top_draw, left_draw = torch.rand(2, generator=generator).tolist()
            flip = bool(torch.rand(1, generator=generator) < 0.5)
            if index in self.bad:
                continue
            try:
                img = self._load(index)
            except (ImageError, OSError) as exc:
                self.bad[index] = f"{self.files[index]}: {exc}"
                logger.warning("skipping training image %s", self.bad[index])
                continue
            top = int(top_draw * (img.height - self.crop + 1))
            left = int(left_draw * (img.width - self.crop + 1))
            img = img.crop((left, top, left + self.crop, top + self.crop))
            t = pil_to_tensor(img)
            picks.append(t.flip(-1) if flip else t)
        return torch.stack(picks)


def _fresh_decoder() -> Decoder:
    """A decoder with He initialisation (K. He et al., "Delving Deep into Rectifiers",
    ICCV 2015), so the signal neither dies nor explodes through its nine ReLU convs;
    PyTorch's default init shrinks it about 2.5x per layer and the first thousand steps
    are spent undoing that."""
    decoder = Decoder()
    with torch.no_grad():
        for module in decoder.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                torch.nn.init.zeros_(module.bias)
    return decoder


def _style_loss(outputs: dict[str, Tensor], targets: list[tuple[Tensor, Tensor]]) -> Tensor:
    loss = outputs[ADAIN_LAYERS[0]].new_zeros(())
    for name, (mean_s, std_s) in zip(ADAIN_LAYERS, targets, strict=True):
        mean_o, std_o = mean_std(outputs[name])
        loss = loss + F.mse_loss(mean_o, mean_s) + F.mse_loss(std_o, std_s)
    return loss


def _save(path: Path, decoder: Decoder, optimizer, step: int, encoder_info, meta) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()}
    payload = {
        "state_dict": state,
        "format": CHECKPOINT_FORMAT,
        "optimizer": optimizer.state_dict(),
        "step": step,
        "encoder": dict(encoder_info),
        "meta": dict(meta, step=step),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a crash mid-save never leaves a truncated checkpoint


def _load_resume(path: Path, encoder_info: dict[str, str]) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error
        raise CheckpointError(f"{path}: cannot resume from it ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a decoder training checkpoint")
    if "optimizer" not in payload or "step" not in payload:
        raise CheckpointError(f"{path}: has no optimizer state or step; cannot resume")
    trained_with = payload.get("encoder", {})
    if trained_with.get("sha256") and trained_with["sha256"] != encoder_info["sha256"]:
        raise CheckpointError(
            f"{path}: was trained with another encoder (sha256 {trained_with['sha256'][:12]},"
            f" given {encoder_info['sha256'][:12]})"
        )
    return payload


def train_decoder(
    *,
    encoder_weights: str | os.PathLike[str],
    content_dir: str | os.PathLike[str],
    style_dir: str | os.PathLike[str],
    steps: int,
    out: str | os.PathLike[str],
    batch_size: int = 8,
    lr: float = 1e-4,
    lr_decay: float = 5e-5,
    content_weight: float = 1.0,
    style_weight: float = 10.0,
    crop: int = 256,
    load_size: int = 512,
    resume: bool = False,
    init_decoder: str | os.PathLike[str] | None = None,
    save_every: int = 1000,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: StepCallback | None = None,
    prefetch: bool = True,
) -> TrainResult:
    """Train (or go on training) an AdaIN decoder for ``encoder_weights`` until ``steps``.

    ``steps`` is the total step count: with ``resume=True`` and an existing ``out``,
    training continues from the step stored there. Without ``resume`` an existing
    ``out`` is refused, so a trained decoder is never overwritten by accident.
    ``init_decoder`` starts from an existing decoder file (fine-tuning) instead of
    random weights. ``progress`` shows a tqdm bar on stderr; ``callback(step, steps,
    losses)`` is called after every step. Runs on CUDA when present; ``prefetch``
    decodes the next step's images in a background thread meanwhile.
    """
    if steps < 1 or batch_size < 1 or crop < 16 or save_every < 1:
        raise ValueError("steps, batch_size and save_every must be >= 1, crop >= 16")
    if crop % 8:
        raise ValueError(f"crop must be a multiple of 8 (the encoder pools 3 times): {crop}")
    if lr <= 0 or lr_decay < 0 or content_weight < 0 or style_weight < 0:
        raise ValueError("lr must be positive; lr_decay and the weights non-negative")
    out = Path(out)
    if out.exists() and not resume:
        raise FileExistsError(f"{out} exists: pass resume=True (--resume) to continue it")
    dev = pick_device(device)

    encoder: Encoder = load_encoder(encoder_weights, device=dev)
    encoder_info = {"sha256": file_sha256(encoder_weights), "format": encoder.layout}
    contents = _Crops(list_images(content_dir), load_size=load_size, crop=crop, seed=seed)
    styles = _Crops(list_images(style_dir), load_size=load_size, crop=crop, seed=seed + 1)

    if init_decoder is not None:
        decoder = load_decoder(init_decoder, device=dev, cached=False)
    else:
        torch.manual_seed(seed)  # here: loading an encoder may or may not draw numbers
        decoder = _fresh_decoder().to(dev)
    decoder.train()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    start = 0
    if resume and out.exists():
        payload = _load_resume(out, encoder_info)
        decoder.load_state_dict(payload["state_dict"])
        optimizer.load_state_dict(payload["optimizer"])
        start = int(payload["step"])
    meta = {
        "paper": "Huang & Belongie 2017 (AdaIN)",
        "batch_size": batch_size,
        "lr": lr,
        "lr_decay": lr_decay,
        "content_weight": content_weight,
        "style_weight": style_weight,
        "crop": crop,
        "load_size": load_size,
        "seed": seed,
        "encoder_format": encoder.layout,
    }
    result = TrainResult(checkpoint=out, start_step=start, step=start)
    if start >= steps:
        return result

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=start, unit="step", dynamic_ncols=True)
    started = time.perf_counter()

    def load(step: int) -> tuple[Tensor, Tensor]:
        return contents.batch(step, batch_size), styles.batch(step, batch_size)

    # Decoding is CPU work and the step is (on a GPU) not: overlap them. The images
    # depend on the step number alone, so prefetching changes nothing else.
    executor = ThreadPoolExecutor(max_workers=1) if prefetch else None
    pending: Future | None = executor.submit(load, start + 1) if executor else None
    try:
        for step in range(start + 1, steps + 1):
            for group in optimizer.param_groups:
                group["lr"] = lr / (1.0 + lr_decay * (step - 1))
            if pending is not None and executor is not None:
                content, style = pending.result()
                pending = executor.submit(load, step + 1) if step < steps else None
            else:
                content, style = load(step)
            content, style = content.to(dev), style.to(dev)
            with torch.no_grad():
                style_feats = encoder.features(style, ADAIN_LAYERS)
                style_targets = [mean_std(style_feats[name]) for name in ADAIN_LAYERS]
                content_feat = encoder(content)
                s_mean, s_std = style_targets[-1]
                target = adain(content_feat, s_mean, s_std)
            output = decoder(target)
            out_feats = encoder.features(output, ADAIN_LAYERS)
            loss_c = F.mse_loss(out_feats[ADAIN_LAYERS[-1]], target)
            loss_s = _style_loss(out_feats, style_targets)
            loss = content_weight * loss_c + style_weight * loss_s
            values = {
                "loss": float(loss.detach()),
                "content": float(loss_c.detach()),
                "style": float(loss_s.detach()),
            }
            if not math.isfinite(values["loss"]):
                raise FloatingPointError(f"loss became {values['loss']} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

            result.losses.append(values["loss"])
            result.content_losses.append(values["content"])
            result.style_losses.append(values["style"])
            result.step = step
            if bar is not None:
                bar.set_postfix(content=f"{values['content']:.3g}", style=f"{values['style']:.3g}")
                bar.update(1)
            if callback is not None:
                callback(step, steps, values)
            if step % save_every == 0 and step < steps:
                _save(out, decoder, optimizer, step, encoder_info, meta)
    except KeyboardInterrupt:
        if result.step > start:
            _save(out, decoder, optimizer, result.step, encoder_info, meta)
            logger.warning("interrupted: saved step %d to %s", result.step, out)
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    _save(out, decoder, optimizer, result.step, encoder_info, meta)
    result.seconds = time.perf_counter() - started
    result.skipped_files = sorted(set(contents.bad.values()) | set(styles.bad.values()))
    return result
