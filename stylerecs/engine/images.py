"""Decoding untrusted images safely, and encoding clean outputs.

Everything that turns uploaded bytes into pixels goes through :func:`decode_image`, which
follows Pillow's own advice for untrusted input: cap the file size before parsing,
allow-list the formats, treat decompression bombs as errors, fully decode (``load()``)
before trusting the file, apply the EXIF orientation, and normalise every colour mode to
8-bit sRGB RGB. :func:`decode_image_isolated` runs the same decode in a child process
(see :mod:`stylerecs.engine.isolation`), because a crash inside a C decoder must cost one
image, not the worker.

This module imports only Pillow, numpy and the standard library: the decoding child
process imports it, and importing torch there would make every spawn slow.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from . import isolation
from .image_modes import ALPHA_MODES, to_rgb
from .jpeg import ShortScan, check_scan_complete

logger = logging.getLogger(__name__)

__all__ = [
    "ImageError",
    "ImageLimits",
    "decode_image",
    "decode_image_isolated",
    "encode_for_path",
    "encode_image",
    "resize_to_side",
]


class ImageError(ValueError):
    """An image could not be used: not an image, disallowed format, corrupt, or too big."""


@dataclass(frozen=True)
class ImageLimits:
    """What :func:`decode_image` accepts.

    ``max_pixels`` is our own decompression-bomb limit (width x height, checked from the
    header before any pixel is decoded); ``max_bytes`` caps the encoded size.
    """

    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 64_000_000
    allowed_formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")


# Magic numbers, used only to word the error for a file that the allow-list refused:
# the bytes are never handed to a decoder that is not allowed.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WEBP"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"\x00\x00\x02\x00", "CUR"),
    (0, b"8BPS", "PSD"),
    (0, b"%PDF", "PDF"),
    (0, b"<?xml", "SVG/XML"),
    (0, b"<svg", "SVG"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG2000"),
    (0, b"DDS ", "DDS"),
    (0, b"icns", "ICNS"),
    (0, b"qoif", "QOI"),
)


def _sniff_format(data: bytes) -> str | None:
    """Name the format of ``data`` from its magic number, or None if unknown."""
    for offset, magic, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    # PCX has a one-byte magic (0x0A) followed by a version byte and encoding 1.
    if len(data) >= 3 and data[0] == 0x0A and data[1] in (0, 2, 3, 4, 5) and data[2] == 1:
        return "PCX"
    return None


def decode_image(
    data: bytes, *, limits: ImageLimits = ImageLimits(), max_side: int = 0, keep_alpha: bool = False
) -> Image.Image:
    """Decode untrusted image bytes into an 8-bit sRGB ``RGB`` image.

    The EXIF orientation is applied, transparency is composited over white, and when
    ``max_side`` > 0 the image is downscaled (never upscaled) so its long side fits.
    With ``keep_alpha`` an image that had transparency comes back ``RGBA``: the colour
    channels are still the composite over white, the alpha channel is the original's
    (the product mask of a cut-out photo).
    Raises :class:`ImageError`, with a message that says what is wrong, for anything that
    is not a usable image.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"decode_image expects bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise ImageError(f"file too large: {len(data)} bytes > limit {limits.max_bytes}")
    if not data:
        raise ImageError("not an image: the file is empty")
    formats = _open_formats(tuple(limits.allowed_formats))  # config errors stay ValueError

    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; an error is what we
        # want, without changing Image.MAX_IMAGE_PIXELS for the whole process. Warning
        # filters are process-global, so under threads this is best effort; the explicit
        # limits.max_pixels check in _open() is what always holds.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = _open(data, limits, formats)
            if img.format in ("JPEG", "MPO"):
                try:
                    check_scan_complete(data)
                except ShortScan as exc:
                    raise ImageError(f"truncated or corrupt image: {exc}") from exc
            icc = img.info.get("icc_profile")
            if max_side > 0 and img.format in ("JPEG", "MPO"):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 24 MP photo meant for
                # a 1024 px variant then costs a fraction of the time and memory.
                img.draft(None, (max_side, max_side))
            _load_strictly(img)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"image too large (decompression bomb protection): {exc}") from exc
        except MemoryError as exc:
            raise ImageError("image too large: out of memory while decoding") from exc
        except Exception as exc:  # noqa: BLE001
            # Plugins raise OSError, SyntaxError, ValueError, struct.error, IndexError...
            # on malformed input; whatever the parser of untrusted bytes raised, the file
            # is at fault, and the caller needs one error type.
            raise ImageError(f"truncated or corrupt image: {exc}") from exc

    try:
        img = _apply_orientation(img)
        alpha = _alpha_channel(img) if keep_alpha else None
        img = to_rgb(img, icc)
        if alpha is not None:
            img.putalpha(alpha)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot convert image to RGB: {exc}") from exc
    if max_side > 0:
        img = resize_to_side(img, max_side)
    return img


def _load_strictly(img: Image.Image) -> None:
    """``img.load()`` with LOAD_TRUNCATED_IMAGES off (with it on, Pillow fills a truncated
    file with grey). Process-global: best effort under threads, like the filter above."""
    if not ImageFile.LOAD_TRUNCATED_IMAGES:
        img.load()
        return
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = True


def _alpha_channel(img: Image.Image) -> Image.Image | None:
    """The image's transparency as an ``L`` image, or None when it has none."""
    if img.mode in ALPHA_MODES or (img.mode == "P" and img.has_transparency_data):
        return img.convert("RGBA").getchannel("A")
    if img.mode in ("L", "RGB") and "transparency" in img.info:
        return img.convert("RGBA").getchannel("A")
    return None


