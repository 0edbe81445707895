"""How much int8 would buy adain on the CPU, and what it costs in fidelity.

    python bench/stylize_int8.py [--size 512] [--encoder-weights P --decoder-weights P]

Static post-training quantisation of the encoder (to relu4_1) and the decoder with
torch.ao's FX graph mode and the x86 backend (fbgemm/oneDNN int8 kernels; per-channel
weights, activations calibrated on four photos). AdaIN itself stays in float32 between
the two networks. Printed: images/s of the fp32 stylizer as the workers run it
(channels_last, inference_mode), of the int8 networks, and the PSNR of the int8 output
against the fp32 output on two photos not used for calibration.

A study, not a code path: the engine does not ship int8. torch.ao.quantization is
deprecated in favour of torchao, and the fidelity must be judged with real weights
(random ones are the default here, so the PSNR says how much the arithmetic loses, not
how a trained decoder's output would look).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import sample_photo, time_runs  # noqa: E402 - bench/ is on sys.path

CALIBRATION = ("coffee", "chelsea", "astronaut", "rocket")
HELD_OUT = ("immunohistochemistry", "hubble_deep_field")
STYLE = "gravel"


def _photo(name: str, size: int):
    from stylerecs.engine.tensors import pil_to_tensor

    return pil_to_tensor(sample_photo(name, size))[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--encoder-weights", default=None, help="real vgg_normalised.pth")
    parser.add_argument("--decoder-weights", default=None, help="real decoder.pth")
    args = parser.parse_args()

    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from stylerecs.engine.allocator import keep_freed_memory
    from stylerecs.engine.stylizers.adain import AdaINStylizer, adain, mean_std
    from tests.weights_factory import write_random_weights

    keep_freed_memory()  # as the workers do
    # Said once in the docstring instead of once per call.
    warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated", DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao\.")
    size = args.size
    with tempfile.TemporaryDirectory(prefix="stylerecs-int8-") as tmp:
        root = write_random_weights(Path(tmp))
        stylizer = AdaINStylizer(
            device="cpu",
            encoder_weights=args.encoder_weights or root / "vgg_normalised.pth",
            decoder_weights=args.decoder_weights or root / "decoder.pth",
        )
    weights = "given" if args.encoder_weights else "random (real formats)"
    print(f"# adain int8 vs fp32 on the CPU at {size} px, batch 1, torch {torch.__version__}")
    print(f"# {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, weights: {weights}")  # fmt: skip

    body = stylizer.encoder.body
    encoder = torch.nn.Sequential(*list(body)[: stylizer.encoder.index["relu4_1"] + 1])
    encoder = copy.deepcopy(encoder).to(torch.float32, memory_format=torch.contiguous_format).eval()
    decoder = (
        copy.deepcopy(stylizer.decoder)
        .to(torch.float32, memory_format=torch.contiguous_format)
        .eval()
    )
    style = _photo(STYLE, size)
    state = stylizer.prepare_style(style[0])
    with torch.inference_mode():
        style_mean, style_std = mean_std(encoder(style))

    started = time.perf_counter()
    mapping = get_default_qconfig_mapping("x86")
    q_encoder = prepare_fx(copy.deepcopy(encoder), mapping, (style,))
    q_decoder = prepare_fx(copy.deepcopy(decoder), mapping, (torch.rand(1, 512, 8, 8),))
    with torch.no_grad():
        for name in CALIBRATION:
            features = q_encoder(_photo(name, size))
            q_decoder(adain(features, style_mean, style_std))
    q_encoder, q_decoder = convert_fx(q_encoder), convert_fx(q_decoder)
    quantise_s = time.perf_counter() - started

    def int8(content):
        with torch.inference_mode():
            features = q_encoder(content)
            return q_decoder(adain(features, style_mean, style_std)).clamp(0.0, 1.0)

    def fp32(content):
        with torch.inference_mode():
            return stylizer.stylize(content, state)

    psnrs = []
    for name in HELD_OUT:
        content = _photo(name, size)
        mse = float(((fp32(content) - int8(content)) ** 2).mean())
        psnrs.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    content = _photo(HELD_OUT[0], size)
    cpu = torch.device("cpu")
    fp32_s, _ = time_runs(lambda: fp32(content), cpu, 0.0, min_runs=3)
    int8_s, _ = time_runs(lambda: int8(content), cpu, 0.0, min_runs=3)

    print(f"\n{'path':<44} {'img/s':>7} {'ms/img':>8}")
    print("-" * 61)
    print(f"{'fp32 (the stylizer: channels_last)':<44} {1 / fp32_s:>7.3f} {1000 * fp32_s:>8.1f}")
    print(f"{'int8 (static, FX, x86 backend)':<44} {1 / int8_s:>7.3f} {1000 * int8_s:>8.1f}")
    print(f"\nint8: {fp32_s / int8_s:.2f}x the fp32 speed; PSNR against fp32 on "
          f"{', '.join(HELD_OUT)}: {', '.join(f'{p:.1f}' for p in psnrs)} dB; "
          f"quantising took {quantise_s:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
