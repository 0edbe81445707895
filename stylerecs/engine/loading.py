"""Loading networks from weights files, once per process.

Loaded models are cached, keyed by the file's resolved path, modification time and
size, the format, the device, the dtype and the memory format: a worker loads each
model once, and a file replaced on disk is read again. What the files are and how they
are checked is :mod:`.checkpoints`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from .checkpoints import (
    FORMATS,
    CheckpointError,
    Format,
    build_network,
    check_state_dict,
    file_module,
    read_state_dict,
    sniff_format,
)
from .vgg import Decoder, Encoder

__all__ = ["CacheInfo", "cache_info", "clear_cache", "load_decoder", "load_encoder"]


class CacheInfo(NamedTuple):
    hits: int
    misses: int  # = files actually read
    currsize: int


_cache: dict[tuple, nn.Module] = {}
_cache_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def cache_info() -> CacheInfo:
    """Hits and misses of the model cache (a miss is one file read and built)."""
    with _cache_lock:
        return CacheInfo(_stats["hits"], _stats["misses"], len(_cache))


def clear_cache() -> None:
    """Forget every cached model and reset the counters."""
    with _cache_lock:
        _cache.clear()
        _stats.update(hits=0, misses=0)


def _load(
    kind: str,
    path: str | os.PathLike[str],
    *,
    format: Format | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
    memory_format: torch.memory_format,
    cached: bool,
) -> nn.Module:
    path = Path(path)
    try:
        resolved = path.resolve(strict=True)
        stat = resolved.stat()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    device = torch.device(device or "cpu")
    key = (kind, str(resolved), stat.st_mtime_ns, stat.st_size, format, str(device), dtype,
           memory_format)  # fmt: skip
    if cached:
        with _cache_lock:
            model = _cache.get(key)
            if model is not None:
                _stats["hits"] += 1
                return model
    state_dict, extra = read_state_dict(resolved)
    if format is None and extra.get("format") in FORMATS:
        format = extra["format"]
    # A swapped pair of files (encoder given as decoder) deserves a plain sentence, not
    # a list of fifty missing keys.
    sniffed = sniff_format(state_dict)
    is_decoder = sniffed == "adain-decoder"
    if sniffed is not None and is_decoder != (kind == "decoder"):
        wanted = "an adain-decoder" if kind == "decoder" else "a VGG-19 encoder"
        raise CheckpointError(f"{path.name}: holds {sniffed} weights, not {wanted}")
    format = check_state_dict(state_dict, format, path.name)
    with torch.device("meta"):  # skip the random init the file's tensors replace
        model = build_network(format)
    if format == "torchvision-vgg19":
        state_dict = {k[9:]: v for k, v in state_dict.items() if k.startswith("features.")}
    file_module(model).load_state_dict(state_dict, strict=True, assign=True)
    model = model.to(device=device, dtype=dtype, memory_format=memory_format)
    model.eval()
    if cached:
        model.requires_grad_(False)
        with _cache_lock:
            _stats["misses"] += 1
            model = _cache.setdefault(key, model)
    return model


def load_encoder(
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    memory_format: torch.memory_format = torch.contiguous_format,
    cached: bool = True,
) -> Encoder:
    """Load a VGG-19 :class:`Encoder` from ``path`` (``adain-vgg`` or ``torchvision-vgg19``,
    sniffed from the keys when ``format`` is None).

    Cached models are shared, in eval mode and frozen (``requires_grad=False``): do not
    modify them. ``cached=False`` returns a private copy.
    Raises :class:`CheckpointError` naming the offending keys for a wrong file.
    """
    model = _load(
        "encoder", path, format=format, device=device, dtype=dtype,
        memory_format=memory_format, cached=cached,
    )  # fmt: skip
    assert isinstance(model, Encoder)
    return model


def load_decoder(
    path: str | os.PathLike[str],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    memory_format: torch.memory_format = torch.contiguous_format,
    cached: bool = True,
) -> Decoder:
    """Load the AdaIN :class:`Decoder` from ``path`` (see :func:`load_encoder`).

    ``cached=False`` gives a private, trainable copy (e.g. to fine-tune it).
    """
    model = _load(
        "decoder", path, format="adain-decoder", device=device, dtype=dtype,
        memory_format=memory_format, cached=cached,
    )  # fmt: skip
    assert isinstance(model, Decoder)
    return model
