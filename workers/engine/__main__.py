"""Command line: ``python -m workers.engine stylize ...`` and ``... methods``.

A thin shell over :func:`workers.engine.pipeline.stylize_file`. Heavy imports happen
inside the commands: the image-decoding child process (spawned) re-imports this module
as ``__mp_main__`` and should not load torch for nothing.
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workers.engine", description="stylerecs style-transfer engine"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("stylize", help="restyle one image with a style image")
    run.add_argument("--content", required=True, help="image to restyle")
    run.add_argument("--style", required=True, help="style reference image")
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

    commands.add_parser("methods", help="list the registered stylizers")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, with a one-line message)."""
    args = _parser().parse_args(argv)

    from .images import ImageError
    from .stylizers import UnknownStylizer, WeightsMissing, available

    try:
        if args.command == "methods":
            for name, path in available().items():
                print(f"{name}\t{path}")
            return 0

        from .pipeline import stylize_file

        width, height = stylize_file(
            args.content,
            args.style,
            method=args.method,
            alpha=args.strength,
            preserve_color=args.preserve_color,
            size=args.size,
            out_path=args.out,
            device=args.device,
            quality=args.quality,
        )
    except (ImageError, ValueError, UnknownStylizer, WeightsMissing, OSError) as exc:
        # OSError covers missing or unreadable input files and an unwritable output.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({width} x {height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
