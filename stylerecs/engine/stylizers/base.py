"""What a stylizer backend must implement.

A backend turns a style image into a :class:`StyleState` once (``prepare_style``; the
result is cacheable) and then restyles any number of batches with it (``stylize``).
Backends are registered by name in :mod:`stylerecs.engine.stylizers`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..device import pick_device

__all__ = ["StyleState", "Stylizer", "WeightsMissing"]


class WeightsMissing(RuntimeError):
    """A backend needs a weights file that is not installed.

    The message names the file that was looked for and, when given, the setting that
    points at it and how to install it.
    """

    def __init__(self, backend: str, path: str, *, setting: str = "", hint: str = "") -> None:
        self.backend = backend
        self.path = path
        self.setting = setting
        self.hint = hint
        message = f"{backend}: weights file not found: {path}"
        if setting:
            message += f" (configure it with {setting})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)

    def __reduce__(self):
        # The default would call WeightsMissing(message) when the error is unpickled.
        return (_rebuild_weights_missing, (self.backend, self.path, self.setting, self.hint))


def _rebuild_weights_missing(backend: str, path: str, setting: str, hint: str) -> WeightsMissing:
    return WeightsMissing(backend, path, setting=setting, hint=hint)


@dataclass(frozen=True)
class StyleState:
    """Everything a backend derived from one style image, as named tensors.

    ``meta`` holds plain values (sizes, versions) that are not tensors.
    """

    method: str
    tensors: dict[str, Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Tensor:
        return self.tensors[key]

    @property
    def device(self) -> torch.device:
        """The device of the tensors (cpu for an empty state)."""
        for t in self.tensors.values():
            return t.device
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> StyleState:
        """Return a copy with every tensor on ``device`` (self if already there)."""
        device = torch.device(device)
        if all(t.device == device for t in self.tensors.values()):
            return self
        moved = {k: t.to(device) for k, t in self.tensors.items()}
        return StyleState(method=self.method, tensors=moved, meta=dict(self.meta))


class Stylizer(abc.ABC):
    """Base class of style-transfer backends.

    Subclasses set ``name``, take their own options as keyword-only ``__init__``
    arguments and pass the rest up, so a misspelt option fails loudly. Loading weights
    belongs in ``__init__``: instances are cached per process and reused.
    """

    name: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = False
    #: Most pixels (images x height x width) the pipeline hands to one ``stylize``
    #: call; ``None`` for no limit (same-sized images then form one batch).
    batch_pixels: int | None = None

    def __init__(self, *, device: torch.device | str | None = None, **options: Any) -> None:
        if options:
            names = ", ".join(sorted(options))
            raise TypeError(f"{type(self).__name__} got unknown option(s): {names}")
        self.device = pick_device(device)

    @abc.abstractmethod
    def prepare_style(self, image: Tensor) -> StyleState:
        """Analyse a style image ([3, H, W], values in [0, 1]) into a reusable state."""

    @abc.abstractmethod
    def stylize(
        self,
        batch: Tensor,
        style_state: StyleState,
        *,
        alpha: float = 1.0,
        preserve_color: bool = False,
    ) -> Tensor:
        """Restyle ``batch`` ([N, 3, H, W] in [0, 1]); returns the same shape in [0, 1].

        ``alpha`` is the strength (0 gives the content back, 1 the full style);
        ``preserve_color`` keeps the content's colours and transfers the rest.
        """

    def blend_styles(self, items: Sequence[tuple[StyleState, float]]) -> StyleState:
        """Mix prepared styles ``[(state, weight), ...]`` into one state.

        Optional: backends that cannot mix styles keep this default, which refuses.
        """
        raise ValueError(f"the {self.name or type(self).__name__} stylizer cannot blend styles")

    # Helpers for subclasses -----------------------------------------------------------

    @staticmethod
    def check_alpha(alpha: float) -> float:
        """Return ``alpha`` as a float, or raise ValueError if it is not in [0, 1]."""
        try:
            value = float(alpha)
        except (TypeError, ValueError):
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        return value

    @staticmethod
    def check_image(image: Tensor) -> Tensor:
        """Validate a single [3, H, W] image tensor."""
        if not isinstance(image, Tensor) or image.dim() != 3 or image.shape[0] != 3:
            shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
            raise ValueError(f"expected an image tensor of shape [3, H, W], got {shape}")
        return image

    @staticmethod
    def check_batch(batch: Tensor) -> Tensor:
        """Validate a [N, 3, H, W] batch tensor."""
        if not isinstance(batch, Tensor) or batch.dim() != 4 or batch.shape[1] != 3:
            shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
            raise ValueError(f"expected a batch tensor of shape [N, 3, H, W], got {shape}")
        return batch

    def check_state(self, style_state: StyleState) -> StyleState:
        """The prepared style on this stylizer's device, or ValueError if another backend
        prepared it (its tensors would mean something else)."""
        if style_state.method != self.name:
            raise ValueError(f"style state was prepared by {style_state.method!r}, not {self.name}")
        return style_state.to(self.device)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} device={self.device}>"
