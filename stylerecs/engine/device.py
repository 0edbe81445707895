"""Choosing the torch device.

CUDA is never initialised here: ``torch.cuda.is_available()`` and ``device_count()`` do
not create a context, so a parent process may call this before forking. The context is
created by the first tensor actually moved to the GPU, inside the worker process.
"""

from __future__ import annotations

import torch

__all__ = ["pick_device"]


def pick_device(override: str | torch.device | None = None) -> torch.device:
    """Return the device to run on.

    ``override`` may be ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` (``None``, ``""``
    or ``"auto"`` choose for you: cuda when available, else cpu). An unknown or
    unavailable device raises ``ValueError`` saying why.
    """
    if isinstance(override, torch.device):
        override = str(override)
    choice = (override or "auto").strip().lower()
    if choice == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")

    try:
        device = torch.device(choice)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"unknown device {override!r}: use cpu, cuda, cuda:N, mps or auto"
        ) from exc

    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {override!r} requested but CUDA is not available")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {override!r} requested but only {count} CUDA device(s) exist")
        return device
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {override!r} requested but MPS is not available")
        return device
    raise ValueError(f"unsupported device {override!r}: use cpu, cuda, cuda:N, mps or auto")
