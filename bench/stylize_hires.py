"""Benchmark adain on large photos: time, tiles and peak memory up to 4096 px.

    python bench/stylize_hires.py [--device cpu|cuda] [--sides 1024 2048 4096]
        [--encoder-weights P --decoder-weights P] [--tile-size N]

One photo per long side, 3:2 landscape (4096 x 2728 at 4096), stylized once in its own
process, so "peak RSS" is that size's own high-water mark (on CUDA the allocator's peak
is shown too). Photos above the stylizer's tile size (1024 on the CPU, 2048 on CUDA)
are processed in overlapping tiles normalised with whole-image statistics; the table
says how many. One run, no warm-up: at these sizes the first-call overhead is small
against the run, and a 4096 px run takes minutes on a CPU. Random weights in the real
formats unless given: speed and memory do not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import peak_rss_mib, sample_photo, sync  # noqa: E402 - bench/ is on sys.path


def measure(side: int, opts: dict) -> dict:
    """Stylize one side x (2/3 side) photo with adain in this process."""
    import torch

    from stylerecs.engine.allocator import keep_freed_memory
    from stylerecs.engine.stylizers.adain import AdaINStylizer
    from stylerecs.engine.tensors import pil_to_tensor
    from stylerecs.engine.tiling import axis_tiles

    keep_freed_memory()  # as the workers do
    width, height = side, side * 2 // 3 // 8 * 8
    content = pil_to_tensor(sample_photo("astronaut", (width, height)))
    style = pil_to_tensor(sample_photo("gravel"))
    options = {"tile_size": opts["tile_size"]} if opts.get("tile_size") else {}
    stylizer = AdaINStylizer(
        device=opts.get("device"),
        encoder_weights=opts["encoder"],
        decoder_weights=opts["decoder"],
        **options,
    )
    device = stylizer.device
    state = stylizer.prepare_style(style.to(device))
    rss_before = peak_rss_mib()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    out = stylizer.stylize(content[None].to(device), state)
    sync(device)
    seconds = time.perf_counter() - started
    tile, overlap = stylizer.tile_size, stylizer.tile_overlap
    tiles = len(axis_tiles(height, tile, overlap)) * len(axis_tiles(width, tile, overlap))
    row = {
        "side": side,
        "width": int(out.shape[-1]),
        "height": int(out.shape[-2]),
        "tiles": tiles,
        "seconds": seconds,
        "finite": bool(torch.isfinite(out).all()),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
    }
    if device.type == "cuda":
        row["gpu_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--encoder-weights", default=None, help="real vgg_normalised.pth")
    parser.add_argument("--decoder-weights", default=None, help="real decoder.pth")
    parser.add_argument("--tile-size", type=int, default=0, help="0: the stylizer's default")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(int(args.child[0]), json.loads(args.child[1]))))
        return

    import torch

    from stylerecs.engine.device import pick_device
    from tests.weights_factory import write_random_weights

    device = pick_device(args.device)
    print(f"# adain on large photos, on {device}, torch {torch.__version__}")
    header = f"{'long side':>9} {'output':>11} {'tiles':>5} {'seconds':>8} {'MPix/s':>7}"
    header += f" {'peak RSS MiB':>13} {'(before)':>9} {'GPU peak MiB':>13}"
    with tempfile.TemporaryDirectory(prefix="stylerecs-hires-") as tmp:
        root = write_random_weights(Path(tmp))
        opts = {
            "device": args.device,
            "encoder": args.encoder_weights or str(root / "vgg_normalised.pth"),
            "decoder": args.decoder_weights or str(root / "decoder.pth"),
            "tile_size": args.tile_size,
        }
        print(f"# weights: {'given' if args.encoder_weights else 'random (real formats)'}")
        print(header)
        print("-" * len(header))
        for side in args.sides:
            cmd = [sys.executable, __file__, "--child", str(side), json.dumps(opts)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
            if done.returncode != 0:
                print(f"{side:>9} failed:\n{done.stderr[-2000:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            size = f"{row['width']}x{row['height']}"
            mpix = row["width"] * row["height"] / 1e6 / row["seconds"]
            gpu = f"{row['gpu_peak_mib']:>13.0f}" if "gpu_peak_mib" in row else f"{'-':>13}"
            line = f"{side:>9} {size:>11} {row['tiles']:>5} {row['seconds']:>8.1f} {mpix:>7.2f}"
            line += f" {row['peak_rss_mib']:>13.0f} {row['rss_before_mib']:>9.0f} {gpu}"
            if not row["finite"]:
                line += "  (output not finite!)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
