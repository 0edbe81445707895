"""Benchmark the cost of refusing short JPEGs: the completeness check against a decode.

    python bench/decode_check.py [--sides 1024 4000 6000] [--min-seconds 1]

For each size, a 3:2 JPEG (quality 90, 4:2:0) of a scikit-image photo: the time of
``check_scan_complete`` (libjpeg-turbo via simplejpeg, strict, 1/8 scale, grey) beside
``decode_image`` with ``max_side=1024`` (what the worker does: draft-mode decode, then
resize) and without (a full decode). Fastest of the runs (bench/helpers.time_runs).
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.helpers import sample_photo, time_runs  # noqa: E402
from stylerecs.engine.images import decode_image  # noqa: E402
from stylerecs.engine.jpeg import check_scan_complete  # noqa: E402


class _Cpu:
    type = "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 4000, 6000])
    parser.add_argument("--min-seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()}")
    header = f"{'long side':>9} {'MPix':>5} {'kB':>6} {'check ms':>9} {'decode->1024 ms':>16}"
    header += f" {'full decode ms':>15} {'check/decode->1024':>19}"
    print(header)
    print("-" * len(header))
    for side in args.sides:
        size = (side, side * 2 // 3)
        buffer = io.BytesIO()
        sample_photo("astronaut", size).save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()
        check, _ = time_runs(lambda d=data: check_scan_complete(d), _Cpu, args.min_seconds)
        draft, _ = time_runs(lambda d=data: decode_image(d, max_side=1024), _Cpu, args.min_seconds)
        full, _ = time_runs(lambda d=data: decode_image(d), _Cpu, args.min_seconds)
        print(
            f"{side:>9} {size[0] * size[1] / 1e6:>5.1f} {len(data) // 1024:>6} "
            f"{check * 1000:>9.1f} {draft * 1000:>16.1f} {full * 1000:>15.1f} "
            f"{check / draft:>19.2f}"
        )


if __name__ == "__main__":
    main()
