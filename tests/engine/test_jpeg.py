"""stylerecs.engine.jpeg: a JPEG whose frame header claims more pixels than its scans
hold is refused; complete JPEGs of every kind, and harmless oddities, are not."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageFile

from stylerecs.engine.images import ImageError, ImageLimits, decode_image, decode_image_isolated
from stylerecs.engine.jpeg import ShortScan, check_scan_complete


def jpeg(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    return buffer.getvalue()


def claim_size(data: bytes, width: int, height: int) -> bytes:
    """The same file with its frame header (SOF0/SOF2) rewritten to claim another size."""
    out = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = out.find(marker)
        if at >= 0:
            out[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(out)
    raise AssertionError("no frame header")


def noise(side: int = 64) -> Image.Image:
    rng = np.random.default_rng(side)
    return Image.fromarray((rng.random((side, side, 3)) * 255).astype("uint8"))


def test_pillow_alone_accepts_the_lie_which_is_why_the_check_exists():
    data = claim_size(jpeg(noise(64), quality=90), 4000, 4000)
    image = Image.open(io.BytesIO(data))
    image.load()  # no error: libjpeg's warning is silenced
    grey = (np.asarray(image) == 128).all(axis=2).mean()
    assert grey > 0.99


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("decode", [decode_image, decode_image_isolated], ids=["in", "isolated"])
def test_frame_claiming_more_pixels_than_its_scan_holds_is_refused(decode, progressive):
    # A 64 x 64 scan under a header claiming 4000 x 4000 (16 MP, within the pixel limit).
    data = claim_size(jpeg(noise(64), quality=90, progressive=progressive), 4000, 4000)
    with pytest.raises(ImageError, match="compressed data ends before the last"):
        decode(data, limits=ImageLimits(max_pixels=64_000_000))


def test_even_a_slightly_larger_claim_is_refused():
    # A dense scan (noise at high quality) under a header claiming a few rows more.
    data = jpeg(noise(256), quality=95)
    with pytest.raises(ShortScan):
        check_scan_complete(claim_size(data, 256, 272))


@pytest.mark.parametrize(
    "save",
    [
        {"quality": 90},
        {"quality": 5},
        {"quality": 90, "progressive": True},
        {"quality": 90, "optimize": True},
        {"quality": 75, "subsampling": 0},
        {"quality": 75, "restart_marker_blocks": 4},
    ],
)
@pytest.mark.parametrize("content", ["photo", "flat-white", "grey-L", "cmyk"])
def test_complete_jpegs_pass(photo, save, content):
    image = {
        "photo": lambda: photo("astronaut", 256),
        "flat-white": lambda: Image.new("RGB", (1500, 1100), "white"),
        "grey-L": lambda: Image.new("L", (300, 200), 128),
        "cmyk": lambda: Image.new("CMYK", (64, 48), (10, 200, 30, 0)),
    }[content]()
    data = jpeg(image, **save)
    check_scan_complete(data)
    assert decode_image(data).size == image.size


def test_extraneous_bytes_after_the_image_are_harmless_and_pass(photo):
    data = jpeg(photo("coffee", 128), quality=85) + b"\x00\x00trailer"
    check_scan_complete(data)
    assert decode_image(data).size == photo("coffee", 128).size


def test_truncated_file_is_refused_even_when_the_host_turned_on_load_truncated_images(photo):
    # Many Django projects set ImageFile.LOAD_TRUNCATED_IMAGES = True to silence upload
    # errors; the engine decodes strictly anyway and leaves the host's flag as it was.
    data = jpeg(photo("coffee", 256), quality=90)
    cut = data[: len(data) * 3 // 4]
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(ImageError, match="truncated or corrupt"):
            decode_image(cut)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


@pytest.mark.parametrize("data", [b"\xff\xd8", b"\xff\xd8\xff\xc0\x00", b"not a jpeg"])
def test_files_libjpeg_cannot_parse_are_left_to_the_decoder(data):
    check_scan_complete(data)  # does not raise: decode_image words that error
