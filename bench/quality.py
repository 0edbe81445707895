"""Quality scores of every stylizer over fixed content/style pairs, and a contact sheet.

    python bench/quality.py [--methods classic texture] [--size 512] [--split test]
        [--encoder-weights P --decoder-weights P --vgg19-weights P] [--gatys-steps 100]
        [--sheet docs/quality_sheet.png] [--options '{"texture": {"iterations": 2}}']

For each pair and method: content fidelity (SSIM on luminance, edge agreement, their
mean) and style strength (sliced Wasserstein distance of colours and Laplacian-band
patches to the style, and the share of the content-to-style distance closed), from
stylerecs/engine/quality.py, plus the seconds the stylize call took. adain and gatys run
only when their weights are given (real weights: random ones would score noise).

Pairs come in two splits drawn from the demo's style references and scikit-image's
photos: ``val`` is what options were tuned on (``--split val``), ``test`` is reported
once. The contact sheet has one row per test pair: content, style, then each method.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import sample_photo  # noqa: E402 - bench/ is on sys.path

# (content photo, demo style slug). Strongly textured styles first.
SPLITS = {
    "val": [
        ("chelsea", "brickwork"),
        ("rocket", "moss"),
        ("coffee", "botanical"),
        ("astronaut", "cosmic"),
    ],
    "test": [
        ("coffee", "brickwork"),
        ("astronaut", "moss"),
        ("chelsea", "cosmic"),
        ("rocket", "botanical"),
        ("coffee", "vintage"),
    ],
}
TEXTURED = {"brickwork", "moss", "botanical"}


def style_image(slug: str, side: int):
    from PIL import Image

    from shop.demo_data import style_reference

    img = Image.open(io.BytesIO(style_reference(slug))).convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return img


def build_stylizers(args) -> dict:
    from stylerecs.engine.stylizers import get_stylizer

    options = json.loads(args.options or "{}")
    weights = {
        "adain": {"encoder_weights": args.encoder_weights, "decoder_weights": args.decoder_weights},
        "gatys": {"encoder_weights": args.vgg19_weights, "steps": args.gatys_steps},
    }
    out = {}
    for method in args.methods:
        extra = dict(options.get(method, {}))
        if method in weights:
            if not all(v for k, v in weights[method].items() if k.endswith("weights")):
                print(f"skipping {method}: give its weights (see --help)")
                continue
            extra.update(weights[method])
        out[method] = get_stylizer(method, device=args.device, **extra)
    return out


def run(args) -> int:
    import torch
    from PIL import Image

    from stylerecs.engine.quality import quality_scores
    from stylerecs.engine.tensors import pil_to_tensor, tensor_to_pil

    if args.threads:
        torch.set_num_threads(args.threads)
    stylizers = build_stylizers(args)
    pairs = SPLITS[args.split]
    header = f"{'pair':<22} {'method':<8} {'ssim':>6} {'edges':>6} {'fidel':>6} "
    header += f"{'swd':>7} {'gap':>6} {'s':>6}"
    print(f"split={args.split} size={args.size} device={args.device or 'auto'}")
    print(header)
    print("-" * len(header))
    rows, sums = [], {}
    for content_name, slug in pairs:
        content = sample_photo(content_name)
        content.thumbnail((args.size, args.size), Image.Resampling.LANCZOS)
        style = style_image(slug, 512)
        c = pil_to_tensor(content)
        s = pil_to_tensor(style)
        row = [content, style]
        for method, stylizer in stylizers.items():
            state = stylizer.prepare_style(s.to(stylizer.device))
            started = time.perf_counter()
            out = stylizer.stylize(c[None].to(stylizer.device), state)[0].cpu()
            seconds = time.perf_counter() - started
            scores = quality_scores(c, out, s)
            sums.setdefault(method, []).append((slug in TEXTURED, scores))
            print(
                f"{content_name + '/' + slug:<22} {method:<8} {scores['ssim']:>6.3f} "
                f"{scores['edges']:>6.3f} {scores['fidelity']:>6.3f} "
                f"{scores['style_distance']:>7.4f} {scores['style_gap_closed']:>6.3f} "
                f"{seconds:>6.2f}"
            )
            row.append(tensor_to_pil(out))
        rows.append(row)
    print()
    print(f"{'mean over':<22} {'method':<8} {'fidel':>6} {'gap':>6}")
    for method, items in sums.items():
        for label, chosen in (
            ("all pairs", items),
            ("textured styles", [i for i in items if i[0]]),
        ):
            if not chosen:
                continue
            fid = sum(s["fidelity"] for _, s in chosen) / len(chosen)
            gap = sum(s["style_gap_closed"] for _, s in chosen) / len(chosen)
            print(f"{label:<22} {method:<8} {fid:>6.3f} {gap:>6.3f}")
    if args.sheet:
        save_sheet(rows, ["content", "style", *stylizers], Path(args.sheet), cell=args.cell)
        print(f"\ncontact sheet: {args.sheet}")
    return 0


def save_sheet(rows, labels, path: Path, *, cell: int) -> None:
    """One row per pair: content, style, then each method's output, captioned."""
    from PIL import Image, ImageDraw

    caption = 16
    sheet = Image.new("RGB", (cell * len(labels), caption + cell * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, label in enumerate(labels):
        draw.text((col * cell + 4, 2), label, fill="black")
    for r, row in enumerate(rows):
        for col, img in enumerate(row):
            thumb = img.copy()
            thumb.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            x = col * cell + (cell - thumb.width) // 2
            y = caption + r * cell + (cell - thumb.height) // 2
            sheet.paste(thumb, (x, y))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        # A dithered 256-colour palette: a third of the size, and it is committed to docs/.
        sheet = sheet.quantize(colors=256, dither=Image.Dither.FLOYDSTEINBERG)
        sheet.save(path, optimize=True)
    else:
        sheet.save(path, quality=85)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["classic", "texture", "adain", "gatys"])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--split", choices=sorted(SPLITS), default="test")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--options", default="", help="JSON: method -> stylizer options")
    parser.add_argument("--encoder-weights", default="")
    parser.add_argument("--decoder-weights", default="")
    parser.add_argument("--vgg19-weights", default="")
    parser.add_argument("--gatys-steps", type=int, default=100)
    parser.add_argument("--sheet", default="", help="write the contact sheet PNG here")
    parser.add_argument("--cell", type=int, default=200, help="contact sheet cell side")
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
