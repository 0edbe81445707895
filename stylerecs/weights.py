"""Where the neural stylizers' weight files are, and which methods can run.

Weights are local files only (nothing is downloaded at run time): ``STYLERECS["WEIGHTS"]``
maps each known file to a path, relative paths being inside ``STYLERECS["WEIGHTS_DIR"]``.
This module checks existence only and never imports torch, so the admin and the web
server can ask "can this style run?" cheaply; ``manage.py stylerecs_weights check``
validates the files' contents with the engine.
"""

from __future__ import annotations

from pathlib import Path

from .conf import stylerecs_settings

# Which weight files each method needs, by key of STYLERECS["WEIGHTS"], and the engine
# option each is passed as.
METHOD_WEIGHTS: dict[str, dict[str, str]] = {
    "classic": {},
    "texture": {},
    "adain": {"encoder_weights": "adain_encoder", "decoder_weights": "adain_decoder"},
    "gatys": {"encoder_weights": "vgg19"},
}


def weights_dir() -> Path:
    return Path(stylerecs_settings.WEIGHTS_DIR)


def weights_path(key: str) -> Path:
    """The configured path of one weight file (it may not exist)."""
    files = stylerecs_settings.WEIGHTS
    if key not in files:
        raise KeyError(f"Unknown weights {key!r}; known: {', '.join(sorted(files))}")
    path = Path(files[key])
    return path if path.is_absolute() else weights_dir() / path


def missing_weights(method: str) -> list[str]:
    """Human-readable descriptions of the files ``method`` needs and lacks."""
    return [
        f"{key} ({weights_path(key)})"
        for key in METHOD_WEIGHTS.get(method, {}).values()
        if not weights_path(key).is_file()
    ]


def method_available(method: str) -> bool:
    return method in METHOD_WEIGHTS and not missing_weights(method)


def default_method() -> str:
    """The method of new styles: STYLERECS["DEFAULT_METHOD"], where "auto" means adain
    when its weights are installed, else the weight-free texture method."""
    method = stylerecs_settings.DEFAULT_METHOD
    if method == "auto":
        return "adain" if method_available("adain") else "texture"
    return method


def method_options(method: str) -> dict[str, str]:
    """The engine options (weight paths) for ``method``."""
    return {
        option: str(weights_path(key)) for option, key in METHOD_WEIGHTS.get(method, {}).items()
    }
