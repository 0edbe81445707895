"""Responsive renditions: one decoded photo resized to a few widths in a few formats.

Storefronts send each screen the smallest file that looks right on it (``<picture>``
with ``srcset``), in the best format the browser decodes: AVIF, then WebP, then JPEG,
which every browser decodes. Sizes are never upscaled: a width above the source's own
is left out, and the source's width itself is offered when it is smaller than the
largest configured one, so a large screen still gets every pixel there is. Outputs are
re-encoded from fresh pixel buffers, so no EXIF, XMP or ICC block of the source leaks
(the source is converted to sRGB first, so dropping its profile changes no colour).

AVIF comes from Pillow's own encoder (Pillow >= 11.3 wheels) or, on an older Pillow,
from the ``pillow-avif-plugin`` package; :func:`avif_support` says which, if any.

Like the rest of the engine this imports only Pillow and the standard library.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, features

__all__ = [
    "FORMATS",
    "MIME_TYPES",
    "RenditionOutcome",
    "avif_support",
    "encode_rendition",
    "make_renditions",
    "rendition_widths",
    "supported_formats",
]

# Known formats, in the order browsers should prefer them.
FORMATS = ("avif", "webp", "jpeg")
MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg"}
_PIL_FORMAT = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}


def avif_support() -> str | None:
    """Where AVIF encoding comes from: ``"pillow"``, ``"pillow-avif-plugin"`` or None."""
    with warnings.catch_warnings():
        # A Pillow older than 11.2 does not know the feature name and warns about it.
        warnings.simplefilter("ignore")
        if features.check("avif"):
            return "pillow"
    try:
        import pillow_avif  # noqa: F401  (importing it registers the AVIF plugin)
    except ImportError:
        return None
    return "pillow-avif-plugin" if "AVIF" in Image.SAVE else None


def supported_formats(formats: Iterable[str]) -> list[str]:
    """The configured formats this Pillow can encode, in the configured order."""
    result = []
    for name in formats:
        if name == "avif" and avif_support() is None:
            continue
        if name == "webp" and not features.check("webp"):
            continue
        result.append(name)
    return result


def rendition_widths(source_width: int, widths: Sequence[int]) -> list[int]:
    """The widths to make for a source ``source_width`` px wide: never above it.

    The source's own width is added when it is below the largest configured width, so
    the biggest rendition is the full photo rather than a smaller step.
    """
    if source_width <= 0:
        return []
    wanted = {int(w) for w in widths if 0 < int(w) < source_width}
    if widths:
        wanted.add(min(source_width, max(int(w) for w in widths)))
    return sorted(wanted)


@dataclass(frozen=True)
class RenditionOutcome:
    """One encoded rendition, or why it could not be made."""

    format: str
    width: int
    height: int = 0
    data: bytes = b""
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


def _resized(img: Image.Image, width: int) -> Image.Image:
    if width == img.width:
        return img
    height = max(1, round(img.height * width / img.width))
    # reducing_gap: a box pre-shrink by an integer factor, then LANCZOS; much faster
    # than LANCZOS alone for big reductions and visually the same at a gap of 3.
    return img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def encode_rendition(
    img: Image.Image, *, format: str, width: int, quality: int, avif_speed: int = 6
) -> bytes:
    """Resize an sRGB ``RGB``/``L`` image to ``width`` (never up) and encode it bare.

    Raises ValueError for an unknown format, a width above the image's or a quality
    outside 1..100; whatever Pillow's encoder raises passes through. ``avif_speed`` is
    libavif's 0 (slowest, smallest) to 10 (fastest).
    """
    if format not in _PIL_FORMAT:
        raise ValueError(f"unknown rendition format {format!r} (known: {', '.join(FORMATS)})")
    if not 0 < width <= img.width:
        raise ValueError(f"width {width} is not within the source's 1..{img.width} px")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality!r}")
    small = _resized(img, width)
    mode = small.mode if small.mode in ("RGB", "L") else "RGB"
    src = small if small.mode == mode else small.convert(mode)
    # A fresh buffer: nothing in ``info`` (EXIF, XMP, ICC, comments) can be written out.
    clean = Image.frombytes(mode, src.size, src.tobytes())
    options: dict = {"quality": int(quality)}
    if format == "jpeg":
        options.update(optimize=True, progressive=True)
    elif format == "webp":
        options.update(method=4)
    elif format == "avif":
        options.update(speed=int(avif_speed))
    buffer = io.BytesIO()
    clean.save(buffer, format=_PIL_FORMAT[format], **options)
    return buffer.getvalue()


def make_renditions(
    img: Image.Image,
    *,
    wanted: Iterable[tuple[str, int]],
    quality: dict[str, int],
    avif_speed: int = 6,
) -> list[RenditionOutcome]:
    """Encode each ``(format, width)`` of ``img``; one failure costs that one only."""
    outcomes = []
    for fmt, width in wanted:
        started = time.perf_counter()
        try:
            data = encode_rendition(
                img, format=fmt, width=width, quality=quality.get(fmt, 80), avif_speed=avif_speed
            )
        except Exception as exc:  # noqa: BLE001 - an encoder error fails this file alone
            outcomes.append(
                RenditionOutcome(format=fmt, width=width, error=f"{type(exc).__name__}: {exc}")
            )
            continue
        height = max(1, round(img.height * width / img.width))
        outcomes.append(
            RenditionOutcome(
                format=fmt,
                width=width,
                height=height,
                data=data,
                seconds=time.perf_counter() - started,
            )
        )
    return outcomes
