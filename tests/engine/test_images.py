"""stylerecs.engine.images: safe decoding, mode normalisation, clean encoding."""

from __future__ import annotations

import io
import signal
import sys
import time

import numpy as np
import pytest
from PIL import Image, ImageCms

from stylerecs.engine import images
from stylerecs.engine.images import (
    ImageError,
    ImageLimits,
    decode_image,
    decode_image_isolated,
    encode_for_path,
    encode_image,
    resize_to_side,
)

DECODERS = [
    pytest.param(decode_image, id="in-process"),
    pytest.param(decode_image_isolated, id="isolated"),
]


def pixel(img: Image.Image, xy=(0, 0)) -> tuple[int, int, int]:
    return img.getpixel(xy)


# --- colour modes --------------------------------------------------------------------


def test_cmyk_jpeg_red_decodes_to_red_rgb(to_bytes):
    # Pillow writes and reads CMYK JPEGs with Adobe's inverted convention.
    data = to_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    img = decode_image(data)
    assert img.mode == "RGB"
    r, g, b = pixel(img, (8, 8))
    assert r > 200 and g < 60 and b < 60


def test_palette_with_transparency_composites_over_white(to_bytes):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, 1 blue
    img.putpixel((7, 7), 1)
    data = to_bytes(img, "PNG", transparency=0)
    out = decode_image(data)
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (255, 255, 255)  # transparent black -> white
    assert pixel(out, (7, 7)) == (0, 0, 255)


def test_la_png_composites_over_white_and_stays_grey(to_bytes):
    img = Image.new("LA", (4, 4), (0, 0))
    img.putpixel((1, 1), (0, 255))
    img.putpixel((2, 2), (0, 128))
    out = decode_image(to_bytes(img, "PNG"))
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (255, 255, 255)
    assert pixel(out, (1, 1)) == (0, 0, 0)
    r, g, b = pixel(out, (2, 2))
    assert r == g == b and 120 <= r <= 135


def test_rgba_half_transparent_red_blends_with_white(to_bytes):
    out = decode_image(to_bytes(Image.new("RGBA", (4, 4), (255, 0, 0, 128)), "PNG"))
    r, g, b = pixel(out)
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135


def test_16_bit_png_is_scaled_not_clipped(to_bytes):
    arr = np.array([[0, 32768, 65535, 4096]], dtype=np.uint16)
    src = Image.fromarray(arr)
    assert src.mode.startswith("I;16")
    out = decode_image(to_bytes(src, "PNG"))
    values = [pixel(out, (x, 0))[0] for x in range(4)]
    assert values == [0, 128, 255, 16]
    assert out.mode == "RGB"


def test_32_bit_int_and_float_grey_are_scaled(to_bytes):
    as_int = Image.fromarray(np.array([[0, 65535]], dtype=np.int32), mode="I")
    assert [pixel(decode_image(to_bytes(as_int, "TIFF")), (x, 0))[0] for x in (0, 1)] == [0, 255]
    as_float = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    out = decode_image(to_bytes(as_float, "TIFF"))
    assert [pixel(out, (x, 0))[0] for x in range(3)] == [0, 128, 255]


@pytest.mark.parametrize("mode,value,expected", [("L", 77, (77, 77, 77)), ("1", 1, (255,) * 3)])
def test_grey_and_bilevel_become_rgb(to_bytes, mode, value, expected):
    out = decode_image(to_bytes(Image.new(mode, (4, 4), value), "PNG"))
    assert out.mode == "RGB" and pixel(out) == expected


def test_embedded_icc_profile_is_converted_to_srgb(to_bytes, rgb_icc_profile):
    # A profile whose "red" primary is sRGB green: a colour-managed decode shows green.
    swapped = rgb_icc_profile(swap_red_green=True)
    data = to_bytes(Image.new("RGB", (8, 8), (255, 0, 0)), "PNG", icc_profile=swapped)
    r, g, b = pixel(decode_image(data))
    assert g > 200 and r < 60 and b < 60


def test_srgb_icc_profile_leaves_colours_alone_and_broken_profile_is_ignored(to_bytes):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour = (200, 120, 40)
    with_srgb = decode_image(to_bytes(Image.new("RGB", (4, 4), colour), "PNG", icc_profile=srgb))
    assert np.abs(np.subtract(pixel(with_srgb), colour)).max() <= 2
    broken = to_bytes(Image.new("RGB", (4, 4), colour), "PNG", icc_profile=b"not a profile")
    assert pixel(decode_image(broken)) == colour


