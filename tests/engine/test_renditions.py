"""stylerecs.engine.renditions alone: widths never above the source, bare encodes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stylerecs.engine.renditions import (
    encode_rendition,
    make_renditions,
    rendition_widths,
    supported_formats,
)

PIL_NAMES = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


def noise(width: int = 300, height: int = 200) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("source", "widths", "expected"),
    [
        (2000, [320, 640, 1024], [320, 640, 1024]),
        (1024, [320, 640, 1024], [320, 640, 1024]),
        (800, [320, 640, 1024], [320, 640, 800]),
        (500, [320, 640, 1024], [320, 500]),
        (200, [320, 640, 1024], [200]),
        (0, [320], []),
    ],
)
def test_widths_are_never_above_the_source(source, widths, expected):
    assert rendition_widths(source, widths) == expected


@pytest.mark.parametrize("fmt", supported_formats(["avif", "webp", "jpeg"]))
def test_each_format_decodes_at_the_asked_width_with_no_metadata(fmt):
    image = noise()
    image.info.update(icc_profile=b"fake", exif=b"Exif\x00\x00fake", comment=b"secret")
    data = encode_rendition(image, format=fmt, width=150, quality=60, avif_speed=10)
    out = Image.open(io.BytesIO(data))
    out.load()
    assert (out.format, out.size) == (PIL_NAMES[fmt], (150, 100))
    assert not out.getexif() and not {"icc_profile", "exif", "comment"} & set(out.info)


def test_upscaling_and_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="not within"):
        encode_rendition(noise(), format="jpeg", width=301, quality=80)
    with pytest.raises(ValueError, match="quality"):
        encode_rendition(noise(), format="jpeg", width=100, quality=0)
    with pytest.raises(ValueError, match="unknown rendition format"):
        encode_rendition(noise(), format="gif", width=100, quality=80)


def test_one_failing_rendition_leaves_the_others():
    outcomes = make_renditions(
        noise(), wanted=[("jpeg", 100), ("jpeg", 999), ("webp", 100)], quality={"jpeg": 80}
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "not within" in outcomes[1].error and not outcomes[1].data
    assert outcomes[0].height == 67 and outcomes[2].data
