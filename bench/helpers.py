"""What the benchmark scripts share: sample photos, timing, peak memory."""

from __future__ import annotations

import resource
import sys
import time


def sample_photo(name: str, size: int | tuple[int, int] | None = None):
    """A scikit-image sample photo (``coffee``, ``gravel``, ...) as an RGB PIL image,
    resized to ``size`` (a side, for a square, or (width, height)) when given."""
    import numpy as np
    from PIL import Image
    from skimage import data

    img = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")
    if size is None:
        return img
    width, height = (size, size) if isinstance(size, int) else size
    return img.resize((width, height), Image.Resampling.LANCZOS)


def sync(device) -> None:
    """Wait for the GPU's queued work (a no-op on the CPU), so timings are real."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_runs(fn, device, min_seconds: float, min_runs: int = 2) -> tuple[float, int]:
    """Fastest of the runs of ``fn()`` made in ``min_seconds`` (at least ``min_runs``),
    after one warm-up run; returns (seconds, runs).

    The minimum, not the median: on a machine shared with other work, the fastest run is
    the one least disturbed by it, and the closest to what the code can do.
    """
    fn()
    sync(device)
    durations: list[float] = []
    started = time.perf_counter()
    while len(durations) < min_runs or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        fn()
        sync(device)
        durations.append(time.perf_counter() - t0)
    return min(durations), len(durations)


def peak_rss_mib() -> float:
    """This process's peak resident set size, in MiB.

    On Linux from ``VmHWM``: ``getrusage``'s ``ru_maxrss`` survives ``fork`` and
    ``exec``, so a benchmark child started from a large parent would report the
    parent's peak as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
