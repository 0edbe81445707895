"""Benchmark the stylizers: images/s and peak memory, beside a reference-style baseline.

    python bench/stylize.py [--device cpu|cuda] [--methods classic texture adain gatys]
        [--sizes 256 512 1024] [--batches 1 2 4] [--min-seconds 2] [--max-run-seconds 60]
        [--gatys-steps 5] [--gatys-sizes 256] [--encoder-weights P --decoder-weights P
        --vgg19-weights P] [--threads N] [--no-e2e] [--quick] [--system-malloc]

Every process runs with malloc keeping freed memory, as the workers and the engine CLI
do (stylerecs/engine/allocator.py); --system-malloc measures glibc's default instead.

What is measured (in-process timings: the fastest of the runs made in --min-seconds, at
least two, after one warm-up run; decoding and encoding excluded except in the
end-to-end table):

- The machine's fp32 matrix-multiply rate, the yardstick for convolution throughput: a
  large ``torch.mm`` (MKL on CPU, cuBLAS on CUDA, where fp16 is shown too) and, on CPU,
  oneDNN's GEMM (a 1x1 convolution), which the convolutions actually run on. Measured at
  the start and again at the end: a change means the machine got busier or quieter.
- The FLOPs of the AdaIN networks, counted from the actual Conv2d layers (2 x MACs,
  shapes propagated on the meta device), against the usual figures (encoder to relu4_1
  plus decoder: about 253 GFLOP per 512 x 512 image).
- Per method, size and batch: images/s, ms/image and peak memory (peak RSS on CPU, which
  includes the torch libraries, see "(start)"; on CUDA the allocator's peak). Each
  (method, size) runs in its own process, batches in increasing order, so the peak RSS
  of a row is that process's high-water mark so far. adain rows also give the achieved
  GFLOP/s, its share of each matmul rate, and the speed-up over the BASELINE measured in
  the same process: the community reference script's way (pytorch-AdaIN test.py): a
  plain ``nn.Sequential`` with ReflectionPad2d modules, fp32, contiguous NCHW, one image
  at a time, the style (512 px) encoded again for every image.
- gatys runs only a few optimisation steps at small sizes: its time is per image for
  --gatys-steps steps (time grows linearly with steps).
- End to end (adain): JPEG bytes in, JPEG bytes out: Pillow decode/encode vs
  torchvision.io ``decode_jpeg``/``encode_jpeg`` (on the GPU when running on CUDA).

Without weights given, random checkpoints in the real file formats are written to a
temporary directory: speed does not depend on the weight values. A configuration whose
estimated run time exceeds --max-run-seconds is skipped and says so (CPU runs of 1024 px
batches take minutes). Other processes on the machine distort the numbers: run it on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import peak_rss_mib, sample_photo, time_runs  # noqa: E402 - bench/ is on sys.path

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "hubble_deep_field", "camera")
STYLE_PHOTO = "gravel"
REFERENCE_GFLOP_512 = 253.0  # encoder to relu4_1 + decoder, 512 x 512 (often quoted)
BASELINE_STYLE_SIDE = 512  # the reference script's default --style_size


def conv_gflop(module, size: int, *, channels: int = 3) -> float:
    """GFLOP (2 x multiply-adds) of every Conv2d in ``module`` for one size x size input.

    Shapes are propagated on the meta device: nothing is computed.
    """
    import copy

    import torch
    from torch import nn

    total = 0

    def hook(conv: nn.Conv2d, inputs, output) -> None:
        nonlocal total
        kh, kw = conv.kernel_size
        per_output = 2 * (conv.in_channels // conv.groups) * kh * kw
        total += per_output * output.numel()

    meta = copy.deepcopy(module).to("meta")
    handles = [m.register_forward_hook(hook) for m in meta.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        meta(torch.empty(1, channels, size, size, device="meta"))
    for h in handles:
        h.remove()
    return total / 1e9


def vgg_gflop_to(layer: str, size: int) -> float:
    """GFLOP of the adain-layout VGG-19 up to ``layer`` for one size x size input."""
    from stylerecs.engine.vgg import Encoder

    encoder = Encoder(layout="adain-vgg")
    return conv_gflop(encoder.body[: encoder.index[layer] + 1], size)


def adain_gflop(size: int) -> tuple[float, float]:
    """(encoder to relu4_1, decoder) GFLOP for one size x size image."""
    from stylerecs.engine.vgg import Decoder, Encoder

    encoder = Encoder(layout="adain-vgg")
    head = encoder.body[: encoder.index["relu4_1"] + 1]
    enc = conv_gflop(head, size)
    dec = conv_gflop(Decoder(), size // 8, channels=512)
    return enc, dec


# Random checkpoints in the real formats --------------------------------------------------------


def write_random_weights(root: Path) -> dict[str, Path]:
    """vgg_normalised.pth, decoder.pth and vgg19-dcbb9e9d.pth with He-normal weights,
    as the tests make them (tests/weights_factory.py): speed does not depend on the
    values, and He initialisation keeps activations O(1), free of slow denormals."""
    from tests.weights_factory import write_random_weights as write

    write(root)
    return {
        "encoder": root / "vgg_normalised.pth",
        "decoder": root / "decoder.pth",
        "vgg19": root / "vgg19-dcbb9e9d.pth",
    }


# The reference baseline ------------------------------------------------------------------------


class Baseline:
    """pytorch-AdaIN's test.py, as written: NCHW fp32 ``nn.Sequential`` networks with
    ReflectionPad2d modules, one image at a time, the style encoded for every image."""

    def __init__(self, encoder_path: Path, decoder_path: Path, device) -> None:
        import torch
        from torch import nn

        from stylerecs.engine.vgg import make_decoder_layers, make_vgg_layers

        vgg, names = make_vgg_layers(layout="adain-vgg")
        vgg.load_state_dict(torch.load(encoder_path, map_location="cpu", weights_only=True))
        decoder = make_decoder_layers()
        state = torch.load(decoder_path, map_location="cpu", weights_only=True)
        decoder.load_state_dict(state.get("state_dict", state))
        self.vgg = nn.Sequential(*list(vgg)[: names.index("relu4_1") + 1]).to(device).eval()
        self.decoder = decoder.to(device).eval()

    @staticmethod
    def _calc_mean_std(feat, eps: float = 1e-5):
        n, c = feat.shape[:2]
        var = feat.view(n, c, -1).var(dim=2) + eps
        return feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)

    def __call__(self, content, style):
        import torch

        with torch.no_grad():  # as test.py: no_grad, not inference_mode
            content_f = self.vgg(content)
            style_f = self.vgg(style)
            s_mean, s_std = self._calc_mean_std(style_f)
            c_mean, c_std = self._calc_mean_std(content_f)
            t = (content_f - c_mean) / c_std * s_std + s_mean
            return self.decoder(t).clamp(0, 1)


# One (method, size) in a child process ---------------------------------------------------------


def measure(method: str, size: int, opts: dict) -> list[dict]:
    """Run every batch size of one (method, size); return one result row per batch."""
    import torch

    from stylerecs.engine.device import pick_device
    from stylerecs.engine.stylizers import get_stylizer
    from stylerecs.engine.tensors import pil_to_tensor, stack_batch

    if opts.get("threads"):
        torch.set_num_threads(int(opts["threads"]))
    device = pick_device(opts.get("device"))
    options: dict = {}
    compiled = method == "adain-compiled"
    if compiled:
        method = "adain"
    if method == "adain":
        options = {"encoder_weights": opts["encoder"], "decoder_weights": opts["decoder"]}
    elif method == "gatys":
        options = {"encoder_weights": opts["vgg19"], "steps": int(opts["gatys_steps"])}
    rss_start = peak_rss_mib()
    stylizer = get_stylizer(method, device=device, **options)
    compile_seconds = 0.0
    if compiled:
        # The proposal measured here: the same stylizer with its networks compiled by
        # inductor with freezing (weights as constants: prepacked, conv+ReLU fused).
        # One compilation per input shape, so only for fixed-size batch jobs.
        options = {"freezing": True}
        stylizer.encoder = torch.compile(stylizer.encoder, options=options, dynamic=False)
        stylizer.decoder = torch.compile(stylizer.decoder, options=options, dynamic=False)
    style_img = sample_photo(STYLE_PHOTO, BASELINE_STYLE_SIDE)
    t0 = time.perf_counter()
    with torch.inference_mode():
        state = stylizer.prepare_style(pil_to_tensor(style_img).to(device))
    if compiled:
        compile_seconds += time.perf_counter() - t0
    names = [PHOTOS[i % len(PHOTOS)] for i in range(max(opts["batches"]))]
    photos = [pil_to_tensor(sample_photo(name, size)) for name in names]
    rows: list[dict] = []
    est_per_image = float(opts["estimate_s"])  # a first guess, refined by each measurement

    baseline = None
    if method == "adain" and not compiled and not opts.get("no_baseline"):
        base = Baseline(Path(opts["encoder"]), Path(opts["decoder"]), device)
        style_t = pil_to_tensor(style_img).unsqueeze(0).to(device)
        content_1 = photos[0].unsqueeze(0).to(device)
        # Style at 512 is encoded for every image: add its cost to the guess.
        guess = est_per_image * (1.0 + 0.5 * (BASELINE_STYLE_SIDE / size) ** 2)
        if 3 * guess > opts["max_run_seconds"]:
            baseline = {"skipped": f"est. {3 * guess:.0f} s"}
        else:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds, runs = time_runs(lambda: base(content_1, style_t), device, opts["min_seconds"])
            baseline = {"images_per_s": 1.0 / seconds, "runs": runs}
        del base

    for batch in sorted(opts["batches"]):
        row: dict = {"method": "adain-compiled" if compiled else method, "size": size}
        row["batch"] = batch
        estimate = est_per_image * batch * 3  # warm-up + two timed runs
        if estimate > opts["max_run_seconds"]:
            row["skipped"] = f"est. {estimate:.0f} s"
            rows.append(row)
            continue
        contents = stack_batch(photos[:batch]).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        def run(contents=contents) -> None:
            with torch.inference_mode():
                stylizer.stylize(contents, state)

        if compiled:  # compile for this shape outside the timing, and say how long
            t0 = time.perf_counter()
            run()
            row["compile_s"] = compile_seconds + time.perf_counter() - t0
            compile_seconds = 0.0
        seconds, runs = time_runs(run, device, opts["min_seconds"])
        est_per_image = seconds / batch
        row.update(
            images_per_s=batch / seconds,
            ms_per_image=1000 * seconds / batch,
            runs=runs,
            peak_rss_mib=peak_rss_mib(),
            rss_start_mib=rss_start,
        )
        if device.type == "cuda":
            row["gpu_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        if baseline is not None:
            row["baseline"] = baseline
        rows.append(row)
    return rows


def measure_e2e(opts: dict) -> list[dict]:
    """adain end to end, JPEG bytes in and out: Pillow vs torchvision.io."""
    import io

    import torch
    from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

    from stylerecs.engine.device import pick_device
    from stylerecs.engine.images import decode_image, encode_image
    from stylerecs.engine.stylizers import get_stylizer
    from stylerecs.engine.tensors import pil_to_tensor, stack_batch, tensor_to_pil

    if opts.get("threads"):
        torch.set_num_threads(int(opts["threads"]))
    device = pick_device(opts.get("device"))
    size, count, batch = opts["e2e_size"], opts["e2e_images"], opts["e2e_batch"]
    stylizer = get_stylizer(
        "adain", device=device, encoder_weights=opts["encoder"], decoder_weights=opts["decoder"]
    )
    with torch.inference_mode():
        state = stylizer.prepare_style(pil_to_tensor(sample_photo(STYLE_PHOTO, 512)).to(device))
    jpegs = []
    for i in range(count):
        buf = io.BytesIO()
        sample_photo(PHOTOS[i % len(PHOTOS)], size).save(buf, format="JPEG", quality=90)
        jpegs.append(buf.getvalue())

    def pillow() -> list[bytes]:
        out = []
        for start in range(0, count, batch):
            images = [decode_image(b) for b in jpegs[start : start + batch]]
            x = stack_batch([pil_to_tensor(img) for img in images]).to(device)
            with torch.inference_mode():
                y = stylizer.stylize(x, state).cpu()
            out += [encode_image(tensor_to_pil(t), format="JPEG", quality=90) for t in y]
        return out

    def tv_io() -> list[bytes]:
        out = []
        for start in range(0, count, batch):
            data = [torch.frombuffer(b, dtype=torch.uint8) for b in jpegs[start : start + batch]]
            # On CUDA, nvjpeg decodes the whole batch on the GPU.
            decoded = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
            x = torch.stack(decoded).to(device).float().div_(255.0)
            with torch.inference_mode():
                y = stylizer.stylize(x, state)
            u8 = y.mul(255.0).round_().to(torch.uint8)
            if device.type == "cuda":
                encoded = encode_jpeg(list(u8), quality=90)  # on the GPU
            else:
                encoded = [encode_jpeg(t, quality=90) for t in u8]
            out += [bytes(e.cpu().numpy().tobytes()) for e in encoded]
        return out

    rows = []
    for name, fn in (("Pillow", pillow), ("torchvision.io", tv_io)):
        seconds, runs = time_runs(fn, device, opts["min_seconds"])
        rows.append({"path": name, "images_per_s": count / seconds, "runs": runs})
    return rows


# The parent: header, yardsticks, tables ----------------------------------------------------------


def matmul_gflops(device, dtype_name: str = "float32") -> float:
    """Best rate of a large square ``torch.mm`` (MKL on CPU, cuBLAS on CUDA), GFLOP/s."""
    import torch

    dtype = getattr(torch, dtype_name)
    sizes = [8192] if device.type == "cuda" else [2048, 4096]
    best = 0.0
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # a true fp32 rate
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds, _ = time_runs(lambda a=a, b=b: torch.mm(a, b), device, 2.0, min_runs=4)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def onednn_gemm_gflops() -> float:
    """Best rate of oneDNN's GEMM on the CPU: a 1x1 convolution, 1024 -> 1024 channels
    over 64 x 64 positions (a 4096 x 1024 x 1024 matrix product), channels-last.

    MKL's sgemm (torch.mm) does not reach the FMA throughput of every CPU (on AMD it
    may take a generic path); the convolutions run on oneDNN, so its GEMM rate is the
    fairer bound.
    """
    import torch
    import torch.nn.functional as F

    cpu = torch.device("cpu")
    x = torch.randn(1, 1024, 64, 64).contiguous(memory_format=torch.channels_last)
    w = torch.randn(1024, 1024, 1, 1)
    with torch.inference_mode():
        seconds, _ = time_runs(lambda: F.conv2d(x, w), cpu, 3.0, min_runs=5)
    return 2 * 1024 * 1024 * 64 * 64 / seconds / 1e9


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return " ".join(f for f in wanted if f in flags)


def _child(kind: str, payload: dict) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(payload)]
    if payload.get("system_malloc"):
        cmd.append("--system-malloc")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {payload.get('method', '')} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--methods", nargs="+", default=["classic", "texture", "adain", "gatys"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=60.0,
        help="skip a configuration whose warm-up and two runs are estimated to take longer",
    )
    parser.add_argument("--gatys-steps", type=int, default=5)
    parser.add_argument("--gatys-sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--encoder-weights", default=None, help="real vgg_normalised.pth")
    parser.add_argument("--decoder-weights", default=None, help="real decoder.pth")
    parser.add_argument("--vgg19-weights", default=None, help="real vgg19-dcbb9e9d.pth (gatys)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time adain with torch.compile (inductor, freezing) at --compile-sizes",
    )
    parser.add_argument("--compile-sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--compile-batches", type=int, nargs="+", default=[1])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-e2e", action="store_true", help="skip the JPEG end-to-end table")
    parser.add_argument("--e2e-size", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="256 and 512 px, batches 1 and 2")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave malloc as it is (the workers make it keep freed memory)",
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.system_malloc:
        from stylerecs.engine.allocator import keep_freed_memory

        keep_freed_memory()  # as the workers and the engine CLI do
    if args.child:
        kind, payload = args.child[0], json.loads(args.child[1])
        if kind == "measure":
            rows = measure(payload["method"], payload["size"], payload)
        else:
            rows = measure_e2e(payload)
        print(json.dumps(rows))
        return

    import torch

    from stylerecs.engine.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.batches = [256, 512], [1, 2]
    device = pick_device(args.device)
    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    print(f"# stylizers on {device} ({name}), torch {torch.__version__}")
    print(
        f"# {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, CPU capability"
        f" {torch.backends.cpu.get_cpu_capability()}, flags: {_cpu_flags() or '?'}"
    )
    if device.type == "cpu":
        malloc = "as the system has it" if args.system_malloc else "keeps freed memory"
        print(f"# malloc: {malloc} (stylerecs.engine.allocator; --system-malloc to compare)")
    with contextlib.suppress(OSError):
        load = os.getloadavg()[0]
        print(f"# load average at start: {load:.2f} (other processes distort timings)")

    mm = matmul_gflops(device)
    rates = {"mm": mm}
    print(f"\nfp32 matmul rate, torch.mm: {mm:.1f} GFLOP/s ('% mm' below)")
    if device.type == "cuda":
        print(f"fp16 matmul rate, torch.mm: {matmul_gflops(device, 'float16'):.1f} GFLOP/s")
    else:
        rates["gemm"] = onednn_gemm_gflops()
        print(
            f"fp32 matmul rate, oneDNN (1x1 conv as GEMM): {rates['gemm']:.1f} GFLOP/s"
            " ('% GEMM' below)"
        )
    rate = max(rates.values())

    print("\nAdaIN network cost, counted from its Conv2d layers (2 x multiply-adds):")
    print(f"{'size':>6} {'encoder GFLOP':>14} {'decoder GFLOP':>14} {'total':>8} {'quoted':>8}")
    flops: dict[int, float] = {}
    for size in sorted(set(args.sizes) | {256, 512}):
        enc, dec = adain_gflop(size)
        flops[size] = enc + dec
        quoted = REFERENCE_GFLOP_512 * (size / 512) ** 2
        print(f"{size:>6} {enc:>14.1f} {dec:>14.1f} {enc + dec:>8.1f} {quoted:>8.1f}")

    with tempfile.TemporaryDirectory(prefix="stylerecs-bench-") as tmp:
        paths = write_random_weights(Path(tmp))
        weights = {
            "encoder": args.encoder_weights or str(paths["encoder"]),
            "decoder": args.decoder_weights or str(paths["decoder"]),
            "vgg19": args.vgg19_weights or str(paths["vgg19"]),
        }
        real = "given" if args.encoder_weights else "random (same formats and shapes)"
        print(f"\nweights: {real}")
        efficiency_guess = 0.6 if device.type == "cpu" else 0.3
        observed: dict[str, float] = {}  # GFLOP/s seen so far per method, for estimates
        adain_rows: list[tuple[dict, float]] = []
        gatys_step = 3 * vgg_gflop_to("relu5_1", 256) / 256**2  # fwd + bwd, per pixel
        methods = list(args.methods)
        if args.compile and "adain" in methods:
            methods.insert(methods.index("adain") + 1, "adain-compiled")
        for method in methods:
            sizes = {"gatys": args.gatys_sizes, "adain-compiled": args.compile_sizes}.get(
                method, args.sizes
            )
            batches = args.compile_batches if method == "adain-compiled" else args.batches
            _print_header(method, device, args)
            for size in sizes:
                flop = flops.get(size) or sum(adain_gflop(size))
                work = flop
                if method == "gatys":  # forward and backward to relu5_1, per step
                    work = gatys_step * size * size * args.gatys_steps
                per_image = work / observed.get(method, rate * efficiency_guess)
                if method == "classic":
                    per_image = 0.05 * (size / 512) ** 2
                if method == "texture":  # patch search: about 4 s per 512 px on 2 cores
                    per_image = 4.0 * (min(size, 512) / 512) ** 2
                payload = {
                    "method": method,
                    "size": size,
                    "batches": batches,
                    "device": args.device,
                    "threads": args.threads,
                    "min_seconds": args.min_seconds,
                    "max_run_seconds": args.max_run_seconds,
                    "gatys_steps": args.gatys_steps,
                    "estimate_s": per_image,
                    "no_baseline": args.no_baseline,
                    "system_malloc": args.system_malloc,
                    **weights,
                }
                for row in _child("measure", payload):
                    _print_row(row, flop, rates, device)
                    if "images_per_s" in row:
                        observed[method] = work * row["images_per_s"]
                        if method == "adain":
                            adain_rows.append((row, flop))
        if "adain" in args.methods and not args.no_e2e:
            size = args.e2e_size or (1024 if device.type == "cuda" else 256)
            count = 32 if device.type == "cuda" else 4
            payload = {
                "device": args.device,
                "threads": args.threads,
                "min_seconds": args.min_seconds,
                "e2e_size": size,
                "e2e_images": count,
                "e2e_batch": 8 if device.type == "cuda" else 2,
                "system_malloc": args.system_malloc,
                **weights,
            }
            print(f"\nadain end to end, {count} JPEGs of {size} x {size} in, JPEG q90 out:")
            print(f"{'decode/encode':>16} {'img/s':>8} {'runs':>5}")
            for row in _child("e2e", payload):
                print(f"{row['path']:>16} {row['images_per_s']:>8.2f} {row['runs']:>5}")
    end = {"mm": matmul_gflops(device)}
    if device.type == "cpu":
        end["gemm"] = onednn_gemm_gflops()
    again = ", ".join(f"{_RATE_NAMES[k]} {v:.1f}" for k, v in end.items())
    print(f"\nfp32 matmul rates again at the end: {again} GFLOP/s")
    best = {k: max(v, rates.get(k, 0.0)) for k, v in end.items()}
    _print_targets(adain_rows, best)
    with contextlib.suppress(OSError):
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"total {time.perf_counter() - started:.0f} s")


def _print_header(method: str, device, args) -> None:
    print()
    if method == "gatys":
        print(f"gatys ({args.gatys_steps} Adam steps per image):")
    elif method == "adain-compiled":
        print("adain with torch.compile(options={'freezing': True}) (proposal):")
    else:
        print(f"{method}:")
    header = f"{'size':>6} {'batch':>5} {'img/s':>8} {'ms/img':>9} {'runs':>5}"
    header += f" {'peak RSS MiB':>13} {'(start)':>8}"
    if device.type == "cuda":
        header += f" {'GPU peak MiB':>13}"
    if method.startswith("adain"):
        header += f" {'GFLOP/s':>8} {'% mm':>5}"
        if device.type == "cpu":
            header += f" {'% GEMM':>6}"
    if method == "adain":
        header += f" {'base img/s':>11} {'speed-up':>9}"
    if method == "adain-compiled":
        header += f" {'compile s':>10}"
    print(header)
    print("-" * len(header))


_RATE_NAMES = {"mm": "torch.mm", "gemm": "oneDNN GEMM"}


def _print_targets(rows: list[tuple[dict, float]], best: dict[str, float]) -> None:
    """adain at 512 px against the best matmul rates seen (start or end) and the baseline."""
    at_512 = [(row, flop) for row, flop in rows if row["size"] == 512]
    if not at_512:
        return
    row, flop = max(at_512, key=lambda item: item[0]["images_per_s"])
    achieved = flop * row["images_per_s"]
    shares = ", ".join(
        f"{100 * achieved / rate:.0f}% of {_RATE_NAMES[k]} ({rate:.1f})" for k, rate in best.items()
    )
    print(f"\nadain at 512 px, batch {row['batch']}: {achieved:.1f} GFLOP/s")
    print(f"  = {shares} [target >= 80%]")
    base = row.get("baseline") or {}
    if "images_per_s" in base:
        speedup = row["images_per_s"] / base["images_per_s"]
        print(f"adain at 512 px: {speedup:.2f}x the baseline [target >= 1.4x]")


def _print_row(row: dict, flop: float, rates: dict[str, float], device) -> None:
    line = f"{row['size']:>6} {row['batch']:>5}"
    if "skipped" in row:
        print(f"{line} skipped ({row['skipped']}, over --max-run-seconds)")
        return
    line += f" {row['images_per_s']:>8.3f} {row['ms_per_image']:>9.1f} {row['runs']:>5}"
    line += f" {row['peak_rss_mib']:>13.0f} {row['rss_start_mib']:>8.0f}"
    if device.type == "cuda":
        line += f" {row.get('gpu_peak_mib', 0):>13.0f}"
    if row["method"] in ("adain", "adain-compiled"):
        achieved = flop * row["images_per_s"]
        line += f" {achieved:>8.1f} {100 * achieved / rates['mm']:>4.0f}%"
        if "gemm" in rates:
            line += f" {100 * achieved / rates['gemm']:>5.0f}%"
    if "compile_s" in row:
        line += f" {row['compile_s']:>10.0f}"
    base = row.get("baseline")
    if base is not None and "skipped" in base:
        line += f" {'skipped':>11}"
    elif base is not None:
        speedup = row["images_per_s"] / base["images_per_s"]
        line += f" {base['images_per_s']:>11.3f} {speedup:>8.2f}x"
    print(line, flush=True)


if __name__ == "__main__":
    main()
