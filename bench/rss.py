"""Peak resident memory of this process, for the benchmark scripts."""

from __future__ import annotations

import resource
import sys


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
