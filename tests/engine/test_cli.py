"""python -m stylerecs.engine: the command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image


@pytest.fixture(scope="module")
def files(tmp_path_factory, photo):
    root = tmp_path_factory.mktemp("cli")
    photo("chelsea", 300).save(root / "cat.jpg", quality=92)  # 300 x 200
    photo("brick", 256).save(root / "brick.png")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root


def run(repo_root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stylerecs.engine", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_stylize_writes_jpeg_at_input_size_and_png_at_requested_size(repo_root, files):
    out_jpg, out_png = files / "out" / "cat.jpg", files / "cat-small.png"
    common = ["--method", "classic", "--content", str(files / "cat.jpg")]
    result = run(
        repo_root,
        "stylize",
        *common,
        "--style",
        str(files / "brick.png"),
        "--strength",
        "0.8",
        "--size",
        "0",
        "--out",
        str(out_jpg),
    )
    assert result.returncode == 0, result.stderr
    with Image.open(out_jpg) as img:
        assert img.format == "JPEG" and img.size == (300, 200)

    result = run(
        repo_root,
        "stylize",
        *common,
        "--style",
        str(files / "brick.png"),
        "--alpha",
        "1",
        "--size",
        "128",
        "--preserve-color",
        "--device",
        "cpu",
        "--out",
        str(out_png),
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    with Image.open(out_png) as img:
        assert img.format == "PNG" and max(img.size) == 128 and img.size == (128, 85)


def test_corrupt_content_exits_2_with_one_line_and_no_traceback(repo_root, files):
    out = files / "never.jpg"
    result = run(
        repo_root,
        "stylize",
        "--content",
        str(files / "corrupt.jpg"),
        "--style",
        str(files / "brick.png"),
        "--out",
        str(out),
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: truncated or corrupt image")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


# The remaining cases call main() in this process: same code path, no torch start-up.


@pytest.mark.parametrize(
    "args,message",
    [
        (["--content", "{d}/cat.jpg", "--style", "{d}/missing.png"], "No such file"),
        (["--content", "{d}/cat.jpg", "--style", "{d}/brick.png", "--strength", "1.5"], "alpha"),
        (["--content", "{d}/cat.jpg", "--style", "{d}/brick.png", "--method", "x"], "unknown"),
        (["--content", "{d}/cat.jpg", "--style", "{d}/brick.png", "--device", "tpu"], "device"),
        (["--content", "{d}/cat.jpg", "--style", "{d}/brick.png", "--size", "-1"], "size"),
    ],
    ids=["missing", "strength", "method", "device", "size"],
)
def test_bad_arguments_exit_2_with_one_line(files, capsys, args, message):
    from stylerecs.engine.__main__ import main

    argv = [a.format(d=files) for a in args] + ["--out", str(files / "never.jpg")]
    assert main(["stylize", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (files / "never.jpg").exists()


def test_argparse_errors_exit_2(capsys):
    from stylerecs.engine.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["stylize", "--content", "a.jpg"])
    assert info.value.code == 2
    assert "required" in capsys.readouterr().err


def test_methods_lists_registered_stylizers(capsys):
    from stylerecs.engine.__main__ import main

    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "classic\tstylerecs.engine.stylizers.classic.ClassicStylizer" in lines


def test_adain_blends_two_styles_at_the_input_size(weights_dir, photo, tmp_path, capsys):
    from stylerecs.engine import stylizers
    from stylerecs.engine.__main__ import main

    photo("chelsea", 80).save(tmp_path / "cat.jpg", quality=92)  # 80 x 53
    photo("brick", 48).save(tmp_path / "brick.png")
    photo("coffee", 48).save(tmp_path / "coffee.png")
    argv = [
        "stylize", "--method", "adain", "--content", str(tmp_path / "cat.jpg"),
        "--style", str(tmp_path / "brick.png"), "--style", str(tmp_path / "coffee.png"),
        "--style-weights", "0.7", "0.3", "--alpha", "0.9", "--preserve-color",
        "--encoder-weights", str(weights_dir / "vgg_normalised.pth"),
        "--weights-dir", str(weights_dir),  # supplies the decoder
        "--tile", "64", "--size", "0", "--device", "cpu", "--out", str(tmp_path / "out.png"),
    ]  # fmt: skip
    # A 64 px tile is below twice the default overlap: refused before any work.
    assert main(argv) == 2
    assert "tile_size must be at least twice tile_overlap (256)" in capsys.readouterr().err
    argv[argv.index("64")] = "256"
    assert main(argv) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "out.png") as img:
        assert img.format == "PNG" and img.size == (80, 53)
    stylizers.clear_cache()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--method", "adain", "--encoder-weights", "{d}/vgg.pth"], "--encoder-weights"),
        (["--method", "adain", "--encoder-weights", "{d}/cat.jpg"], "--decoder-weights"),
        (["--method", "classic", "--decoder-weights", "{d}/x.pth"], "does not apply"),
        (["--style", "{d}/brick.png", "--style-weights", "1", "2", "3"], "style weight"),
        (["--style", "{d}/brick.png"], "cannot blend"),
    ],
    ids=["encoder-missing", "decoder-unset", "not-for-classic", "weights-count", "no-blend"],
)
def test_weights_and_style_flags_fail_with_one_line(files, capsys, extra, message):
    from stylerecs.engine.__main__ import main

    argv = ["stylize", "--content", f"{files}/cat.jpg", "--style", f"{files}/brick.png"]
    argv += [a.format(d=files) for a in extra] + ["--out", str(files / "never.jpg")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (files / "never.jpg").exists()
