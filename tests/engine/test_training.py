"""stylerecs.engine.training: training an AdaIN decoder, resumably."""

from __future__ import annotations

import pytest
import torch

from stylerecs.engine import checkpoints, loading
from stylerecs.engine.stylizers.adain import AdaINStylizer
from stylerecs.engine.tensors import pil_to_tensor
from stylerecs.engine.training import list_images, train_decoder

TINY = {"batch_size": 2, "crop": 32, "load_size": 48}  # and the paper's lr, 1e-4


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory, photo):
    """A handful of 64 px photos as content and styles, and one corrupt file."""
    root = tmp_path_factory.mktemp("training")
    content, style = root / "content", root / "style" / "nested"
    content.mkdir()
    style.mkdir(parents=True)
    for name in ("coffee", "chelsea", "astronaut", "rocket"):
        photo(name, 64).save(content / f"{name}.jpg", quality=90)
    for name in ("brick", "gravel", "hubble_deep_field"):
        photo(name, 64).save(style / f"{name}.png")
    (content / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (content / "notes.txt").write_text("not an image, not listed")
    return content, root / "style"


@pytest.fixture(scope="module")
def encoder_path(weights_dir):
    return weights_dir / "vgg_normalised.pth"


def test_list_images_is_recursive_sorted_and_by_suffix(data_dirs):
    content, style = data_dirs
    assert [p.name for p in list_images(content)] == [
        "astronaut.jpg",
        "broken.jpg",
        "chelsea.jpg",
        "coffee.jpg",
        "rocket.jpg",
    ]
    assert len(list_images(style)) == 3  # found in style/nested


def test_loss_falls_and_corrupt_files_are_skipped(data_dirs, encoder_path, tmp_path):
    content, style = data_dirs
    result = train_decoder(
        encoder_weights=encoder_path,
        content_dir=content,
        style_dir=style,
        steps=20,
        out=tmp_path / "decoder.pth",
        seed=0,
        **TINY,
    )
    assert (result.start_step, result.step, len(result.losses)) == (0, 20, 20)
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < 0.5 * first, result.losses
    assert [s.split(":")[0] for s in result.skipped_files] == [str(content / "broken.jpg")]


def test_resume_continues_the_step_count_exactly_like_an_uninterrupted_run(
    data_dirs, encoder_path, tmp_path
):
    content, style = data_dirs
    common = {"encoder_weights": encoder_path, "content_dir": content, "style_dir": style}
    whole = train_decoder(steps=5, out=tmp_path / "whole.pth", **common, **TINY)
    train_decoder(steps=3, out=tmp_path / "parts.pth", **common, **TINY)
    resumed = train_decoder(steps=5, out=tmp_path / "parts.pth", resume=True, **common, **TINY)

    assert (resumed.start_step, resumed.step, len(resumed.losses)) == (3, 5, 2)
    # Data depends on (seed, step) and the optimizer state is saved: same numbers.
    assert resumed.losses == pytest.approx(whole.losses[3:], rel=1e-5)
    saved = torch.load(tmp_path / "parts.pth", weights_only=True)
    assert saved["step"] == 5 and saved["format"] == "adain-decoder"
    assert saved["encoder"] == {
        "sha256": checkpoints.file_sha256(encoder_path),
        "format": "adain-vgg",
    }
    reference = torch.load(tmp_path / "whole.pth", weights_only=True)["state_dict"]
    for key, value in saved["state_dict"].items():
        torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-6)

    again = train_decoder(steps=5, out=tmp_path / "parts.pth", resume=True, **common, **TINY)
    assert (again.start_step, again.step, again.losses) == (5, 5, [])


def test_an_existing_checkpoint_is_not_overwritten_without_resume(
    data_dirs, encoder_path, tmp_path
):
    content, style = data_dirs
    out = tmp_path / "decoder.pth"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="resume"):
        train_decoder(
            encoder_weights=encoder_path, content_dir=content, style_dir=style, steps=1, out=out
        )
    assert out.read_bytes() == b"precious"


def test_resuming_with_another_encoder_is_refused(data_dirs, encoder_path, weights_dir, tmp_path):
    content, style = data_dirs
    out = tmp_path / "decoder.pth"
    common = {"content_dir": content, "style_dir": style, "out": out, **TINY}
    train_decoder(encoder_weights=encoder_path, steps=1, **common)
    with pytest.raises(checkpoints.CheckpointError, match="another encoder"):
        train_decoder(
            encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth", steps=2, resume=True, **common
        )


def test_trained_decoder_loads_back_and_stylizes_with_adain(
    data_dirs, encoder_path, tmp_path, photo
):
    content, style = data_dirs
    out = tmp_path / "mine.pth"
    train_decoder(
        encoder_weights=encoder_path, content_dir=content, style_dir=style, steps=2, out=out, **TINY
    )
    report = checkpoints.validate(out)
    assert report.ok and report.format == "adain-decoder", report
    decoder = loading.load_decoder(out, cached=False)
    assert decoder(torch.zeros(1, 512, 4, 4)).shape == (1, 3, 32, 32)

    stylizer = AdaINStylizer(device="cpu", encoder_weights=encoder_path, decoder_weights=out)
    state = stylizer.prepare_style(pil_to_tensor(photo("brick", 48)))
    image = pil_to_tensor(photo("coffee", 48)).unsqueeze(0)
    result = stylizer.stylize(image, state)
    assert result.shape == image.shape and torch.isfinite(result).all()


def test_cli_trains_and_resumes(data_dirs, encoder_path, tmp_path, capsys):
    from stylerecs.engine.__main__ import main

    content, style = data_dirs
    out = tmp_path / "cli.pth"
    args = ["train-decoder", "--encoder-weights", str(encoder_path), "--content-dir",
            str(content), "--style-dir", str(style), "--out", str(out), "--batch-size", "1",
            "--crop", "32", "--load-size", "48", "--device", "cpu"]  # fmt: skip
    assert main([*args, "--steps", "1"]) == 0
    assert "trained steps 1..1" in capsys.readouterr().out
    assert main([*args, "--steps", "2"]) == 2  # exists, no --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--steps", "2", "--resume"]) == 0
    assert "trained steps 2..2" in capsys.readouterr().out
