"""stylerecs.engine.stylizers.gatys: optimisation-based style transfer on VGG-19."""

from __future__ import annotations

import pytest
import torch

from stylerecs.engine.colorspace import rgb_to_lab
from stylerecs.engine.pipeline import stylize_many
from stylerecs.engine.stylizers import WeightsMissing, get_stylizer_class
from stylerecs.engine.stylizers.gatys import GatysStylizer
from stylerecs.engine.tensors import pil_to_tensor


@pytest.fixture(scope="module")
def content(photo) -> torch.Tensor:
    return pil_to_tensor(photo("chelsea", 48)).unsqueeze(0)  # 48 x 32


@pytest.fixture(scope="module")
def style(photo) -> torch.Tensor:
    return pil_to_tensor(photo("brick", 48))


def test_is_registered_as_gatys_and_needs_weights():
    assert get_stylizer_class("gatys") is GatysStylizer
    assert GatysStylizer.needs_weights


@pytest.mark.parametrize("weights", [None, "missing/vgg19.pth"])
def test_missing_weights_raise_weights_missing_naming_setting_and_flag(weights, tmp_path):
    path = None if weights is None else str(tmp_path / weights)
    with pytest.raises(WeightsMissing) as info:
        GatysStylizer(device="cpu", encoder_weights=path)
    message = str(info.value)
    assert 'STYLERECS["WEIGHTS"]["vgg19"]' in message and "--encoder-weights" in message
    if path:
        assert path in message


@pytest.mark.parametrize("layout_file", ["vgg19-dcbb9e9d.pth", "vgg_normalised.pth"])
def test_style_loss_drops_tenfold_and_progress_reports_every_step(
    weights_dir, content, style, layout_file
):
    stylizer = GatysStylizer(device="cpu", encoder_weights=weights_dir / layout_file, steps=20)
    state = stylizer.prepare_style(style)
    calls = []
    with torch.inference_mode():  # as the pipeline calls it: gatys must still optimise
        out = stylizer.stylize(content, state, progress=lambda *a: calls.append(a))

    assert [step for step, _, _ in calls] == list(range(1, 21))
    assert {total for _, total, _ in calls} == {20}
    first, last = calls[0][2], calls[-1][2]
    assert set(first) == {"content", "style", "tv", "total"}
    assert first["content"] == pytest.approx(0.0, abs=1e-9)  # initialised from the content
    assert last["style"] < first["style"] / 10
    assert out.shape == content.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert (out - content).abs().mean() > 0.01


def test_alpha_zero_returns_the_content_without_optimising(weights_dir, content, style):
    calls = []
    stylizer = GatysStylizer(
        device="cpu",
        encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth",
        steps=5,
        progress=lambda *a: calls.append(a),
    )
    out = stylizer.stylize(content, stylizer.prepare_style(style), alpha=0.0)
    assert torch.equal(out, content) and calls == []


def test_alpha_blends_the_result_with_the_content(weights_dir, content, style):
    stylizer = GatysStylizer(
        device="cpu", encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth", steps=4
    )
    state = stylizer.prepare_style(style)
    full = stylizer.stylize(content, state, alpha=1.0)
    half = stylizer.stylize(content, state, alpha=0.5)  # deterministic: same optimisation
    torch.testing.assert_close(half, (content + full) / 2, atol=1e-5, rtol=0)


def test_preserve_color_keeps_the_contents_colour(weights_dir, content, style):
    stylizer = GatysStylizer(
        device="cpu", encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth", steps=6
    )
    state = stylizer.prepare_style(style)
    out = stylizer.stylize(content, state, preserve_color=True)
    lab_in, lab_out = rgb_to_lab(content), rgb_to_lab(out)
    # a*b* are the content's (up to gamut clipping); lightness keeps its mean.
    assert (lab_out[:, 1:] - lab_in[:, 1:]).abs().mean() < 1.5
    assert lab_out[:, 0].mean() == pytest.approx(float(lab_in[:, 0].mean()), abs=1.5)
    assert (lab_out[:, 0] - lab_in[:, 0]).abs().mean() > 0.5  # but its texture changed


def test_lbfgs_optimises_a_batch_image_by_image(weights_dir, content, style):
    calls = []
    stylizer = GatysStylizer(
        device="cpu",
        encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth",
        steps=2,
        optimizer="lbfgs",
    )
    batch = torch.cat((content, content.flip(-1)))[..., :32, :32]
    out = stylizer.stylize(
        batch, stylizer.prepare_style(style), progress=lambda *a: calls.append(a)
    )
    assert [(step, total) for step, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert out.shape == batch.shape and torch.isfinite(out).all()


def test_bad_options_are_refused(weights_dir):
    path = weights_dir / "vgg19-dcbb9e9d.pth"
    for options in ({"steps": 0}, {"optimizer": "sgd"}, {"lr": 0}, {"style_weight": -1}):
        with pytest.raises(ValueError):
            GatysStylizer(device="cpu", encoder_weights=path, **options)
    with pytest.raises(TypeError):
        GatysStylizer(device="cpu", encoder_weights=path, stepz=3)


def test_runs_through_the_pipeline(weights_dir, photo, to_bytes):
    outcomes = stylize_many(
        [to_bytes(photo("coffee", 48)), b"not an image"],
        to_bytes(photo("brick", 48), "PNG"),
        method="gatys",
        device="cpu",
        isolate_decoding=False,
        options={"encoder_weights": str(weights_dir / "vgg19-dcbb9e9d.pth"), "steps": 2},
    )
    assert outcomes[0].ok and outcomes[0].width == 48
    assert not outcomes[1].ok and outcomes[1].error
