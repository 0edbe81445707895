"""The texture stylizer (Elad & Milanfar): texture moves toward the style, content stays."""

from __future__ import annotations

import io

import pytest
import torch

from stylerecs.engine.quality import quality_scores
from stylerecs.engine.stylizers import available, get_stylizer
from stylerecs.engine.stylizers.classic import ClassicStylizer
from stylerecs.engine.stylizers.texture import TextureStylizer
from stylerecs.engine.tensors import pil_to_tensor

# Lowest luminance SSIM to the content we accept from the texture method on these pairs
# at these small test sizes (128 px, full strength; bench/quality.py measures 0.5-0.7 at
# 512 px; classic scores higher because it moves the style less).
SSIM_FLOOR = 0.35


def demo_style(slug: str, side: int = 192) -> torch.Tensor:
    from PIL import Image

    from shop.demo_data import style_reference

    img = Image.open(io.BytesIO(style_reference(slug))).convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return pil_to_tensor(img)


@pytest.fixture(scope="module")
def stylizer():
    return TextureStylizer(device="cpu", work_side=128, style_side=160)


def test_texture_is_a_built_in_weight_free_stylizer():
    assert available()["texture"] == "stylerecs.engine.stylizers.texture.TextureStylizer"
    assert not TextureStylizer.needs_weights
    assert isinstance(get_stylizer("texture", device="cpu"), TextureStylizer)


@pytest.mark.parametrize("slug", ["brickwork", "botanical"])
def test_moves_texture_statistics_further_than_classic_and_keeps_the_content(photo, stylizer, slug):
    content = pil_to_tensor(photo("coffee", 128))
    style = demo_style(slug, 160)
    ours = stylizer.stylize(content[None], stylizer.prepare_style(style))[0]
    classic = ClassicStylizer(device="cpu")
    theirs = classic.stylize(content[None], classic.prepare_style(style))[0]
    ours_q = quality_scores(content, ours, style)
    theirs_q = quality_scores(content, theirs, style)
    # A margin, not a tie: the texture method closes clearly more of the gap.
    assert ours_q["style_gap_closed"] >= theirs_q["style_gap_closed"] + 0.03, (ours_q, theirs_q)
    assert ours_q["style_distance"] < theirs_q["style_distance"]
    assert ours_q["ssim"] >= SSIM_FLOOR, ours_q


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_fine_moss_texture_moves_further_than_classic(photo, name):
    # The grass blades are a pixel or two wide: they need the 5 px patches and the band
    # matching, and a style large enough to have them (at 128 px classic's grain wins).
    content = pil_to_tensor(photo(name, 256))
    style = demo_style("moss", 320)
    ours = TextureStylizer(device="cpu", work_side=256, style_side=320)
    classic = ClassicStylizer(device="cpu")
    ours_q = quality_scores(
        content, ours.stylize(content[None], ours.prepare_style(style))[0], style
    )
    theirs = classic.stylize(content[None], classic.prepare_style(style))[0]
    theirs_q = quality_scores(content, theirs, style)
    # Measured +0.025 (astronaut) and +0.034 (coffee); before band matching -0.003, +0.003.
    assert ours_q["style_gap_closed"] >= theirs_q["style_gap_closed"] + 0.015, (ours_q, theirs_q)
    assert ours_q["fidelity"] >= theirs_q["fidelity"] - 0.05, (ours_q, theirs_q)


def test_a_dark_sparse_style_keeps_the_product_recognisable(photo, stylizer):
    # The Hubble deep field is nearly black: matched fully, the cat went black too
    # (fidelity 0.27 here). Kept lightness and detail bring it back, and the variant
    # still moves further toward the style than classic's.
    content = pil_to_tensor(photo("chelsea", 128))
    style = demo_style("cosmic", 160)
    ours = stylizer.stylize(content[None], stylizer.prepare_style(style))[0]
    classic = ClassicStylizer(device="cpu")
    theirs = classic.stylize(content[None], classic.prepare_style(style))[0]
    ours_q = quality_scores(content, ours, style)
    theirs_q = quality_scores(content, theirs, style)
    assert ours_q["fidelity"] >= 0.45, ours_q
    assert ours_q["style_gap_closed"] >= theirs_q["style_gap_closed"] + 0.03, (ours_q, theirs_q)


