"""Does a JPEG's compressed data hold every pixel its frame header claims?

libjpeg decodes a scan that ends early (a marker, or the end of the file, where more
entropy-coded data should be) by filling every block it did not get with zeros: it
warns ("Corrupt JPEG data: premature end of data segment") and returns success, and
Pillow, which silences libjpeg's warnings, cannot tell. A small file whose frame header
claims 8000 x 8000 pixels therefore decodes "fine" into 64 MP of flat grey.

libjpeg-turbo reports those warnings to simplejpeg, whose ``strict`` mode raises them.
The check decodes at 1/8 scale in grey (the entropy decoding, which is what runs out of
data, is complete; the inverse DCT and colour conversion are nearly free), so it costs
about half of Pillow's own draft-mode decode of the same file.
"""

from __future__ import annotations

import simplejpeg

__all__ = ["ShortScan", "check_scan_complete"]

# libjpeg's warnings for entropy-coded data that ended before the last block
# (JWRN_HIT_MARKER, JWRN_JPEG_EOF). Others, such as extraneous bytes before a marker,
# are harmless and common in camera files: those pass.
_SHORT_DATA = ("premature end of data segment", "premature end of jpeg file")


class ShortScan(ValueError):
    """The compressed data ends before the last block of the image it describes."""


def check_scan_complete(data: bytes) -> None:
    """Raise :class:`ShortScan` when ``data``'s scans end before its last pixel.

    A file libjpeg-turbo cannot even parse is left to the caller's decoder, which
    reports broken structure itself.
    """
    try:
        _height, _width, colorspace, _subsampling = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return
    try:
        simplejpeg.decode_jpeg(
            data,
            colorspace="CMYK" if colorspace in ("CMYK", "YCCK") else "GRAY",
            fastdct=True,
            min_factor=8,
            strict=True,
        )
    except ValueError as exc:
        message = str(exc)
        if any(short in message.lower() for short in _SHORT_DATA):
            raise ShortScan(
                f"the JPEG's compressed data ends before the last of the pixels its header "
                f"claims ({message}): the decoded image would be partly blank"
            ) from exc
