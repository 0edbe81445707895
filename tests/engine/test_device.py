"""stylerecs.engine.device: choosing cpu/cuda/mps."""

from __future__ import annotations

import pytest
import torch

from stylerecs.engine.device import pick_device


def test_auto_picks_cuda_when_available_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    for auto in (None, "", "auto", " AUTO "):
        assert pick_device(auto).type == expected


def test_cpu_override_and_device_objects():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["tpu", "gpu0", "cuda:x", "banana"])
def test_unknown_device_names_are_rejected(bad):
    with pytest.raises(ValueError, match="device"):
        pick_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="CUDA device"):
        pick_device(f"cuda:{torch.cuda.device_count()}")
