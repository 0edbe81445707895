"""stylerecs.engine.tiling: tiles cover the image, aligned, and their weights sum to one."""

from __future__ import annotations

import torch

from stylerecs.engine.tiling import axis_tiles, axis_weights


def test_tiles_cover_the_image_with_aligned_starts_and_full_overlaps():
    for length in (136, 160, 200, 512, 1360, 4096):
        tiles = axis_tiles(length, 128, 64)
        assert tiles[0][0] == 0 and tiles[-1][1] == length
        assert all(start % 8 == 0 and (end - start) % 8 == 0 for start, end in tiles)
        assert all(b[0] <= a[1] - 64 for a, b in zip(tiles, tiles[1:], strict=False))
        assert all(end - start <= 128 for start, end in tiles)
    assert axis_tiles(96, 128, 64) == [(0, 96)]
    assert axis_tiles(160, 128, 64) == [(0, 112), (48, 160)]  # not two 128 px tiles
    # 4096 px in 1024 px tiles: five of 928 px, not five of 1024.
    assert {end - start for start, end in axis_tiles(4096, 1024, 128)} == {928}


def test_weights_sum_to_one_and_owned_spans_partition_the_axis():
    for length in (160, 1360, 4096):
        tiles = axis_tiles(length, 256, 64)
        total = torch.zeros(length)
        owned: list[tuple[int, int]] = []
        for index, (start, end) in enumerate(tiles):
            weight, span = axis_weights(tiles, index, device=torch.device("cpu"))
            total[start:end] += weight
            owned.append(span)
        assert torch.allclose(total, torch.ones(length), atol=1e-6)
        assert owned[0][0] == 0 and owned[-1][1] == length
        assert all(a[1] == b[0] for a, b in zip(owned, owned[1:], strict=False))
        assert all(start % 8 == 0 for start, _ in owned)
