"""The stylerecs engine: style transfer on torch, Pillow and numpy alone.

It never imports Django, Celery or stylerecs, so it runs and is benchmarked on its own
(``python -m stylerecs.engine --help``). The Django side reaches it only through
:func:`stylize_many`, the stylizer registry and :func:`embed_bytes`.

Importing this package is cheap on purpose: the image-decoding child process imports
``stylerecs.engine.images`` and must not pay for torch. The names below are therefore
loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "stylize_many": "stylerecs.engine.pipeline",
    "stylize_file": "stylerecs.engine.pipeline",
    "StylizeOutcome": "stylerecs.engine.pipeline",
    "ImageError": "stylerecs.engine.images",
    "ImageLimits": "stylerecs.engine.images",
    "get_stylizer": "stylerecs.engine.stylizers",
    "available": "stylerecs.engine.stylizers",
    "embed": "stylerecs.engine.embeddings",
    "embed_bytes": "stylerecs.engine.embeddings",
    "train_decoder": "stylerecs.engine.training",
    "keep_freed_memory": "stylerecs.engine.allocator",
}

__all__ = [
    "ImageError",
    "ImageLimits",
    "StylizeOutcome",
    "__version__",
    "available",
    "embed",
    "embed_bytes",
    "get_stylizer",
    "keep_freed_memory",
    "stylize_file",
    "stylize_many",
    "train_decoder",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .allocator import keep_freed_memory
    from .embeddings import embed, embed_bytes
    from .images import ImageError, ImageLimits
    from .pipeline import StylizeOutcome, stylize_file, stylize_many
    from .stylizers import available, get_stylizer
    from .training import train_decoder


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
