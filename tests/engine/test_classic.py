"""stylerecs.engine.stylizers.classic: colour and texture statistics transfer."""

from __future__ import annotations

import pytest
import torch

from stylerecs.engine.colorspace import lab_to_rgb, rgb_to_lab
from stylerecs.engine.stylizers.base import StyleState
from stylerecs.engine.stylizers.classic import ClassicStylizer
from stylerecs.engine.tensors import pil_to_tensor


@pytest.fixture(scope="module")
def stylizer() -> ClassicStylizer:
    return ClassicStylizer(device="cpu")


@pytest.fixture(scope="module")
def content(photo) -> torch.Tensor:
    return pil_to_tensor(photo("coffee", 128)).unsqueeze(0)


@pytest.fixture(scope="module", params=["astronaut", "brick", "hubble_deep_field"])
def style_image(request, photo) -> torch.Tensor:
    return pil_to_tensor(photo(request.param, 128))


def lab_stats(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = rgb_to_lab(rgb.reshape(1, 3, *rgb.shape[-2:])).flatten(2)[0].double()
    mean = flat.mean(1)
    centred = flat - mean[:, None]
    return mean, centred @ centred.T / flat.shape[1]


def test_alpha_zero_returns_the_content_exactly(stylizer, content, style_image):
    state = stylizer.prepare_style(style_image)
    assert torch.equal(stylizer.stylize(content, state, alpha=0.0), content)


def test_output_lab_statistics_move_toward_the_style(stylizer, content, style_image):
    out = stylizer.stylize(content, stylizer.prepare_style(style_image))
    mean_c, cov_c = lab_stats(content[0])
    mean_s, cov_s = lab_stats(style_image)
    mean_o, cov_o = lab_stats(out[0])
    assert (mean_o - mean_s).norm() < 0.35 * (mean_c - mean_s).norm()
    # Not all the way: clipping back into the sRGB gamut takes some of the spread.
    assert (cov_o - cov_s).norm() < 0.7 * (cov_c - cov_s).norm()


def test_alpha_between_blends_monotonically(stylizer, content, style_image):
    state = stylizer.prepare_style(style_image)
    full = stylizer.stylize(content, state, alpha=1.0)
    half = stylizer.stylize(content, state, alpha=0.5)
    assert torch.allclose(half, (content + full) / 2, atol=1e-5)


def test_preserve_color_keeps_content_colour_but_moves_contrast(stylizer, content, photo):
    style = pil_to_tensor(photo("brick", 128))  # grey and low in contrast
    out = stylizer.stylize(content, stylizer.prepare_style(style), preserve_color=True)
    mean_c, cov_c = lab_stats(content[0])
    _, cov_s = lab_stats(style)
    mean_o, cov_o = lab_stats(out[0])
    assert (mean_o - mean_c).abs().max() < 3.0  # L, a, b means: the content's
    # Lightness spread (contrast) moves most of the way to the style's.
    assert abs(cov_o[0, 0].sqrt() - cov_s[0, 0].sqrt()) < 0.5 * abs(
        cov_c[0, 0].sqrt() - cov_s[0, 0].sqrt()
    )


def test_grey_style_makes_colour_content_grey_unless_colour_is_preserved(stylizer, content, photo):
    state = stylizer.prepare_style(pil_to_tensor(photo("gravel", 128)))
    chroma = rgb_to_lab(stylizer.stylize(content, state))[:, 1:].abs().mean()
    kept = rgb_to_lab(stylizer.stylize(content, state, preserve_color=True))[:, 1:].abs().mean()
    assert chroma < 3.0
    assert kept > 10.0


def test_batch_of_n_equals_n_single_calls(stylizer, photo, style_image):
    state = stylizer.prepare_style(style_image)
    batch = torch.stack(
        [pil_to_tensor(photo(n, 96).resize((96, 64))) for n in ("coffee", "chelsea", "rocket")]
    )
    together = stylizer.stylize(batch, state, alpha=0.8)
    for i in range(batch.shape[0]):
        alone = stylizer.stylize(batch[i : i + 1], state, alpha=0.8)
        assert torch.allclose(together[i : i + 1], alone, atol=1e-5)


def test_is_deterministic_across_instances(content, photo):
    style = pil_to_tensor(photo("brick", 128))
    runs = []
    for _ in range(2):
        s = ClassicStylizer(device="cpu")
        runs.append(s.stylize(content, s.prepare_style(style)))
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (37, 53), (64, 200)])
@pytest.mark.parametrize("preserve", [False, True])
def test_shape_is_preserved_and_values_stay_in_unit_range(stylizer, style_image, size, preserve):
    batch = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(1))
    out = stylizer.stylize(batch, stylizer.prepare_style(style_image), preserve_color=preserve)
    assert out.shape == batch.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


def test_tiny_and_flat_style_images_work(stylizer, content):
    for style in (torch.full((3, 2, 2), 0.5), torch.rand(3, 1, 1)):
        out = stylizer.stylize(content, stylizer.prepare_style(style))
        assert out.shape == content.shape and torch.isfinite(out).all()


def test_tile_texture_mode_and_zero_texture_work(content, photo):
    style = pil_to_tensor(photo("gravel", 128))
    results = {}
    for options in ({"texture_mode": "tile"}, {"texture": 0.0}, {}):
        s = ClassicStylizer(device="cpu", **options)
        results[str(options)] = s.stylize(content, s.prepare_style(style))
    outs = list(results.values())
    assert not torch.equal(outs[0], outs[2]) and not torch.equal(outs[1], outs[2])


def test_style_state_holds_small_tensors_and_moves_between_devices(stylizer, photo):
    state = stylizer.prepare_style(pil_to_tensor(photo("astronaut", 128)))
    assert isinstance(state, StyleState) and state.method == "classic"
    assert state["mean"].shape == (3,) and state["cov"].shape == (3, 3)
    assert state.to("cpu") is state
    assert state.to(torch.device("cpu"))["mean"].device.type == "cpu"


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "strong"])
def test_alpha_outside_unit_range_is_rejected(stylizer, content, style_image, alpha):
    state = stylizer.prepare_style(style_image)
    with pytest.raises(ValueError, match="alpha"):
        stylizer.stylize(content, state, alpha=alpha)


def test_bad_shapes_and_options_are_rejected(stylizer, content):
    with pytest.raises(ValueError, match=r"\[3, H, W\]"):
        stylizer.prepare_style(torch.rand(1, 3, 8, 8))
    state = stylizer.prepare_style(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        stylizer.stylize(content[0], state)
    with pytest.raises(ValueError, match="prepared by"):
        stylizer.stylize(content, StyleState(method="other", tensors={}))
    with pytest.raises(TypeError, match="unknown option"):
        ClassicStylizer(device="cpu", levels=3, colour="blue")
    with pytest.raises(ValueError, match="texture_mode"):
        ClassicStylizer(device="cpu", texture_mode="plaid")


def test_lab_round_trip_is_exact_enough():
    rgb = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)
    white = rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten()
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=0.05)


def test_chunked_batches_give_the_same_result(stylizer, photo, style_image, monkeypatch):
    from stylerecs.engine.stylizers import classic

    state = stylizer.prepare_style(style_image)
    batch = torch.stack(
        [pil_to_tensor(photo(n, 96).resize((96, 64))) for n in ("coffee", "rocket")]
    )
    whole = stylizer.stylize(batch, state)
    monkeypatch.setattr(classic, "_CHUNK_PIXELS", (96 * 64, 96 * 64))  # one image per chunk
    assert torch.allclose(stylizer.stylize(batch, state), whole, atol=1e-5)
