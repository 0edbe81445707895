"""Bytes in, stylized JPEGs out: what the Celery worker and the CLI call.

:func:`stylize_many` restyles many product images with one style: it decodes each
image safely (in a child process by default), prepares the style once (and caches it
by ``style_key``), runs equally sized images as one batch, and reports one
:class:`StylizeOutcome` per input, so one bad photo fails alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import masks as product_masks
from .images import (
    ImageError,
    ImageLimits,
    decode_image,
    decode_image_isolated,
    encode_for_path,
    encode_image,
)
from .stylizers import StyleState, Stylizer, get_stylizer
from .tensors import pil_to_tensor, stack_batch, tensor_to_pil

__all__ = [
    "PRODUCT_MODES",
    "StylizeOutcome",
    "clear_style_cache",
    "stylize_file",
    "stylize_images",
    "stylize_many",
]

STYLE_CACHE_SIZE = 32
#: What happens to the product itself: restyled like the rest ("off"), kept as it is
#: ("keep"), or restyled at ``product_alpha`` ("soften"); see stylerecs.engine.masks.
PRODUCT_MODES = ("off", "keep", "soften")
_SCORE_STYLE_SIDE = 256  # the quality scores analyse images at this size anyway


@dataclass
class StylizeOutcome:
    """The result for one content image: encoded JPEG bytes, or why it failed."""

    ok: bool
    data: bytes | None = None  # encoded JPEG, metadata stripped
    width: int = 0
    height: int = 0
    error: str = ""
    seconds: float = 0.0
    #: Quality scores (stylerecs.engine.quality.SCORE_NAMES), when asked for.
    scores: dict | None = None
    #: The feathered product mask that was used, as a greyscale PNG, and its source
    #: ("uploaded", "alpha" or "estimated"); None and "" when the whole photo was restyled.
    mask: bytes | None = None
    mask_source: str = ""


class _StyleCache:
    """A small thread-safe LRU of prepared styles, keyed by the caller's style key."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple, StyleState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> StyleState | None:
        with self._lock:
            state = self._data.get(key)
            if state is not None:
                self._data.move_to_end(key)
            return state

    def put(self, key: tuple, state: StyleState) -> None:
        with self._lock:
            self._data[key] = state
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_style_cache = _StyleCache(STYLE_CACHE_SIZE)


def clear_style_cache() -> None:
    """Forget every prepared style (e.g. after a style's reference image changed)."""
    _style_cache.clear()


def _options_key(options: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in options.items()))


def _prepare_style(
    stylizer: Stylizer,
    style: bytes,
    *,
    decode: Callable[..., Image.Image],
    limits: ImageLimits,
    max_side: int,
    cache_key: tuple | None,
) -> StyleState:
    if cache_key is not None:
        cached = _style_cache.get(cache_key)
        if cached is not None:
            return cached
    # A bad style image raises ImageError here: every content would fail with it.
    image = decode(style, limits=limits, max_side=max_side)
    state = stylizer.prepare_style(pil_to_tensor(image).to(stylizer.device))
    if cache_key is not None:
        _style_cache.put(cache_key, state)
    return state


def _run_batch(
    stylizer: Stylizer, batch: torch.Tensor, state: StyleState, alpha: float, preserve: bool
) -> torch.Tensor:
    """Stylize ``batch``; on CUDA out-of-memory, retry it in halves.

    The retry happens after the ``except`` block has ended: its traceback holds
    references to the failed attempt's tensors, and the memory is only freed then.
    """
    try:
        return stylizer.stylize(
            batch.to(stylizer.device), state, alpha=alpha, preserve_color=preserve
        ).cpu()
    except torch.cuda.OutOfMemoryError:
        if batch.shape[0] == 1:
            raise
    torch.cuda.empty_cache()  # a no-op unless CUDA was initialised
    half = batch.shape[0] // 2
    first = _run_batch(stylizer, batch[:half], state, alpha, preserve)
    second = _run_batch(stylizer, batch[half:], state, alpha, preserve)
    return torch.cat((first, second), dim=0)


