"""Benchmark the classic stylizer: images per second and peak memory.

    python bench/stylize_classic.py [--device cpu|cuda] [--sizes 256 512 1024]
                                    [--batches 1 4 8] [--min-seconds 1.5]

Each (size, batch) runs in its own process, so "peak RSS" is that configuration's own
high-water mark (resource.getrusage), not the largest seen so far. Content images are
scikit-image sample photos resized to size x size; the style (gravel) is prepared once
and not timed. Only ``stylize`` is timed (median of the runs made in --min-seconds, after
one warm-up run): decoding and JPEG encoding are not included. "(before)" is the peak RSS
before the first stylize call: on CPU most of it is the torch libraries themselves.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import peak_rss_mib, sample_photo, sync  # noqa: E402 - bench/ is on sys.path

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "hubble_deep_field", "camera")


def measure(size: int, batch: int, device: str | None, min_seconds: float) -> dict:
    """Time ClassicStylizer.stylize on one (size, batch) in this process."""
    import torch

    from stylerecs.engine.device import pick_device
    from stylerecs.engine.stylizers.classic import ClassicStylizer
    from stylerecs.engine.tensors import pil_to_tensor, stack_batch

    dev = pick_device(device)

    images = [sample_photo(PHOTOS[i % len(PHOTOS)], size) for i in range(batch)]
    contents = stack_batch([pil_to_tensor(img) for img in images]).to(dev)
    stylizer = ClassicStylizer(device=dev)
    state = stylizer.prepare_style(pil_to_tensor(sample_photo("gravel")).to(dev))
    rss_before = peak_rss_mib()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    stylizer.stylize(contents, state)  # warm-up: kernels, allocator, caches
    sync(dev)
    durations: list[float] = []
    started = time.perf_counter()
    while not durations or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        stylizer.stylize(contents, state)
        sync(dev)
        durations.append(time.perf_counter() - t0)
    # The median resists the odd slow run on a shared machine better than the mean.
    median = statistics.median(durations)
    result = {
        "size": size,
        "batch": batch,
        "device": str(dev),
        "images_per_s": batch / median,
        "ms_per_image": 1000 * median / batch,
        "runs": len(durations),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }
    if dev.type == "cuda":
        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--min-seconds", type=float, default=1.5)
    parser.add_argument("--one", nargs=2, type=int, metavar=("SIZE", "BATCH"), help="internal")
    args = parser.parse_args()

    if args.one:
        print(json.dumps(measure(*args.one, args.device, args.min_seconds)))
        return

    import torch

    from stylerecs.engine.device import pick_device

    dev = pick_device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
    print(
        f"classic stylizer on {dev} ({name or platform.machine()}), torch {torch.__version__},"
        f" {torch.get_num_threads()} CPU threads"
    )
    header = f"{'size':>6} {'batch':>5} {'img/s':>8} {'ms/img':>8} {'runs':>5} {'peak RSS MiB':>13}"
    header += f" {'(before)':>9}" + (f" {'GPU peak MiB':>13}" if dev.type == "cuda" else "")
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    for size in args.sizes:
        for batch in args.batches:
            cmd = [sys.executable, __file__, "--one", str(size), str(batch)]
            cmd += ["--min-seconds", str(args.min_seconds)]
            if args.device:
                cmd += ["--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            line = (
                f"{size:>6} {batch:>5} {r['images_per_s']:>8.2f} {r['ms_per_image']:>8.1f}"
                f" {r['runs']:>5}"
                f" {r['peak_rss_mib']:>13.0f} {r['rss_before_mib']:>9.0f}"
            )
            if "gpu_peak_mib" in r:
                line += f" {r['gpu_peak_mib']:>13.0f}"
            print(line, flush=True)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