@lru_cache(maxsize=16)
def _open_formats(allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The Pillow plugin ids to try for ``allowed``; unknown names are a config error."""
    Image.init()
    unknown = [f for f in allowed if f not in Image.OPEN and f != "MPO"]
    if unknown:
        raise ValueError(f"ImageLimits.allowed_formats has unknown format(s): {unknown}")
    # MPO has no opener of its own: the JPEG plugin returns MPO images.
    return tuple(f for f in allowed if f != "MPO")


def _open(data: bytes, limits: ImageLimits, formats: tuple[str, ...]) -> Image.Image:
    """Open (header only) with the allow-list, then check the declared pixel count."""
    allowed_list = ", ".join(limits.allowed_formats)
    try:
        img = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        sniffed = _sniff_format(data)
        if sniffed and sniffed not in limits.allowed_formats:
            raise ImageError(f"unsupported format {sniffed!r} (allowed: {allowed_list})") from exc
        if sniffed:
            raise ImageError(f"truncated or corrupt image: {sniffed} header unreadable") from exc
        raise ImageError(f"not an image / unsupported format (allowed: {allowed_list})") from exc
    if img.format not in limits.allowed_formats:
        # An MPO (multi-picture JPEG) is opened by the JPEG plugin.
        raise ImageError(f"unsupported format {img.format!r} (allowed: {allowed_list})")
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError(f"truncated or corrupt image: invalid size {width} x {height}")
    if width * height > limits.max_pixels:
        raise ImageError(
            f"image too large: {width} x {height} pixels exceeds limit {limits.max_pixels}"
            " (decompression bomb protection)"
        )
    return img


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip per the EXIF orientation tag; a broken EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(img) or img
    except Exception as exc:  # noqa: BLE001 - metadata must not cost the image
        logger.debug("ignoring unreadable EXIF orientation: %s", exc)
        return img


def resize_to_side(img: Image.Image, side: int, *, upscale: bool = False) -> Image.Image:
    """Resize so the long side is ``side`` pixels, keeping the aspect ratio.

    Images already within ``side`` are returned unchanged unless ``upscale`` is true.
    """
    if side <= 0:
        raise ValueError(f"side must be positive, got {side}")
    width, height = img.size
    long_side = max(width, height)
    if long_side == side or (long_side < side and not upscale):
        return img
    scale = side / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap first shrinks by an integer factor with a box filter: much faster
    # for big reductions and indistinguishable from pure LANCZOS at gap 3.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


_ENCODERS = {
    "JPEG": lambda quality: {"quality": quality, "optimize": True},
    "PNG": lambda quality: {"compress_level": 6},
    "WEBP": lambda quality: {"quality": quality, "method": 4},
}


def encode_image(img: Image.Image, *, format: str = "JPEG", quality: int = 90) -> bytes:
    """Encode ``img`` as JPEG (default), PNG or WEBP with no metadata at all.

    The pixels are copied into a fresh image first, so no EXIF, ICC profile, XMP or
    text chunk of the source can leak into the output (PNG, unlike JPEG, would otherwise
    re-save the ``icc_profile`` it finds in ``img.info``).
    """
    fmt = format.upper()
    if fmt == "JPG":
        fmt = "JPEG"
    if fmt not in _ENCODERS:
        raise ValueError(f"unsupported output format {format!r} (use JPEG, PNG or WEBP)")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    mode = "L" if img.mode == "L" and fmt != "WEBP" else "RGB"
    src = img if img.mode == mode else img.convert(mode)
    clean = Image.frombytes(mode, src.size, src.tobytes())
    buf = io.BytesIO()
    clean.save(buf, format=fmt, **_ENCODERS[fmt](quality))
    return buf.getvalue()


def encode_for_path(img: Image.Image, path: str | os.PathLike[str], *, quality: int = 90) -> bytes:
    """Encode for a file name: PNG when it ends with ``.png``, else JPEG."""
    fmt = "PNG" if os.fspath(path).lower().endswith(".png") else "JPEG"
    return encode_image(img, format=fmt, quality=quality)


# --- decoding in a child process -----------------------------------------------------


def _run_isolated(fn, *args, timeout: float):
    """:func:`isolation.run_isolated`, with a crash or a timeout reported as ImageError."""
    try:
        return isolation.run_isolated(fn, *args, timeout=timeout)
    except isolation.IsolatedCrash:
        raise ImageError(
            "decoder process crashed while decoding this image (the worker is fine)"
        ) from None
    except isolation.IsolatedTimeout:
        raise ImageError(f"decoding timed out after {timeout:g} s") from None


def _decode_in_child(
    data: bytes, limits: ImageLimits, max_side: int, keep_alpha: bool = False
) -> tuple[str, tuple, bytes]:
    img = decode_image(data, limits=limits, max_side=max_side, keep_alpha=keep_alpha)
    return img.mode, img.size, img.tobytes()


def decode_image_isolated(
    data: bytes,
    *,
    limits: ImageLimits = ImageLimits(),
    max_side: int = 0,
    timeout: float = 60,
    keep_alpha: bool = False,
) -> Image.Image:
    """Like :func:`decode_image`, but the decoding runs in a separate process.

    A segfault in a decoder, or a decode that takes longer than ``timeout`` seconds,
    raises :class:`ImageError` for this image; the next call gets a fresh process.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"decode_image_isolated expects bytes, not {type(data).__name__}")
    data = bytes(data)
    # Refuse oversized input here, so it is never even copied to the child.
    if len(data) > limits.max_bytes:
        raise ImageError(f"file too large: {len(data)} bytes > limit {limits.max_bytes}")
    mode, size, raw = _run_isolated(
        _decode_in_child, data, limits, max_side, keep_alpha, timeout=timeout
    )
    return Image.frombytes(mode, size, raw)