def stylize_images(
    stylizer: Stylizer,
    images: Sequence[Image.Image],
    state: StyleState,
    *,
    alpha: float = 1.0,
    preserve_color: bool = False,
) -> tuple[list[Image.Image], list[float]]:
    """Stylize decoded RGB images with a prepared style, batching equal sizes (at most
    ``stylizer.batch_pixels`` pixels per batch).

    Returns the images in input order and each one's share of the compute time.
    """
    results: list[Image.Image | None] = [None] * len(images)
    seconds = [0.0] * len(images)
    groups: dict[tuple[int, int], list[int]] = {}
    for index, img in enumerate(images):
        groups.setdefault(img.size, []).append(index)
    batches: list[list[int]] = []
    for (width, height), same_size in groups.items():
        per_batch = len(same_size)
        if stylizer.batch_pixels:
            per_batch = max(1, stylizer.batch_pixels // (width * height))
        batches += [same_size[i : i + per_batch] for i in range(0, len(same_size), per_batch)]
    for indices in batches:
        started = time.perf_counter()
        batch = stack_batch([pil_to_tensor(images[i]) for i in indices])
        with torch.inference_mode():
            out = _run_batch(stylizer, batch, state, alpha, preserve_color)
        for row, i in enumerate(indices):
            results[i] = tensor_to_pil(out[row])
        share = (time.perf_counter() - started) / len(indices)
        for i in indices:
            seconds[i] = share
    return results, seconds  # type: ignore[return-value]


def stylize_many(
    contents: Sequence[bytes],
    style: bytes,
    *,
    method: str = "classic",
    alpha: float = 1.0,
    preserve_color: bool = False,
    max_side: int = 1024,
    quality: int = 90,
    device: str | None = None,
    style_key: str | None = None,
    limits: ImageLimits | None = None,
    isolate_decoding: bool = True,
    options: dict | None = None,
    product_mode: str = "off",
    product_alpha: float = 0.0,
    masks: Sequence[bytes | None] | None = None,
    score: bool = False,
) -> list[StylizeOutcome]:
    """Restyle each of ``contents`` (encoded images) with ``style`` (an encoded image).

    Returns one outcome per content, in order. A content that cannot be decoded gets
    ``ok=False`` and the reason; the others are unaffected. A bad style image raises
    :class:`ImageError`. ``style_key`` (e.g. "style 7 version 3") lets the prepared
    style be reused across calls. Errors of the stylizer itself propagate.

    ``product_mode`` (one of PRODUCT_MODES) keeps the product faithful: its mask comes
    from ``masks`` (uploaded mask images, one per content or None), the photo's alpha
    channel or an estimate of a plain background. ``score`` adds quality scores.
    """
    Stylizer.check_alpha(alpha)
    if product_mode not in PRODUCT_MODES:
        raise ValueError(f"product_mode must be one of {PRODUCT_MODES}, got {product_mode!r}")
    product_alpha = 0.0 if product_mode == "keep" else Stylizer.check_alpha(product_alpha)
    masks = list(masks) if masks is not None else [None] * len(contents)
    if len(masks) != len(contents):
        raise ValueError(f"{len(contents)} content(s) but {len(masks)} mask(s)")
    limits = limits or ImageLimits()
    options = dict(options or {})
    stylizer = get_stylizer(method, device=device, **options)
    decode = decode_image_isolated if isolate_decoding else decode_image
    cache_key = None
    if style_key is not None:
        cache_key = (style_key, method, str(stylizer.device), max_side, _options_key(options))
    state = _prepare_style(
        stylizer, style, decode=decode, limits=limits, max_side=max_side, cache_key=cache_key
    )

    outcomes = [StylizeOutcome(ok=False) for _ in contents]
    decoded: list[Image.Image] = []
    positions: list[int] = []
    found_masks: list[tuple] = []
    faithful = product_mode != "off"
    for index, data in enumerate(contents):
        started = time.perf_counter()
        try:
            img = decode(data, limits=limits, max_side=max_side, keep_alpha=faithful)
            if faithful:
                found_masks.append(product_masks.product_mask(img, uploaded=masks[index]))
            decoded.append(img.convert("RGB") if img.mode != "RGB" else img)
            positions.append(index)
        except ImageError as exc:
            outcomes[index].error = str(exc)
        except (OSError, ValueError) as exc:  # an unreadable uploaded mask
            outcomes[index].error = f"the product mask cannot be used: {exc}"
        outcomes[index].seconds = time.perf_counter() - started

    images, seconds = stylize_images(
        stylizer, decoded, state, alpha=alpha, preserve_color=preserve_color
    )
    style_small = None
    if score:
        style_small = pil_to_tensor(decode(style, limits=limits, max_side=_SCORE_STYLE_SIDE))
    for n, (index, img, spent) in enumerate(zip(positions, images, seconds, strict=True)):
        started = time.perf_counter()
        outcome = outcomes[index]
        mask, source = found_masks[n] if faithful else (None, "")
        if mask is not None or score:
            img = _finish_image(
                decoded[n], img, mask, source, outcome, alpha, product_alpha, style_small
            )
        outcome.data = encode_image(img, format="JPEG", quality=quality)
        outcome.width, outcome.height = img.size
        outcome.ok = True
        outcome.seconds += spent + time.perf_counter() - started
    return outcomes


def _finish_image(
    original: Image.Image,
    styled: Image.Image,
    mask,
    source: str,
    outcome: StylizeOutcome,
    alpha: float,
    product_alpha: float,
    style_small: torch.Tensor | None,
) -> Image.Image:
    """Blend the product back in (when masked) and score the result into ``outcome``."""
    content = pil_to_tensor(original)
    out = pil_to_tensor(styled)
    soft = None
    if mask is not None:
        out, soft = product_masks.blend_product(
            content, out, mask, alpha=alpha, product_alpha=product_alpha
        )
        outcome.mask = product_masks.encode_mask(soft)
        outcome.mask_source = source
    if style_small is not None:
        from .quality import quality_scores

        outcome.scores = quality_scores(
            content, out, style_small, mask=soft, product_kept=soft is not None
        )
    return tensor_to_pil(out) if soft is not None else styled


def stylize_file(
    content_path: str | os.PathLike[str],
    style_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    method: str = "classic",
    alpha: float = 1.0,
    preserve_color: bool = False,
    size: int = 0,
    out_path: str | os.PathLike[str],
    device: str | None = None,
    quality: int = 90,
    options: dict | None = None,
    style_weights: Sequence[float] | None = None,
    product_mode: str = "off",
    product_alpha: float = 0.0,
    mask: bytes | None = None,
) -> tuple[int, int]:
    """Stylize one image file into ``out_path`` (PNG if it ends with .png, else JPEG).

    ``size`` is the long side of the output (never upscaled); 0 keeps the input size.
    ``style_path`` may be several files, mixed by ``style_weights`` (default equal)
    when the method can blend styles (adain). Returns the output's (width, height).
    """
    if size < 0:
        raise ValueError(f"size must be 0 (keep) or positive, got {size}")
    Stylizer.check_alpha(alpha)
    style_paths = [style_path] if isinstance(style_path, str | os.PathLike) else list(style_path)
    if not style_paths:
        raise ValueError("give at least one style image")
    weights = [1.0] * len(style_paths) if style_weights is None else list(style_weights)
    if len(weights) != len(style_paths):
        raise ValueError(f"{len(style_paths)} style(s) but {len(weights)} style weight(s)")
    if product_mode not in PRODUCT_MODES:
        raise ValueError(f"product_mode must be one of {PRODUCT_MODES}, got {product_mode!r}")
    product_alpha = 0.0 if product_mode == "keep" else Stylizer.check_alpha(product_alpha)
    stylizer = get_stylizer(method, device=device, **dict(options or {}))
    faithful = product_mode != "off"
    content = decode_image(Path(content_path).read_bytes(), max_side=size, keep_alpha=faithful)
    found = product_masks.product_mask(content, uploaded=mask) if faithful else (None, "")
    content = content.convert("RGB") if content.mode != "RGB" else content
    states = []
    for path in style_paths:
        style = decode_image(Path(path).read_bytes(), max_side=size)
        states.append(stylizer.prepare_style(pil_to_tensor(style).to(stylizer.device)))
    if len(states) == 1:
        state = states[0]  # a lone style's weight does not matter
    else:
        state = stylizer.blend_styles(list(zip(states, weights, strict=True)))
    (result,), _ = stylize_images(
        stylizer, [content], state, alpha=alpha, preserve_color=preserve_color
    )
    if found[0] is not None:
        result = _finish_image(
            content, result, found[0], found[1], StylizeOutcome(ok=True), alpha, product_alpha, None
        )
    data = encode_for_path(result, out_path, quality=quality)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return result.size
