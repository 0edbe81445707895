"""The stylerecs engine: style transfer on torch, Pillow and numpy alone.

It never imports Django, Celery or stylerecs, so it runs and is benchmarked on its own
(``python -m workers.engine --help``). The Django side reaches it only through
:func:`stylize_many`, the stylizer registry and :func:`embed_bytes`.

Importing this package is cheap on purpose: the image-decoding child process imports
``workers.engine.images`` and must not pay for torch. The names below are therefore
loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "stylize_many": "workers.engine.pipeline",
    "stylize_file": "workers.engine.pipeline",
    "StylizeOutcome": "workers.engine.pipeline",
    "ImageError": "workers.engine.images",
    "ImageLimits": "workers.engine.images",
    "get_stylizer": "workers.engine.stylizers",
    "available": "workers.engine.stylizers",
    "embed": "workers.engine.embeddings",
    "embed_bytes": "workers.engine.embeddings",
    "train_decoder": "workers.engine.training",
    "keep_freed_memory": "workers.engine.allocator",
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