def test_strength_zero_returns_the_content_exactly(photo, stylizer):
    content = pil_to_tensor(photo("chelsea", 96))[None]
    state = stylizer.prepare_style(demo_style("brickwork", 96))
    assert torch.equal(stylizer.stylize(content, state, alpha=0.0), content)
    half = stylizer.stylize(content, state, alpha=0.5)
    full = stylizer.stylize(content, state, alpha=1.0)
    assert torch.allclose(half, 0.5 * (content + full), atol=1e-5)


def test_output_is_deterministic_and_batching_changes_nothing(photo, stylizer):
    a = pil_to_tensor(photo("chelsea", 96))
    b = pil_to_tensor(photo("coffee", 96).resize((a.shape[2], a.shape[1])))
    state = stylizer.prepare_style(demo_style("moss", 96))
    batch = stylizer.stylize(torch.stack((a, b)), state)
    assert batch.shape == (2, *a.shape) and batch.min() >= 0 and batch.max() <= 1
    # Alone or in a batch, the same image gets the same result, up to near-ties in the
    # patch search that float rounding of a differently blocked GEMM can flip.
    alone = stylizer.stylize(a[None], state)[0]
    assert (alone - batch[0]).abs().mean() < 0.01
    assert (alone - batch[0]).abs().gt(0.05).float().mean() < 0.02
    assert torch.equal(stylizer.stylize(torch.stack((a, b)), state), batch)


def test_preserve_color_keeps_the_content_chroma(photo, stylizer):
    from stylerecs.engine.colorspace import rgb_to_lab

    content = pil_to_tensor(photo("coffee", 96))[None]
    state = stylizer.prepare_style(demo_style("moss", 96))
    kept = stylizer.stylize(content, state, preserve_color=True)
    moved = stylizer.stylize(content, state)
    chroma = lambda x: rgb_to_lab(x)[:, 1:]  # noqa: E731
    kept_err = (chroma(kept) - chroma(content)).abs().mean()
    moved_err = (chroma(moved) - chroma(content)).abs().mean()
    assert kept_err < 0.3 * moved_err, (kept_err, moved_err)


def test_large_styles_use_the_approximate_search_and_still_carry_texture(photo):
    content = pil_to_tensor(photo("coffee", 128))
    style = demo_style("brickwork", 192)
    approx = TextureStylizer(device="cpu", work_side=128, max_patches=256)
    state = approx.prepare_style(style)
    assert state["proj0_9"].shape[0] > 256  # more patches than one search looks at
    out = approx.stylize(content[None], state)[0]
    scores = quality_scores(content, out, style)
    assert scores["style_gap_closed"] > 0.3 and scores["ssim"] >= SSIM_FLOOR


def test_images_larger_than_the_work_side_keep_their_size_and_detail(photo):
    small = TextureStylizer(device="cpu", work_side=64)
    content = pil_to_tensor(photo("chelsea", 160))[None]
    out = small.stylize(content, small.prepare_style(demo_style("brickwork", 96)))
    assert out.shape == content.shape
    assert quality_scores(content[0], out[0], content[0])["edges"] > 0.3


def test_bad_options_and_foreign_states_are_clear_errors(stylizer):
    with pytest.raises(ValueError, match="iterations"):
        TextureStylizer(device="cpu", iterations=0)
    with pytest.raises(TypeError, match="unknown option"):
        TextureStylizer(device="cpu", patchsize=3)
    classic = ClassicStylizer(device="cpu")
    state = classic.prepare_style(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="not texture"):
        stylizer.stylize(torch.rand(1, 3, 32, 32), state)
