"""Overlapping tiles for images too large to process whole, and their blending weights.

Tiles start on multiples of 8 pixels (the VGG encoder pools three times, so a tile's
features line up with the whole image's). Where tiles overlap they are cross-faded with
raised-cosine weights that sum to one; the span each tile "owns" partitions the image,
so per-tile statistics of the owned parts merge into whole-image statistics. Used by
:meth:`stylerecs.engine.stylizers.adain.AdaINStylizer.stylize`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["ALIGN", "axis_tiles", "axis_weights", "ramp"]

ALIGN = 8  # the encoder pools three times: tiles start on multiples of 8 pixels


def axis_tiles(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/end of tiles of at most ``tile`` pixels covering [0, length), overlapping by
    at least ``overlap``; starts are multiples of ALIGN."""
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    # The fewest tiles of at most ``tile`` pixels, then as small as they can be (an image
    # just over the tile size would otherwise cost nearly twice its area), evenly
    # spaced so that every overlap is at least ``overlap``.
    size = -(-(length + (count - 1) * overlap) // count)
    size = min(tile, -(-size // ALIGN) * ALIGN)
    last = length - size
    starts = [k * last // (count - 1) // ALIGN * ALIGN for k in range(count - 1)] + [last]
    return [(s, s + size) for s in starts]


def axis_weights(
    tiles: list[tuple[int, int]], index: int, *, device: torch.device
) -> tuple[Tensor, tuple[int, int]]:
    """The blending weight along one axis of tile ``index``, and the span it owns.

    Where two tiles overlap, each drops its outer quarter of the overlap (those pixels
    saw the tile's own padding instead of the neighbouring image) and the middle half
    cross-fades with complementary raised-cosine ramps, so weights sum to one and no
    seam shows. The owned span (from one overlap's middle to the next's) partitions the
    image: it is where the tile's features count for the image's statistics.
    """
    start, end = tiles[index]
    weight = torch.ones(end - start, dtype=torch.float32, device=device)
    positions = torch.arange(end - start, dtype=torch.float32, device=device)
    own_start, own_end = start, end
    if index > 0:
        overlap = tiles[index - 1][1] - start
        weight = weight * ramp(positions, overlap)
        own_start = start + (overlap // 2) // ALIGN * ALIGN
    if index < len(tiles) - 1:
        overlap = end - tiles[index + 1][0]
        weight = weight * ramp(positions.flip(0), overlap)
        own_end = tiles[index + 1][0] + (overlap // 2) // ALIGN * ALIGN
    return weight, (own_start, own_end)


def ramp(distance: Tensor, overlap: int) -> Tensor:
    """0 for the outer quarter of ``overlap``, raised cosine to 1 over the middle half."""
    margin = overlap // 4
    width = max(1, overlap - 2 * margin)
    t = ((distance - margin + 0.5) / width).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * t)
