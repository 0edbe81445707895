"""Command line: ``python -m stylerecs.engine stylize|methods|train-decoder|embed ...``.

A thin shell over :func:`stylerecs.engine.pipeline.stylize_file`,
:func:`stylerecs.engine.training.train_decoder` and
:func:`stylerecs.engine.embeddings.embed_bytes`. Heavy imports happen
inside the commands: the image-decoding child process (spawned) re-imports this module
as ``__mp_main__`` and should not load torch for nothing.
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stylerecs.engine", description="stylerecs style-transfer engine"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("stylize", help="restyle one image with a style image")
    run.add_argument("--content", required=True, help="image to restyle")
    run.add_argument(
        "--style",
        required=True,
        action="append",
        help="style reference image; repeat to blend several (adain)",
    )
    run.add_argument(
        "--style-weights",
        type=float,
        nargs="+",
        default=None,
        metavar="W",
        help="one weight per --style, normalised (default: equal)",
    )
    run.add_argument("--out", required=True, help="output file (.png for PNG, else JPEG)")
    run.add_argument("--method", default="classic", help="stylizer name (see 'methods')")
    run.add_argument(
        "--strength",
        "--alpha",
        dest="strength",
        type=float,
        default=1.0,
        help="0 keeps the content, 1 applies the full style (default 1)",
    )
    run.add_argument(
        "--size", type=int, default=0, help="long side of the output, never upscaled; 0 keeps"
    )
    run.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: auto)")
    run.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    run.add_argument(
        "--encoder-weights", default=None, help="VGG-19 weights (adain: vgg_normalised.pth)"
    )
    run.add_argument("--decoder-weights", default=None, help="adain decoder weights (decoder.pth)")
    run.add_argument(
        "--weights-dir",
        default=None,
        help="folder holding the known weight files; fills the --*-weights not given",
    )
    run.add_argument("--tile", type=int, default=None, help="largest tile side (adain)")
    run.add_argument(
        "--product-mode",
        choices=["off", "keep", "soften"],
        default="off",
        help="keep the product (found by --mask, the alpha channel or a plain background) "
        "as it is, or restyle it at --product-strength (default off: restyle everything)",
    )
    run.add_argument("--product-strength", type=float, default=0.3, help="for soften")
    run.add_argument("--mask", default=None, help="product mask image (white = product)")

    commands.add_parser("methods", help="list the registered stylizers")
    _add_train_decoder(commands)
    _add_embed(commands)
    return parser


def _add_train_decoder(commands) -> None:
    train = commands.add_parser(
        "train-decoder", help="train an AdaIN decoder for a VGG-19 encoder (resumable)"
    )
    train.add_argument("--encoder-weights", required=True, help="VGG-19 weights (either layout)")
    train.add_argument("--content-dir", required=True, help="folder of content photos")
    train.add_argument("--style-dir", required=True, help="folder of style images")
    train.add_argument("--steps", type=int, required=True, help="total steps to reach")
    train.add_argument("--out", required=True, help="checkpoint to write (and resume from)")
    train.add_argument("--batch-size", type=int, default=8, help="default 8")
    train.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (1e-4)")
    train.add_argument("--lr-decay", type=float, default=5e-5, help="lr / (1 + d * step)")
    train.add_argument("--style-weight", type=float, default=10.0, help="default 10")
    train.add_argument("--content-weight", type=float, default=1.0, help="default 1")
    train.add_argument("--crop", type=int, default=256, help="random crop side (256)")
    train.add_argument("--load-size", type=int, default=512, help="short side before cropping")
    train.add_argument("--save-every", type=int, default=1000, help="checkpoint period (steps)")
    train.add_argument("--init-decoder", default=None, help="start from this decoder file")
    train.add_argument("--resume", action="store_true", help="continue from --out's step")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")


def _add_embed(commands) -> None:
    embed = commands.add_parser("embed", help="embedding vectors of images (for scoring)")
    embed.add_argument("--images", required=True, nargs="+", help="image files")
    embed.add_argument(
        "--encoder-weights", default=None, help="VGG-19 weights; without: classicstats"
    )
    embed.add_argument(
        "--out", default=None, help="write the vectors here (.npy, NaN rows for images that failed)"
    )
    embed.add_argument("--max-side", type=int, default=256, help="analysis size (256)")
    embed.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")


def _run_train_decoder(args: argparse.Namespace) -> int:
    from .training import train_decoder

    try:
        result = train_decoder(
            encoder_weights=args.encoder_weights,
            content_dir=args.content_dir,
            style_dir=args.style_dir,
            steps=args.steps,
            out=args.out,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_decay=args.lr_decay,
            content_weight=args.content_weight,
            style_weight=args.style_weight,
            crop=args.crop,
            load_size=args.load_size,
            resume=args.resume,
            init_decoder=args.init_decoder,
            save_every=args.save_every,
            seed=args.seed,
            device=args.device,
            progress=True,
        )
    except KeyboardInterrupt:
        print(f"interrupted; resume with --resume (checkpoint: {args.out})", file=sys.stderr)
        return 130
    for skipped in result.skipped_files:
        print(f"skipped {skipped}", file=sys.stderr)
    if result.step == result.start_step:
        print(f"{args.out} is already at step {result.step}; nothing to do")
        return 0
    print(
        f"trained steps {result.start_step + 1}..{result.step} in {result.seconds:.0f} s;"
        f" loss {result.losses[0]:.4g} -> {result.losses[-1]:.4g}; wrote {result.checkpoint}"
    )
    return 0


def _run_embed(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .embeddings import embed_bytes

    contents = [Path(name).read_bytes() for name in args.images]
    result = embed_bytes(
        contents,
        encoder_weights=args.encoder_weights,
        max_side=args.max_side,
        device=args.device,
    )
    failed = 0
    for name, vector, error in zip(args.images, result.vectors, result.errors, strict=True):
        if vector is None:
            failed += 1
            print(f"error: {name}: {error}", file=sys.stderr)
    if args.out:
        import numpy as np

        rows = np.full((len(contents), result.dim), np.nan, dtype=np.float32)
        for row, vector in enumerate(result.vectors):
            if vector is not None:
                rows[row] = vector.numpy()
        np.save(args.out, rows)
    done = len(contents) - failed
    where = f"; wrote {args.out}" if args.out else ""
    print(f"{done} vector(s) of dim {result.dim}, model version {result.model_version}{where}")
    return 2 if failed else 0


# Flags that become stylizer options: argparse attribute -> (option, flag).
_OPTION_FLAGS = {
    "encoder_weights": ("encoder_weights", "--encoder-weights"),
    "decoder_weights": ("decoder_weights", "--decoder-weights"),
    "tile": ("tile_size", "--tile"),
}
# Files --weights-dir looks for, per option, in order of preference.
_DIR_FILES = {
    "encoder_weights": {"gatys": ("vgg19", "adain_encoder"), None: ("adain_encoder",)},
    "decoder_weights": {None: ("adain_decoder",)},
}


def _method_options(args: argparse.Namespace) -> dict:
    """The stylizer options the flags ask for; a flag the method does not take is an error."""
    import inspect

    from .stylizers import get_stylizer_class

    accepted = inspect.signature(get_stylizer_class(args.method).__init__).parameters
    options = {}
    for attr, (option, flag) in _OPTION_FLAGS.items():
        value = getattr(args, attr)
        if value is None:
            continue
        if option not in accepted:
            raise ValueError(f"{flag} does not apply to --method {args.method}")
        options[option] = value
    if args.weights_dir:
        from .checkpoints import find_weights

        found = find_weights(args.weights_dir)
        for option, choices in _DIR_FILES.items():
            if option in options or option not in accepted:
                continue
            for name in choices.get(args.method, choices[None]):
                if name in found:
                    options[option] = str(found[name])
                    break
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, with a one-line message)."""
    args = _parser().parse_args(argv)
    if args.command != "methods":
        from .allocator import keep_freed_memory

        # A process that only runs the engine: reusing freed memory saves page faults.
        keep_freed_memory()

    from .images import ImageError
    from .stylizers import UnknownStylizer, WeightsMissing, available

    try:
        if args.command == "methods":
            for name, path in available().items():
                print(f"{name}\t{path}")
            return 0
        if args.command == "train-decoder":
            return _run_train_decoder(args)
        if args.command == "embed":
            return _run_embed(args)

        from pathlib import Path

        from .pipeline import stylize_file

        width, height = stylize_file(
            args.content,
            args.style,
            style_weights=args.style_weights,
            options=_method_options(args),
            method=args.method,
            alpha=args.strength,
            preserve_color=args.preserve_color,
            size=args.size,
            out_path=args.out,
            device=args.device,
            quality=args.quality,
            product_mode=args.product_mode,
            product_alpha=args.product_strength,
            mask=Path(args.mask).read_bytes() if args.mask else None,
        )
    except (ImageError, ValueError, UnknownStylizer, WeightsMissing, OSError) as exc:
        # OSError covers missing or unreadable input files and an unwritable output.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({width} x {height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