def test_exif_orientation_6_rotates_to_portrait(to_bytes):
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    out = decode_image(to_bytes(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.size == (20, 40)
    top, bottom = pixel(out, (10, 5)), pixel(out, (10, 35))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_max_side_downscales_keeping_aspect_and_never_upscales(photo, to_bytes):
    data = to_bytes(photo("coffee", 128))  # 128 x 85
    assert decode_image(data, max_side=100).size == (100, 66)
    assert decode_image(data, max_side=1000).size == (128, 85)


def test_first_frame_of_animated_gif_is_used(to_bytes):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    r, g, _ = pixel(decode_image(buf.getvalue()))
    assert r > 200 and g < 50


# --- bad input -----------------------------------------------------------------------


def _jpeg(photo, to_bytes) -> bytes:
    return to_bytes(photo("chelsea", 128), "JPEG", quality=90)


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p, b: b"", "the file is empty"),
        (lambda p, b: b"hello, I am plain text and not a picture", "not an image"),
        (lambda p, b: bytes(range(256)) * 8, "not an image"),
        (lambda p, b: _jpeg(p, b)[: len(_jpeg(p, b)) // 2], "truncated or corrupt"),
        (lambda p, b: _jpeg(p, b)[:200], "truncated or corrupt"),
        (lambda p, b: b(Image.new("RGB", (16, 16)), "ICO"), "unsupported format 'ICO'"),
        (lambda p, b: b(Image.new("RGB", (16, 16)), "PCX"), "unsupported format 'PCX'"),
    ],
    ids=["empty", "text", "noise", "half-jpeg", "jpeg-header-only", "ico", "pcx"],
)
def test_bad_bytes_raise_image_error_with_reason(decode, make, expected, photo, to_bytes):
    data = make(photo, to_bytes)
    with pytest.raises(ImageError, match=expected):
        decode(data)


@pytest.mark.parametrize("decode", DECODERS)
def test_file_over_max_bytes_is_refused_before_parsing(decode, photo, to_bytes):
    data = _jpeg(photo, to_bytes)
    with pytest.raises(ImageError, match=rf"file too large: {len(data)} bytes > limit 1000"):
        decode(data, limits=ImageLimits(max_bytes=1000))


@pytest.mark.parametrize("decode", DECODERS)
def test_header_declaring_too_many_pixels_is_refused(decode, png_declaring):
    data = png_declaring(9000, 8000)  # 72 Mpx: over our 64 Mpx default, under Pillow's
    assert len(data) < 1000
    with pytest.raises(ImageError, match=r"9000 x 8000 pixels exceeds limit 64000000"):
        decode(data)


@pytest.mark.parametrize("decode", DECODERS)
def test_decompression_bomb_is_an_error_not_a_warning(decode, png_declaring):
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="decompression bomb"):
        decode(png_declaring(20000, 20000), limits=ImageLimits(max_pixels=10**10))
    with pytest.raises(ImageError, match="decompression bomb"):
        decode(png_declaring(10000, 10000), limits=ImageLimits(max_pixels=10**10))
    assert before == Image.MAX_IMAGE_PIXELS  # the global limit was not touched


def test_format_outside_allow_list_is_named(photo, to_bytes):
    with pytest.raises(ImageError, match="unsupported format 'JPEG'"):
        decode_image(_jpeg(photo, to_bytes), limits=ImageLimits(allowed_formats=("PNG",)))


def test_unknown_format_name_in_limits_is_a_configuration_error(photo, to_bytes):
    with pytest.raises(ValueError, match="unknown format"):
        decode_image(_jpeg(photo, to_bytes), limits=ImageLimits(allowed_formats=("JPG",)))


# --- isolation -----------------------------------------------------------------------


def test_isolated_decode_matches_in_process_decode(photo, to_bytes):
    data = _jpeg(photo, to_bytes)
    a, b = decode_image(data, max_side=100), decode_image_isolated(data, max_side=100)
    assert a.size == b.size and a.tobytes() == b.tobytes()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_decoder_crash_costs_one_image_and_the_next_decode_works(photo, to_bytes):
    # The child kills itself mid-job, as a segfaulting decoder would.
    with pytest.raises(ImageError, match="decoder process crashed"):
        images._run_isolated(signal.raise_signal, signal.SIGKILL, timeout=30)
    assert decode_image_isolated(_jpeg(photo, to_bytes)).size == (128, 85)


def test_decode_that_hangs_times_out_and_the_next_decode_works(photo, to_bytes):
    started = time.monotonic()
    with pytest.raises(ImageError, match="timed out after 0.5 s"):
        images._run_isolated(time.sleep, 30, timeout=0.5)
    assert time.monotonic() - started < 10
    assert decode_image_isolated(_jpeg(photo, to_bytes)).size == (128, 85)


# --- encoding ------------------------------------------------------------------------


def test_encoded_output_carries_no_exif_or_icc(photo, to_bytes):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0112] = 1
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = to_bytes(photo("astronaut", 64), "JPEG", exif=exif.tobytes(), icc_profile=srgb)
    assert Image.open(io.BytesIO(src)).getexif()  # the input really had EXIF
    img = decode_image(src)
    img.info["icc_profile"] = srgb  # even if something put it back
    for fmt in ("JPEG", "PNG", "WEBP"):
        out = Image.open(io.BytesIO(encode_image(img, format=fmt)))
        assert out.format == fmt
        assert not out.getexif()
        assert "icc_profile" not in out.info and "exif" not in out.info and "xmp" not in out.info


def test_encode_for_path_picks_png_by_extension(photo):
    img = photo("coffee", 32)
    assert encode_for_path(img, "x/out.PNG")[:8] == b"\x89PNG\r\n\x1a\n"
    assert encode_for_path(img, "x/out.jpg")[:3] == b"\xff\xd8\xff"
    assert encode_for_path(img, "x/out")[:3] == b"\xff\xd8\xff"


def test_encode_rejects_bad_format_and_quality(photo):
    with pytest.raises(ValueError, match="unsupported output format"):
        encode_image(photo("coffee", 16), format="GIF")
    with pytest.raises(ValueError, match="quality"):
        encode_image(photo("coffee", 16), quality=0)


def test_resize_to_side_keeps_aspect_and_upscales_only_when_asked(photo):
    img = photo("coffee", 128)  # 128 x 85
    assert resize_to_side(img, 100).size == (100, 66)
    assert resize_to_side(img, 256).size == (128, 85)
    assert resize_to_side(img, 256, upscale=True).size == (256, 170)
    with pytest.raises(ValueError):
        resize_to_side(img, 0)
