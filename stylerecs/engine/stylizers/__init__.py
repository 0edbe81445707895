"""The registry of stylizer backends, by name.

Built-in backends are listed in ``BUILTIN``; a package adds its own through the
``stylerecs.stylizers`` entry-point group (``name = "pkg.module:Class"``), and a host
can add or override names with :func:`configure` (``extra={"name": "dotted.path"}``) or
:func:`register`. Later sources win: built-ins < entry points < ``configure`` <
``register``.

:func:`get_stylizer` keeps one instance per (name, device, options) for the life of the
process, so a backend's model is loaded once per worker, on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any

import torch

from ..device import pick_device
from .base import StyleState, Stylizer, WeightsMissing

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "StyleState",
    "Stylizer",
    "UnknownStylizer",
    "WeightsMissing",
    "available",
    "clear_cache",
    "configure",
    "get_stylizer",
    "get_stylizer_class",
    "register",
]

ENTRY_POINT_GROUP = "stylerecs.stylizers"

BUILTIN: dict[str, str] = {
    "adain": "stylerecs.engine.stylizers.adain.AdaINStylizer",
    "classic": "stylerecs.engine.stylizers.classic.ClassicStylizer",
    "gatys": "stylerecs.engine.stylizers.gatys.GatysStylizer",
    "texture": "stylerecs.engine.stylizers.texture.TextureStylizer",
}


class UnknownStylizer(KeyError):
    """No stylizer is registered under the requested name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown stylizer {self.name!r}; available: {', '.join(self.known) or 'none'}"


_lock = threading.RLock()
_entry_points: dict[str, str] | None = None  # loaded on first use
_extra: dict[str, str] = {}
_registered: dict[str, str | type[Stylizer]] = {}
_classes: dict[str, type[Stylizer]] = {}
_instances: dict[tuple, Stylizer] = {}


def _load_entry_points() -> dict[str, str]:
    global _entry_points
    if _entry_points is None:
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        _entry_points = {ep.name: ep.value for ep in found}
    return _entry_points


def _path_of(target: str | type) -> str:
    if isinstance(target, str):
        return target
    return f"{target.__module__}.{target.__qualname__}"


def _sources() -> dict[str, str | type[Stylizer]]:
    merged: dict[str, str | type[Stylizer]] = dict(BUILTIN)
    merged.update(_load_entry_points())
    merged.update(_extra)
    merged.update(_registered)
    return merged


def available() -> dict[str, str]:
    """Every registered name, sorted, with the dotted path of its class."""
    with _lock:
        return {name: _path_of(target) for name, target in sorted(_sources().items())}


def configure(*, extra: dict[str, str] | None = None) -> None:
    """Set the host's extra backends (name -> dotted path), replacing earlier ones.

    Entry points are re-read and cached instances dropped, so a changed mapping takes
    effect at once.
    """
    global _entry_points
    with _lock:
        _extra.clear()
        _extra.update(extra or {})
        _entry_points = None
        _classes.clear()
        _instances.clear()


def register(name: str, cls_or_path: str | type[Stylizer]) -> None:
    """Register a backend class (or its dotted path) under ``name``."""
    if not name or not isinstance(name, str):
        raise ValueError(f"a stylizer name must be a non-empty string, got {name!r}")
    with _lock:
        _registered[name] = cls_or_path
        _classes.pop(name, None)
        for key in [k for k in _instances if k[0] == name]:
            del _instances[key]


def _import(path: str) -> Any:
    """Import ``pkg.module.Attr`` or ``pkg.module:Attr.Inner``."""
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
    else:
        module_name, _, attr_path = path.rpartition(".")
    if not module_name or not attr_path:
        raise ImportError(f"{path!r} is not a dotted path to a class")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def get_stylizer_class(name: str) -> type[Stylizer]:
    """The backend class registered under ``name`` (imported on first use)."""
    with _lock:
        if name in _classes:
            return _classes[name]
        sources = _sources()
        if name not in sources:
            raise UnknownStylizer(name, sorted(sources))
        target = sources[name]
        if isinstance(target, str):
            try:
                target = _import(target)
            except (ImportError, AttributeError) as exc:
                raise ImportError(f"stylizer {name!r}: cannot import {target!r}: {exc}") from exc
        if not (isinstance(target, type) and issubclass(target, Stylizer)):
            raise TypeError(f"stylizer {name!r} ({_path_of(target)}) is not a Stylizer subclass")
        _classes[name] = target
        return target


def _freeze(value: Any) -> Any:
    """A hashable stand-in for option values (lists and dicts become tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(_freeze(v) for v in value))
    return value


def get_stylizer(
    name: str, *, device: torch.device | str | None = None, **options: Any
) -> Stylizer:
    """The process-wide instance of backend ``name`` on ``device`` with ``options``.

    Created (and its weights loaded) on the first call, then reused.
    """
    resolved = pick_device(device)
    key = (name, str(resolved), _freeze(options))
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            cls = get_stylizer_class(name)
            instance = cls(device=resolved, **options)
            _instances[key] = instance
        return instance


def clear_cache() -> None:
    """Drop the cached instances (their models are freed when no longer referenced)."""
    with _lock:
        _instances.clear()
