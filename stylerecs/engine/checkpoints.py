"""Weights files: what they are, how to check them, and loading them once per process.

Each known file is described by a :class:`WeightsSpec` that carries its file name, its
format (which fixes the architecture and the preprocessing, see :mod:`.vgg`) and where
it comes from. ``source_url`` is documentation for the person installing the file:
the engine never downloads anything.

Formats:

``"adain-vgg"``
    ``vgg_normalised.pth`` of the community PyTorch port of AdaIN: a plain state dict
    of the 53-module ``nn.Sequential`` (keys ``0.weight`` ... ``51.bias``).
``"torchvision-vgg19"``
    torchvision's ``vgg19-dcbb9e9d.pth``: keys ``features.N.*`` (``classifier.*`` keys
    are accepted and ignored).
``"adain-decoder"``
    ``decoder.pth`` of the same port: a plain state dict of the decoder (``1.weight``
    ... ``28.bias``).

A file may hold the state dict itself, or a dict ``{"state_dict": {...}, "format":
"adain-decoder", "meta": {...}}``: that is what :func:`save_checkpoint` writes (and what
a decoder trained by ``python -m stylerecs.engine train-decoder`` is saved as). Files are
read with ``torch.load(weights_only=True)``, which refuses to run pickled code.

Loading the networks, once per process, is :mod:`.loading`'s job.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from .vgg import Decoder, Encoder

__all__ = [
    "FORMATS",
    "KNOWN",
    "CheckpointError",
    "Format",
    "WeightsReport",
    "WeightsSpec",
    "build_network",
    "check_state_dict",
    "expected_shapes",
    "file_module",
    "file_sha256",
    "find_weights",
    "inspect_directory",
    "read_state_dict",
    "save_checkpoint",
    "sniff_format",
    "validate",
]

Format = Literal["adain-vgg", "torchvision-vgg19", "adain-decoder"]
FORMATS: tuple[Format, ...] = get_args(Format)

# Extensions find_weights() looks at besides the known file names.
_WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt")


class CheckpointError(ValueError):
    """A weights file is unreadable or does not fit the expected architecture.

    The message names the file and the first offending keys; ``problems`` lists them
    all, one sentence each.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]


@dataclass(frozen=True)
class WeightsSpec:
    """One weights file the engine knows: its file, format, origin and preprocessing."""

    name: str
    filename: str
    format: Format
    description: str
    source_url: str  # documentation only: never fetched
    licence: str
    # The official file's sha256 starts with this (torchvision puts it in the name).
    sha256_prefix: str = ""

    @property
    def preprocessing(self) -> str:
        """What the network expects as input, in words."""
        if self.format == "adain-decoder":
            return "relu4_1 features of the adain-vgg encoder; outputs RGB, about [0, 1]"
        layout = "torchvision-vgg19" if self.format == "torchvision-vgg19" else "adain-vgg"
        return Encoder(layout=layout).preprocessing

    def build(self) -> nn.Module:
        """An untrained module of this format (random weights)."""
        return build_network(self.format)


KNOWN: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        WeightsSpec(
            name="adain_encoder",
            filename="vgg_normalised.pth",
            format="adain-vgg",
            description="VGG-19 up to relu5_4, Caffe-normalised, the AdaIN encoder",
            source_url="https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth",
            licence=(
                "MIT (naoto0804/pytorch-AdaIN); converted from the VGG-19 weights of "
                "Simonyan & Zisserman, released under CC BY 4.0"
            ),
        ),
        WeightsSpec(
            name="adain_decoder",
            filename="decoder.pth",
            format="adain-decoder",
            description="AdaIN decoder trained on MS-COCO + WikiArt (Huang & Belongie 2017)",
            source_url="https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/decoder.pth",
            licence="MIT (naoto0804/pytorch-AdaIN)",
        ),
        WeightsSpec(
            name="vgg19",
            filename="vgg19-dcbb9e9d.pth",
            format="torchvision-vgg19",
            description="torchvision VGG-19 (ImageNet), used by gatys and for embeddings",
            source_url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            licence=(
                "BSD-3-Clause (torchvision); weights from Simonyan & Zisserman under CC BY 4.0"
            ),
            sha256_prefix="dcbb9e9d",
        ),
    )
}


