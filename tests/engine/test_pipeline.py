"""stylerecs.engine.pipeline: bytes in, one outcome per image out."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from stylerecs.engine import pipeline, stylizers
from stylerecs.engine.images import ImageError, ImageLimits
from stylerecs.engine.pipeline import StylizeOutcome, stylize_many
from stylerecs.engine.stylizers.classic import ClassicStylizer


class CountingClassic(ClassicStylizer):
    """The real classic stylizer, counting how often a style is prepared."""

    name = "counting-classic"
    prepared = 0

    def prepare_style(self, image):
        type(self).prepared += 1
        return super().prepare_style(image)


@pytest.fixture(autouse=True)
def fresh_caches():
    pipeline.clear_style_cache()
    stylizers.register("counting-classic", CountingClassic)
    CountingClassic.prepared = 0
    yield
    pipeline.clear_style_cache()
    stylizers._registered.pop("counting-classic", None)
    stylizers.clear_cache()


@pytest.fixture(scope="module")
def jpegs(photo, to_bytes):
    return {n: to_bytes(photo(n, 96), "JPEG") for n in ("coffee", "chelsea", "rocket")}


@pytest.fixture(scope="module")
def style_bytes(photo, to_bytes):
    return to_bytes(photo("astronaut", 96), "PNG")


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_one_bad_content_fails_alone(jpegs, style_bytes):
    contents = [jpegs["coffee"], b"not an image", jpegs["chelsea"], jpegs["coffee"][:300]]
    outcomes = stylize_many(contents, style_bytes, device="cpu", isolate_decoding=True)
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert "not an image" in outcomes[1].error
    assert "truncated or corrupt" in outcomes[3].error
    assert outcomes[1].data is None and outcomes[1].width == 0
    for outcome in (outcomes[0], outcomes[2]):
        img = decode(outcome.data)
        assert img.format == "JPEG" and img.size == (outcome.width, outcome.height)
        assert not img.getexif() and "icc_profile" not in img.info
        assert outcome.error == "" and outcome.seconds > 0


def test_outcomes_keep_input_order_across_size_groups(jpegs, style_bytes, photo, to_bytes):
    small = to_bytes(photo("coffee", 48), "JPEG")
    contents = [jpegs["coffee"], small, jpegs["chelsea"], jpegs["rocket"], small]
    outcomes = stylize_many(contents, style_bytes, device="cpu", isolate_decoding=False)
    sizes = [(o.width, o.height) for o in outcomes]
    assert sizes == [(96, 64), (48, 32), (96, 64), (96, 64), (48, 32)]
    # The two copies of the same image, stylized in one batch, come out identical.
    assert outcomes[1].data == outcomes[4].data


def test_batched_result_equals_the_single_image_result(jpegs, style_bytes):
    many = stylize_many(list(jpegs.values()), style_bytes, isolate_decoding=False)
    one = stylize_many([jpegs["chelsea"]], style_bytes, isolate_decoding=False)
    a, b = decode(many[1].data), decode(one[0].data)
    diff = torch.tensor(list(a.tobytes()), dtype=torch.int16) - torch.tensor(list(b.tobytes()))
    assert diff.abs().max() <= 1  # float noise at most flips one rounding step


def test_style_is_prepared_once_per_style_key(jpegs, style_bytes):
    kwargs = dict(method="counting-classic", device="cpu", isolate_decoding=False)
    stylize_many([jpegs["coffee"]], style_bytes, style_key="style-1-v1", **kwargs)
    stylize_many([jpegs["chelsea"], jpegs["rocket"]], style_bytes, style_key="style-1-v1", **kwargs)
    assert CountingClassic.prepared == 1
    stylize_many([jpegs["coffee"]], style_bytes, style_key="style-1-v2", **kwargs)
    assert CountingClassic.prepared == 2
    stylize_many([jpegs["coffee"]], style_bytes, **kwargs)  # no key: not cached
    stylize_many([jpegs["coffee"]], style_bytes, **kwargs)
    assert CountingClassic.prepared == 4


def test_style_cache_is_bounded(jpegs, style_bytes, monkeypatch):
    monkeypatch.setattr(pipeline._style_cache, "maxsize", 2)
    for key in ("a", "b", "c"):
        stylize_many([jpegs["coffee"]], style_bytes, style_key=key, isolate_decoding=False)
    assert len(pipeline._style_cache) == 2


def test_bad_style_image_raises(jpegs):
    with pytest.raises(ImageError, match="not an image"):
        stylize_many([jpegs["coffee"]], b"<html>nope</html>", isolate_decoding=False)


def test_limits_apply_to_each_content(jpegs, photo, to_bytes):
    tiny_style = to_bytes(photo("gravel", 8), "PNG")
    limits = ImageLimits(max_bytes=len(tiny_style) + 10)
    assert len(jpegs["coffee"]) > limits.max_bytes
    (outcome,) = stylize_many([jpegs["coffee"]], tiny_style, limits=limits)
    assert not outcome.ok and outcome.error.startswith("file too large")


def test_alpha_zero_gives_back_the_content_and_options_reach_the_stylizer(jpegs, style_bytes):
    (outcome,) = stylize_many(
        [jpegs["coffee"]], style_bytes, alpha=0.0, quality=95, isolate_decoding=False
    )
    original = decode(jpegs["coffee"]).convert("RGB")
    got = decode(outcome.data)
    diff = [abs(a - b) for a, b in zip(original.tobytes(), got.tobytes(), strict=True)]
    assert sum(diff) / len(diff) < 3  # JPEG re-encoding only
    with pytest.raises(TypeError, match="unknown option"):
        stylize_many([jpegs["coffee"]], style_bytes, options={"nope": 1})


def test_invalid_alpha_and_unknown_method_fail_before_any_work(jpegs, style_bytes):
    with pytest.raises(ValueError, match="alpha"):
        stylize_many([jpegs["coffee"]], style_bytes, alpha=2)
    with pytest.raises(KeyError, match="picasso"):
        stylize_many([jpegs["coffee"]], style_bytes, method="picasso")


def test_max_side_caps_the_output(jpegs, style_bytes):
    (outcome,) = stylize_many([jpegs["coffee"]], style_bytes, max_side=50, isolate_decoding=False)
    assert (outcome.width, outcome.height) == (50, 33)


def test_empty_content_list_gives_no_outcomes(style_bytes):
    assert stylize_many([], style_bytes, isolate_decoding=False) == []


def test_outcome_defaults():
    assert StylizeOutcome(ok=False) == StylizeOutcome(False, None, 0, 0, "", 0.0)


class SmallMemoryClassic(ClassicStylizer):
    """Classic, but 'runs out of GPU memory' on batches larger than two."""

    name = "small-memory"
    batch_sizes: list[int] = []

    def stylize(self, batch, style_state, *, alpha=1.0, preserve_color=False):
        type(self).batch_sizes.append(batch.shape[0])
        if batch.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().stylize(batch, style_state, alpha=alpha, preserve_color=preserve_color)


def test_out_of_memory_splits_the_batch_instead_of_failing_it(jpegs, style_bytes):
    stylizers.register("small-memory", SmallMemoryClassic)
    SmallMemoryClassic.batch_sizes = []
    contents = [
        jpegs["coffee"],
        jpegs["chelsea"],
        jpegs["rocket"],
        jpegs["coffee"],
        jpegs["chelsea"],
    ]
    outcomes = stylize_many(contents, style_bytes, method="small-memory", isolate_decoding=False)
    assert all(o.ok for o in outcomes)
    assert SmallMemoryClassic.batch_sizes == [5, 2, 3, 1, 2]
    a, b = decode(outcomes[0].data), decode(outcomes[3].data)  # same image, other batch
    assert max(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True)) <= 1
    stylizers._registered.pop("small-memory", None)


class PixelBudgetClassic(ClassicStylizer):
    """Classic, taking at most two 96 x 64 images per batch, recording each batch."""

    name = "pixel-budget"
    batch_pixels = 2 * 96 * 64
    batch_sizes: list[int] = []

    def stylize(self, batch, style_state, *, alpha=1.0, preserve_color=False):
        type(self).batch_sizes.append(batch.shape[0])
        return super().stylize(batch, style_state, alpha=alpha, preserve_color=preserve_color)


def test_same_sized_images_are_batched_within_the_stylizers_pixel_budget(jpegs, style_bytes):
    stylizers.register("pixel-budget", PixelBudgetClassic)
    PixelBudgetClassic.batch_sizes = []
    assert decode(jpegs["coffee"]).size == (96, 64)
    outcomes = stylize_many(
        [jpegs["coffee"]] * 5, style_bytes, method="pixel-budget", isolate_decoding=False
    )
    assert all(o.ok for o in outcomes)
    assert PixelBudgetClassic.batch_sizes == [2, 2, 1]
    assert len({o.data for o in outcomes}) == 1  # batching does not change a result
    stylizers._registered.pop("pixel-budget", None)
