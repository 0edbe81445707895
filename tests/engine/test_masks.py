"""Product masks (alpha, uniform-background estimate, uploaded) and faithful blending."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stylerecs.engine.masks import estimate_foreground, feather, product_mask
from stylerecs.engine.pipeline import stylize_many


def truth_mask(size=(160, 120)) -> np.ndarray:
    """An ellipse with a notch: the 'product' of the synthetic photos below."""
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    draw.ellipse((35, 20, 125, 100), fill=255)
    draw.rectangle((75, 15, 85, 40), fill=255)
    return np.asarray(img) > 127


def product_on(background: np.ndarray, photo) -> Image.Image:
    """A textured product (a crop of a photo) pasted on ``background``."""
    mask = truth_mask((background.shape[1], background.shape[0]))
    texture = np.asarray(photo("chelsea", 200).resize(mask.shape[::-1]))
    out = background.copy()
    out[mask] = texture[mask]
    return Image.fromarray(out)


def plain_background(seed=0, size=(160, 120)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.full((size[1], size[0], 3), (236, 234, 230), dtype=np.float32)
    return (base + rng.normal(0, 2.5, base.shape)).clip(0, 255).astype(np.uint8)


def busy_background(photo, size=(160, 120)) -> np.ndarray:
    return np.asarray(photo("coffee", 200).resize(size))


def encode(img: Image.Image, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return buffer.getvalue()


def style_bytes(photo) -> bytes:
    return encode(photo("rocket", 128), "JPEG")


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def inner(mask: np.ndarray, px: int = 4) -> np.ndarray:
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((2 * px + 1,) * 2, np.uint8)) > 0


def run(photo, data: bytes, mode: str, **kwargs):
    (outcome,) = stylize_many(
        [data],
        style_bytes(photo),
        method="classic",
        isolate_decoding=False,
        product_mode=mode,
        score=True,
        quality=95,
        **kwargs,
    )
    assert outcome.ok, outcome.error
    return outcome


def test_alpha_channel_is_the_mask_and_keeps_the_product(photo):
    truth = truth_mask()
    rgba = product_on(busy_background(photo), photo).convert("RGBA")
    rgba.putalpha(Image.fromarray((truth * 255).astype(np.uint8)))
    data = encode(rgba)
    original = np.asarray(rgba.convert("RGB"), dtype=np.float32) / 255
    kept = run(photo, data, "keep")
    assert kept.mask_source == "alpha"
    out = decode(kept.data)
    # Transparent pixels were composited over white, as without a mask.
    assert np.abs(out[inner(truth)] - original[inner(truth)]).mean() < 0.02
    restyled = decode(run(photo, data, "off").data)
    assert np.abs(restyled[inner(truth)] - original[inner(truth)]).mean() > 0.05
    # Measured inside the mask (its feathered rim and SSIM windows see the background).
    assert kept.scores["fidelity"] > 0.75


def test_uniform_background_is_estimated_and_refined(photo):
    truth = truth_mask()
    img = product_on(plain_background(), photo)
    estimate = estimate_foreground(img)
    assert estimate is not None and iou(estimate > 0.5, truth) > 0.9
    mask, source = product_mask(img)
    assert source == "estimated"
    outcome = run(photo, encode(img, "JPEG"), "keep")
    assert outcome.mask_source == "estimated"
    out, original = decode(outcome.data), np.asarray(img, dtype=np.float32) / 255
    assert np.abs(out[inner(truth)] - original[inner(truth)]).mean() < 0.03
    background = ~truth & ~inner(~truth, 0) | inner(~truth)
    assert np.abs(out[background] - original[background]).mean() > 0.05


def test_busy_photo_without_mask_is_restyled_whole(photo):
    img = product_on(busy_background(photo), photo)
    assert product_mask(img) == (None, "")
    outcome = run(photo, encode(img, "JPEG"), "keep")
    assert outcome.mask is None and outcome.mask_source == ""


def test_uploaded_mask_wins_and_corrects(photo):
    truth = truth_mask()
    img = product_on(busy_background(photo), photo)
    uploaded = encode(Image.fromarray((truth * 255).astype(np.uint8)).resize((320, 240)))
    outcome = run(photo, encode(img, "PNG"), "keep", masks=[uploaded])
    assert outcome.mask_source == "uploaded"
    used = decode(outcome.mask)[..., 0] > 0.5
    assert iou(used, truth) > 0.9
    out, original = decode(outcome.data), np.asarray(img, dtype=np.float32) / 255
    assert np.abs(out[inner(truth)] - original[inner(truth)]).mean() < 0.03


def test_soften_restyles_the_product_less_than_the_background(photo):
    truth = truth_mask()
    img = product_on(plain_background(1), photo)
    data = encode(img, "PNG")
    original = np.asarray(img, dtype=np.float32) / 255
    change = {}
    for mode, extra in (("keep", {}), ("soften", {"product_alpha": 0.4}), ("off", {})):
        out = decode(run(photo, data, mode, **extra).data)
        change[mode] = np.abs(out[inner(truth)] - original[inner(truth)]).mean()
    assert change["keep"] < change["soften"] < change["off"]


def test_feathering_leaves_no_halo_outside_the_product():
    truth = truth_mask()
    soft = feather(truth.astype(np.float32), 3.0)
    assert soft[~truth].max() == 0.0  # nothing of the original background survives
    assert soft[inner(truth, 6)].min() == pytest.approx(1.0)
    ring = truth & ~inner(truth, 2)
    assert 0 < soft[ring].mean() < 1  # a soft edge, inside the product


def test_bad_product_mode_and_mask_count_are_clear_errors(photo):
    with pytest.raises(ValueError, match="product_mode"):
        stylize_many([b""], style_bytes(photo), product_mode="maybe")
    with pytest.raises(ValueError, match="mask"):
        stylize_many([b"", b""], style_bytes(photo), product_mode="keep", masks=[None])


def test_cli_keeps_the_product_of_an_uploaded_mask(photo, tmp_path, capsys):
    from stylerecs.engine.__main__ import main

    truth = truth_mask()
    img = product_on(busy_background(photo), photo)
    (tmp_path / "in.png").write_bytes(encode(img))
    (tmp_path / "style.jpg").write_bytes(style_bytes(photo))
    (tmp_path / "mask.png").write_bytes(encode(Image.fromarray((truth * 255).astype(np.uint8))))
    out = tmp_path / "out.png"
    args = [
        "stylize",
        "--content",
        str(tmp_path / "in.png"),
        "--style",
        str(tmp_path / "style.jpg"),
    ]
    code = main(
        [*args, "--out", str(out), "--product-mode", "keep", "--mask", str(tmp_path / "mask.png")]
    )
    assert code == 0, capsys.readouterr().err
    result, original = decode(out.read_bytes()), np.asarray(img, dtype=np.float32) / 255
    assert np.abs(result[inner(truth)] - original[inner(truth)]).mean() < 0.01
    assert np.abs(result[inner(~truth)] - original[inner(~truth)]).mean() > 0.05
