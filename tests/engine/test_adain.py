"""stylerecs.engine.stylizers.adain: AdaIN on real-format (random) checkpoints, small images."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylerecs.engine import loading, pipeline, stylizers
from stylerecs.engine.stylizers import WeightsMissing, get_stylizer
from stylerecs.engine.stylizers.adain import (
    AdaINStylizer,
    adain,
    blend_states,
    match_color,
    mean_std,
)
from stylerecs.engine.tensors import pil_to_tensor

# The community files' layouts, written out independently of stylerecs.engine.vgg:
# conv indices in order, "M" for 2x2 max pooling (ceil mode), "U" for nearest x2.
ENCODER_TO_RELU4_1 = [2, 5, "M", 9, 12, "M", 16, 19, 22, 25, "M", 29]
DECODER = [1, "U", 5, 8, 11, 14, "U", 18, 21, "U", 25, 28]


def reference_stylize(content, style, sd_enc, sd_dec, alpha=1.0):
    """AdaIN in float64 with plain functional ops, straight from the state dicts."""

    def conv(x, sd, i):
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, sd[f"{i}.weight"].double(), sd[f"{i}.bias"].double())

    def encode(x):
        x = F.conv2d(x.double(), sd_enc["0.weight"].double(), sd_enc["0.bias"].double())
        for item in ENCODER_TO_RELU4_1:
            x = (
                F.max_pool2d(x, 2, 2, ceil_mode=True)
                if item == "M"
                else F.relu(conv(x, sd_enc, item))
            )
        return x

    def stats(f):
        flat = f.flatten(2)
        return flat.mean(2)[..., None, None], (flat.var(2, unbiased=True) + 1e-5).sqrt()[
            ..., None, None
        ]

    f_c, f_s = encode(content), encode(style)
    (m_c, s_c), (m_s, s_s) = stats(f_c), stats(f_s)
    t = alpha * ((f_c - m_c) / s_c * s_s + m_s) + (1 - alpha) * f_c
    for item in DECODER:
        if item == "U":
            t = F.interpolate(t, scale_factor=2, mode="nearest")
        else:
            t = conv(t, sd_dec, item)
            t = t if item == 28 else F.relu(t)
    return t.clamp(0, 1)


@pytest.fixture(scope="module")
def paths(weights_dir):
    return {
        "encoder_weights": str(weights_dir / "vgg_normalised.pth"),
        "decoder_weights": str(weights_dir / "decoder.pth"),
    }


@pytest.fixture(scope="module")
def model(paths):
    return AdaINStylizer(device="cpu", **paths)


@pytest.fixture(scope="module")
def images(photo):
    return {
        name: pil_to_tensor(photo(name, side))
        for name, side in (("chelsea", 64), ("astronaut", 48), ("coffee", 48), ("brick", 48))
    }


def test_output_equals_an_independent_float64_computation(model, images, weights_dir):
    content, style = images["chelsea"][:, :40, :64], images["astronaut"]
    sd_enc = torch.load(weights_dir / "vgg_normalised.pth", weights_only=True)
    sd_dec = torch.load(weights_dir / "decoder.pth", weights_only=True)
    expected = reference_stylize(content[None], style[None], sd_enc, sd_dec, alpha=0.6)
    out = model.stylize(content[None], model.prepare_style(style), alpha=0.6)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 40, 64)
    assert expected.std() > 0.05 and expected.gt(0).float().mean() > 0.9  # not clipped flat
    torch.testing.assert_close(out.double(), expected, atol=2e-4, rtol=0)


def test_adain_gives_the_features_the_styles_channel_means_and_stds():
    torch.manual_seed(0)
    content = torch.randn(2, 16, 9, 7) * 3 + 1
    style = torch.rand(1, 16, 12, 12) * 5
    s_mean, s_std = mean_std(style)
    out_mean, out_std = mean_std(adain(content, s_mean, s_std))
    torch.testing.assert_close(out_mean, s_mean.expand(2, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out_std, s_std.expand(2, -1), atol=1e-4, rtol=1e-4)


def test_alpha_zero_is_the_decoders_reconstruction(model, images):
    content = images["chelsea"][:, :40][None]  # a multiple of 8: no padding to undo
    out = model.stylize(content, model.prepare_style(images["astronaut"]), alpha=0.0)
    with torch.inference_mode():
        expected = model.decoder(model.encoder(content)).clamp(0, 1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_blend_with_weights_one_and_zero_is_exactly_the_single_style(model, images):
    content = images["chelsea"][None]
    a, b = model.prepare_style(images["astronaut"]), model.prepare_style(images["brick"])
    single = model.stylize(content, a)
    assert torch.equal(model.stylize(content, [(a, 1.0), (b, 0.0)]), single)
    assert torch.equal(model.stylize(content, blend_states([(a, 3.0), (b, 0.0)])), single)
    half = model.stylize(content, [(a, 0.5), (b, 0.5)])
    other = model.stylize(content, b)
    # An even mix lies between the two styles, not at either.
    assert (half - single).abs().mean() > 0.01 and (half - other).abs().mean() > 0.01
    assert (half - (single + other) / 2).abs().mean() < (single - other).abs().mean() / 2
    with pytest.raises(ValueError, match="weights"):
        blend_states([(a, -1.0), (b, 2.0)])


def test_preserve_color_uses_the_style_recoloured_to_the_content(model, images):
    # A colourful style: a grey one (rank-1 colour covariance) cannot take on a full one.
    content, style = images["chelsea"][None], images["coffee"]
    recoloured = match_color(style, content[0])
    # The recoloured style has the content's colour mean and covariance.
    torch.testing.assert_close(recoloured.mean((1, 2)), content[0].mean((1, 2)), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.cov(recoloured.flatten(1)), torch.cov(content[0].flatten(1)), atol=1e-4, rtol=0
    )
    state = model.prepare_style(style)
    kept = model.stylize(content, state, preserve_color=True)
    expected = model.stylize(content, model.prepare_style(recoloured))
    torch.testing.assert_close(kept, expected, atol=1e-5, rtol=0)
    assert (kept - model.stylize(content, state)).abs().mean() > 1e-3


class SmallGPU(AdaINStylizer):
    """AdaIN that "runs out of CUDA memory" encoding more than 64 x 128 pixels."""

    def _encode(self, images):
        if images.shape[0] * images.shape[-2] * images.shape[-1] > 64 * 128:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super()._encode(images)


@pytest.fixture(scope="module")
def tiled_pair(paths, photo):
    """The same 192 x 160 image stylized whole and in 128 px tiles overlapping by 64."""
    model = AdaINStylizer(device="cpu", tile_overlap=64, **paths)
    content = pil_to_tensor(photo("astronaut", 192))[:, 16:176, :][None]  # 160 x 192
    state = model.prepare_style(pil_to_tensor(photo("coffee", 64)))
    return model.stylize(content, state), model.stylize(content, state, tile_size=128)


def test_tiled_and_untiled_agree_away_from_the_blend_zones(tiled_pair):
    whole, tiled = tiled_pair
    assert tiled.shape == whole.shape == (1, 3, 160, 192)
    # Rows tile as (0, 112), (48, 160) and columns as (0, 128), (64, 192). Outside the
    # overlaps each pixel comes from one tile, at least 64 px (the networks' reach) from
    # its inner edges, and that tile's content statistics are the whole image's: the
    # same numbers.
    diff = (whole - tiled).abs()[0].amax(0)
    outside = torch.ones_like(diff, dtype=torch.bool)
    outside[48:112, :] = False
    outside[:, 64:128] = False
    assert diff[outside].max() < 1e-4
    # Inside, tiles saw less context than the whole image did; still close.
    assert diff.mean() < 2e-3 and diff.max() < 0.05


def test_no_seam_along_tile_borders(tiled_pair):
    whole, tiled = tiled_pair

    def line_energy(img):
        """Mean |horizontal gradient| of each column, mean |vertical gradient| of each row."""
        grey = img[0].mean(0)
        return (grey[:, 1:] - grey[:, :-1]).abs().mean(0), (grey[1:] - grey[:-1]).abs().mean(1)

    # A seam is a line (a tile border, or a cut through an overlap) with more gradient
    # energy than the same line of the untiled image. Stitching the four tiles stylized
    # on their own, cut at the middle of each overlap, measured 2.3x (columns) and 2.6x
    # (rows) at the cuts; the cross-faded tiles stay within a few percent everywhere.
    for tiled_lines, whole_lines in zip(line_energy(tiled), line_energy(whole), strict=True):
        assert (tiled_lines / whole_lines).max() < 1.15
        assert (tiled_lines / whole_lines).min() > 0.85


def test_out_of_memory_hands_a_batch_back_and_retries_one_image_in_smaller_tiles(paths, images):
    small = SmallGPU(device="cpu", tile_overlap=64, **paths)
    state = small.prepare_style(images["coffee"])
    # A batch goes back to the caller, whose pipeline splits it.
    with pytest.raises(torch.cuda.OutOfMemoryError):
        small.stylize(torch.rand(2, 3, 96, 96), state)
    # One image that does not fit whole is redone in 128 px tiles: the same result as
    # asking for them.
    content = torch.rand(1, 3, 64, 136, generator=torch.Generator().manual_seed(0))  # > 64 x 128
    expected = AdaINStylizer(device="cpu", tile_overlap=64, **paths).stylize(
        content, state, tile_size=128
    )
    assert torch.equal(small.stylize(content, state), expected)


def test_odd_sizes_come_back_at_their_size(model, images):
    content = images["chelsea"][:, :37, :61][None]
    out = model.stylize(content, model.prepare_style(images["coffee"]))
    assert out.shape == (1, 3, 37, 61) and out.min() >= 0 and out.max() <= 1


def test_the_torchvision_vgg19_can_serve_as_the_encoder(weights_dir, images):
    model = AdaINStylizer(
        device="cpu",
        encoder_weights=weights_dir / "vgg19-dcbb9e9d.pth",
        decoder_weights=weights_dir / "decoder.pth",
    )
    assert model.encoder.layout == "torchvision-vgg19"
    out = model.stylize(images["coffee"][None], model.prepare_style(images["brick"]))
    assert out.shape == (1, 3, *images["coffee"].shape[1:])


def test_missing_weights_name_the_file_and_the_setting(weights_dir, tmp_path):
    with pytest.raises(WeightsMissing) as info:
        AdaINStylizer(
            device="cpu",
            encoder_weights=weights_dir / "vgg_normalised.pth",
            decoder_weights=tmp_path / "decoder.pth",
        )
    message = str(info.value)
    assert str(tmp_path / "decoder.pth") in message
    assert 'STYLERECS["WEIGHTS"]["adain_decoder"]' in message and "--decoder-weights" in message
    with pytest.raises(WeightsMissing, match="encoder_weights not set.*--encoder-weights"):
        AdaINStylizer(device="cpu")


def test_registry_loads_each_model_once_per_process(paths, images):
    stylizers.clear_cache()
    loading.clear_cache()
    first = get_stylizer("adain", device="cpu", **paths)
    assert get_stylizer("adain", device="cpu", **paths) is first
    assert loading.cache_info().misses == 2  # one encoder, one decoder
    # Another configuration of the same files shares the loaded networks.
    other = get_stylizer("adain", device="cpu", tile_size=512, **paths)
    assert other is not first and other.encoder is first.encoder
    assert loading.cache_info() == (2, 2, 2)
    stylizers.clear_cache()


def test_half_precision_as_on_cuda_stays_close_to_float32_whole_and_tiled(paths, photo, images):
    # CUDA runs the networks in float16 by default; the CPU can too, so the casts around
    # them (statistics and AdaIN in float32, float32 out) are tested here without a GPU.
    single = AdaINStylizer(device="cpu", tile_overlap=32, **paths)
    half = AdaINStylizer(device="cpu", half=True, tile_overlap=32, **paths)
    assert half.dtype == torch.float16 and single.dtype == torch.float32
    content, style = pil_to_tensor(photo("chelsea", 96))[None], images["astronaut"]
    for tile in (None, 64):  # whole, then tiles of 64 px
        a = single.stylize(content, single.prepare_style(style), tile_size=tile)
        b = half.stylize(content, half.prepare_style(style), tile_size=tile)
        assert b.dtype == torch.float32 and b.shape == a.shape
        assert (a - b).abs().max() < 0.01  # float16 keeps 3 decimal digits


def test_cpu_batches_are_capped_at_two_512px_images_unless_told_otherwise(paths, model):
    assert model.batch_pixels == 2 * 512 * 512  # larger CPU batches only cost memory
    assert AdaINStylizer(device="cpu", batch_pixels=0, **paths).batch_pixels is None
    with pytest.raises(ValueError, match="batch_pixels"):
        AdaINStylizer(device="cpu", batch_pixels=-1, **paths)


def test_pipeline_passes_the_weights_options_through(paths, photo, to_bytes):
    pipeline.clear_style_cache()
    contents = [to_bytes(photo("chelsea", 48)), b"not an image", to_bytes(photo("coffee", 40))]
    style = to_bytes(photo("brick", 40), "PNG")
    outcomes = pipeline.stylize_many(
        contents,
        style,
        method="adain",
        device="cpu",
        isolate_decoding=False,
        options=dict(paths),
        alpha=0.8,
        preserve_color=True,
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert (outcomes[0].width, outcomes[0].height) == (48, 32)
    assert (outcomes[2].width, outcomes[2].height) == (40, 27)
    stylizers.clear_cache()
