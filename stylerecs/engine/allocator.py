"""Keeping freed memory in the process, so CPU inference does not page-fault.

glibc's ``malloc`` serves every request above 32 MiB with a fresh ``mmap`` and gives it
back with ``munmap`` when freed. A CPU forward pass at 512 px allocates and frees
activations of 64 MiB and more in every layer, so each one starts on untouched pages and
the kernel zero-fills them on first write: measured here, that cost a quarter of
AdaIN's run time (2.0 s against 1.5 s per 512 px image on 2 cores). PyTorch's CPU tuning
guide makes the same point and suggests swapping the allocator (jemalloc, TCMalloc) with
``LD_PRELOAD``; :func:`keep_freed_memory` gets the effect from glibc itself, at run
time, with ``mallopt``: large blocks come from the heap and freed ones stay there for
the next layer.

The price is that the process keeps up to ``trim_threshold`` bytes of freed memory
(above that, the top of the heap is returned to the system), and its resident size
stays near its high-water mark. That suits a worker process that runs the engine over
and over; do not call it in a web process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TRIM_THRESHOLD", "keep_freed_memory"]

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

DEFAULT_TRIM_THRESHOLD = 1 << 30  # 1 GiB

_applied: int | None = None


def keep_freed_memory(trim_threshold: int = DEFAULT_TRIM_THRESHOLD) -> bool:
    """Make glibc keep freed memory for reuse (see the module docstring).

    Process-wide and inherited by forked children. Returns True when applied (or already
    applied with the same threshold), False where the C library is not glibc (macOS,
    musl), in which case nothing changes. A negative threshold raises ValueError.
    """
    global _applied
    threshold = int(trim_threshold)
    if threshold < 0:
        raise ValueError(f"trim_threshold must be 0 or more bytes, got {trim_threshold}")
    if _applied == threshold:
        return True
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error. The trim threshold is an int in glibc;
    # cap it so a large value does not wrap around.
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, min(threshold, 2**31 - 1)) == 1 and ok
    if not ok:
        logger.warning("mallopt refused the allocator settings; leaving malloc as it is")
        return False
    _applied = threshold
    logger.debug("malloc keeps up to %d bytes of freed memory; no mmap for large blocks", threshold)
    return True


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return libc
