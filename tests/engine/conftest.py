"""Fixtures for the engine tests: real photos (small), real files, no Django."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def photo():
    """photo(name, side=128): a scikit-image sample photo as RGB, long side <= side."""
    from skimage import data

    cache: dict[tuple[str, int], Image.Image] = {}

    def make(name: str = "coffee", side: int = 128) -> Image.Image:
        key = (name, side)
        if key not in cache:
            arr = np.asarray(getattr(data, name)())
            img = Image.fromarray(arr).convert("RGB")
            img.thumbnail((side, side), Image.Resampling.LANCZOS)
            cache[key] = img
        return cache[key].copy()

    return make


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """Random checkpoints in the real files' formats and full shapes, written once
    (see tests/weights_factory.py)."""
    from tests.weights_factory import write_random_weights

    return write_random_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def to_bytes():
    """to_bytes(img, format="JPEG", **save_options) -> encoded bytes."""

    def encode(img: Image.Image, format: str = "JPEG", **options) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=format, **options)
        return buf.getvalue()

    return encode


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


@pytest.fixture(scope="session")
def png_declaring():
    """png_declaring(w, h): a few-hundred-byte PNG whose header claims w x h pixels.

    That is what a decompression bomb looks like to the header parser; the pixel data
    is never reached.
    """

    def make(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
        idat = zlib.compress(b"\0" * 1024)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b"")
        )

    return make


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def _curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _desc(text: str) -> bytes:
    raw = text.encode("ascii") + b"\0"
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(raw)) + raw + b"\0" * 8 + b"\0" * 70


# D50-adapted sRGB primaries, as an ICC matrix/TRC profile stores them.
SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_GREEN = (0.3851, 0.7169, 0.0971)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)


@pytest.fixture(scope="session")
def rgb_icc_profile():
    """rgb_icc_profile(swap_red_green=False): a minimal ICC v2 RGB matrix/TRC profile.

    With sRGB's primaries it describes (nearly) sRGB; with red and green swapped, a
    pixel stored as pure red means pure green, so colour management is easy to see.
    """

    def make(swap_red_green: bool = False, gamma: float = 2.2) -> bytes:
        red, green, blue = SRGB_RED, SRGB_GREEN, SRGB_BLUE
        if swap_red_green:
            red, green = green, red
        tags = [
            (b"desc", _desc("stylerecs test RGB")),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz(*red)),
            (b"gXYZ", _xyz(*green)),
            (b"bXYZ", _xyz(*blue)),
            (b"rTRC", _curve(gamma)),
            (b"gTRC", _curve(gamma)),
            (b"bTRC", _curve(gamma)),
            (b"cprt", b"text" + b"\0" * 4 + b"none\0"),
        ]
        first = 128 + 4 + 12 * len(tags)
        table, body = struct.pack(">I", len(tags)), b""
        for signature, payload in tags:
            body += b"\0" * (-(first + len(body)) % 4)
            table += signature + struct.pack(">II", first + len(body), len(payload))
            body += payload
        body += b"\0" * (-len(body) % 4)
        header = (
            struct.pack(">I", first + len(body))
            + b"\0" * 4
            + struct.pack(">I", 0x02100000)
            + b"mntrRGB XYZ "
            + b"\0" * 12
            + b"acsp"
            + b"\0" * 28
            + _xyz(0.9642, 1.0, 0.8249)[8:]
            + b"\0" * 48
        )
        assert len(header) == 128
        return header + table + body

    return make