@dataclass
class WeightsReport:
    """What :func:`validate` found about one file. ``ok`` means it loads strictly."""

    path: Path
    ok: bool
    format: Format | None
    problems: list[str] = field(default_factory=list)
    sha256: str = ""
    size: int = 0
    notes: list[str] = field(default_factory=list)  # facts that are not errors
    spec: WeightsSpec | None = None  # the known file this is, by name

    def __str__(self) -> str:
        status = "ok" if self.ok else "BAD"
        lines = [f"{self.path}: {status} ({self.format or 'unknown format'}, {self.size} bytes)"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# Reading and checking -------------------------------------------------------------------


def build_network(format: Format) -> nn.Module:
    """An untrained network of ``format`` (build it on the meta device to skip init)."""
    if format == "adain-decoder":
        return Decoder()
    if format in ("adain-vgg", "torchvision-vgg19"):
        return Encoder(layout=format)
    raise ValueError(f"unknown weights format {format!r}; use one of {FORMATS}")


def file_module(module: nn.Module) -> nn.Module:
    """The module whose state dict the file holds (an Encoder's ``body``)."""
    return module.body if isinstance(module, Encoder) else module


def expected_shapes(format: Format) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a state dict in ``format``, as the file stores it."""
    return dict(_expected_shapes(format))


@functools.cache
def _expected_shapes(format: Format) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # shapes only: no memory, no random init
        module = build_network(format)
    shapes = {k: tuple(v.shape) for k, v in file_module(module).state_dict().items()}
    if format == "torchvision-vgg19":
        return {f"features.{k}": s for k, s in shapes.items()}
    return shapes


def _unreadable(path: Path, exc: Exception) -> str:
    """Why ``torch.load`` failed, in words (its own message suggests unsafe loading)."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as err:
        return f"{path.name}: cannot read ({err})"
    if head == b"PK\x03\x04" or head[:1] == b"\x80":
        # A zip archive or a pickle: torch's format, but damaged or holding objects
        # that weights_only loading refuses (arbitrary classes, code).
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        if "Weights only load failed" in detail or "Unsupported global" in str(exc):
            detail = "it holds objects other than tensors and plain containers"
        return f"{path.name}: not a loadable weights file ({type(exc).__name__}: {detail})"
    return f"{path.name}: not a PyTorch checkpoint (neither a zip archive nor a pickle)"


def read_state_dict(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Load ``path`` safely and return (state dict, extra info such as "format"/"meta").

    Raises :class:`CheckpointError` for a missing, unreadable or non-checkpoint file.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a weights file") from None
    except Exception as exc:  # unpickling raises many types for foreign bytes
        raise CheckpointError(_unreadable(path, exc)) from exc
    extra: dict[str, Any] = {}
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        extra = {k: v for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path.name}: holds a {type(obj).__name__}, not a state dict "
            "(a dict of tensors, or {'state_dict': {...}})"
        )
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(f"{path.name}: entries that are not named tensors: {bad[:5]}")
    return dict(obj), extra


def sniff_format(state_dict: Mapping[str, Tensor]) -> Format | None:
    """Guess the format of a state dict from its keys and shapes (None if none fits)."""
    if any(k.startswith("features.") for k in state_dict):
        return "torchvision-vgg19"
    first = state_dict.get("0.weight")
    if first is not None and tuple(first.shape) == (3, 3, 1, 1):
        return "adain-vgg"
    if "1.weight" in state_dict or "28.weight" in state_dict:
        return "adain-decoder"
    if "2.weight" in state_dict:
        return "adain-vgg"
    return None


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _problems(state_dict: Mapping[str, Tensor], format: Format) -> list[str]:
    """Every missing, unexpected and mis-shaped key, one sentence each."""
    expected = _expected_shapes(format)
    problems: list[str] = []
    for key, shape in expected.items():
        if key not in state_dict:
            problems.append(f"missing key {key!r}")
        elif tuple(state_dict[key].shape) != shape:
            got = _shape(tuple(state_dict[key].shape))
            problems.append(f"key {key!r} has shape {got}, expected {_shape(shape)}")
    ignored = ("classifier.",) if format == "torchvision-vgg19" else ()
    for key in state_dict:
        if key not in expected and not key.startswith(ignored):
            problems.append(f"unexpected key {key!r}")
    for key, value in state_dict.items():
        if key in expected and not value.is_floating_point():
            problems.append(f"key {key!r} has dtype {value.dtype}, expected floats")
    return problems


def check_state_dict(state_dict: Mapping[str, Tensor], format: Format | None, name: str) -> Format:
    """The format of ``state_dict`` (sniffed when None), or :class:`CheckpointError`
    naming the missing, unexpected or mis-shaped keys of the file ``name``."""
    if format is None:
        format = sniff_format(state_dict)
        if format is None:
            keys = ", ".join(repr(k) for k in list(state_dict)[:4]) or "none"
            raise CheckpointError(
                f"{name}: not a known weights format (first keys: {keys}); "
                f"expected one of {', '.join(FORMATS)}"
            )
    elif format not in FORMATS:
        raise ValueError(f"unknown weights format {format!r}; use one of {FORMATS}")
    problems = _problems(state_dict, format)
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        message = f"{name}: " + "; ".join(problems[:5]) + more + f" (read as {format})"
        raise CheckpointError(message, problems=problems)
    return format


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_sha_cache: dict[tuple[str, int, int], str] = {}
_sha_lock = threading.Lock()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a weights file, cached per (path, mtime, size).

    Embeddings and trained decoders record it to name the encoder they were made with;
    hashing a 550 MB file on every call would cost seconds.
    """
    resolved = Path(path).resolve(strict=True)
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    with _sha_lock:
        cached = _sha_cache.get(key)
    if cached is None:
        cached = _sha256(resolved)
        with _sha_lock:
            _sha_cache[key] = cached
    return cached


def validate(path: str | os.PathLike[str], *, format: Format | None = None) -> WeightsReport:
    """Check that ``path`` loads strictly as ``format``.

    When ``format`` is None it is taken from the file's own ``"format"`` entry, else
    from its name (a known file name), else sniffed from its keys. Never raises for a
    bad file: the report's ``problems`` say what is wrong.
    """
    path = Path(path)
    spec = next((s for s in KNOWN.values() if s.filename == path.name), None)
    report = WeightsReport(path=path, ok=False, format=format, spec=spec)
    if not path.is_file():
        report.problems.append(f"{path}: file not found")
        return report
    report.size = path.stat().st_size
    report.sha256 = file_sha256(path)
    try:
        state_dict, extra = read_state_dict(path)
        declared = extra.get("format")
        if format is None and declared in FORMATS:
            format = declared
        if format is None and spec is not None:
            format = spec.format
        report.format = format or sniff_format(state_dict)
        check_state_dict(state_dict, report.format, path.name)
    except CheckpointError as exc:
        report.problems.extend(exc.problems)
        return report
    report.ok = True
    if spec is not None and spec.sha256_prefix and not report.sha256.startswith(spec.sha256_prefix):
        report.notes.append(
            f"named like the official {spec.filename} but its sha256 differs "
            "(fine for a converted or retrained file)"
        )
    if extra.get("meta"):
        report.notes.append(f"meta: {extra['meta']}")
    return report


def find_weights(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """The known weights files present in ``directory``, by spec name."""
    directory = Path(directory)
    found: dict[str, Path] = {}
    for spec in KNOWN.values():
        candidate = directory / spec.filename
        if candidate.is_file():
            found[spec.name] = candidate
    return found


def inspect_directory(directory: str | os.PathLike[str]) -> list[WeightsReport]:
    """Validate every weights-looking file (.pth, .pt, .ckpt) in ``directory``.

    Known files that are absent are reported too (``ok=False``, "file not found"), so a
    ``check`` command shows what is missing as well as what is broken.
    """
    directory = Path(directory)
    reports: list[WeightsReport] = []
    seen: set[Path] = set()
    for spec in KNOWN.values():
        path = directory / spec.filename
        seen.add(path)
        reports.append(validate(path, format=spec.format))
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path not in seen and path.suffix in _WEIGHT_SUFFIXES and path.is_file():
                reports.append(validate(path))
    return reports


def save_checkpoint(
    path: str | os.PathLike[str],
    module_or_state_dict: nn.Module | Mapping[str, Tensor],
    *,
    format: Format,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{"state_dict", "format", "meta"}`` atomically (temp file, then rename).

    The state dict is checked against ``format`` first; ``meta`` should hold plain
    values (str, numbers, lists, dicts) so the file loads with ``weights_only=True``.
    An :class:`Encoder` is saved in its file layout (``features.*`` for torchvision).
    """
    if isinstance(module_or_state_dict, nn.Module):
        state = file_module(module_or_state_dict).state_dict()
        if format == "torchvision-vgg19":
            state = {f"features.{k}": v for k, v in state.items()}
    else:
        state = dict(module_or_state_dict)
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    check_state_dict(state, format, Path(path).name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"state_dict": state, "format": format, "meta": dict(meta or {})}, tmp)
    os.replace(tmp, path)
    return path
