"""The engine on a GPU: half precision, channels_last and a real out-of-memory split.

Runs only where CUDA is present (a lent GPU machine, `python -m pytest -p no:django
tests/engine`); CI has no GPU, and there the CPU tests of the same code paths run
(test_adain.py: half precision on the CPU, the simulated out-of-memory split).
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from stylerecs.engine import pipeline, stylizers
from stylerecs.engine.stylizers.adain import AdaINStylizer
from stylerecs.engine.tensors import pil_to_tensor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def paths(weights_dir):
    return {
        "encoder_weights": str(weights_dir / "vgg_normalised.pth"),
        "decoder_weights": str(weights_dir / "decoder.pth"),
    }


def test_adain_on_cuda_is_half_channels_last_and_agrees_with_the_cpu(paths, photo):
    gpu = AdaINStylizer(device="cuda", **paths)
    cpu = AdaINStylizer(device="cpu", **paths)
    assert gpu.dtype == torch.float16 and gpu.memory_format == torch.channels_last
    assert gpu.batch_pixels is None  # batches are as large as the task's
    content = pil_to_tensor(photo("chelsea", 128))[None]
    style = pil_to_tensor(photo("astronaut", 64))
    expected = cpu.stylize(content, cpu.prepare_style(style))
    out = gpu.stylize(content.cuda(), gpu.prepare_style(style.cuda()))
    assert out.is_cuda and out.dtype == torch.float32
    assert (out.cpu() - expected).abs().max() < 0.02  # float16 against float32


class RecordingAdaIN(AdaINStylizer):
    """The real adain stylizer, recording the batch sizes the pipeline hands it."""

    name = "recording-adain"
    batch_sizes: list[int] = []

    def stylize(self, batch, style_state, **kwargs):
        type(self).batch_sizes.append(batch.shape[0])
        return super().stylize(batch, style_state, **kwargs)


def test_a_real_out_of_memory_splits_the_batch_and_every_image_succeeds(paths, photo, to_bytes):
    # Eight 1024 px photos in one batch need several GB of activations in float16; this
    # process is allowed 1.5 GB of the GPU, so the batch must be split to fit.
    big = photo("astronaut", 512).resize((1024, 1024), Image.Resampling.BICUBIC)
    contents = [to_bytes(big, "JPEG")] * 8
    style = to_bytes(photo("coffee", 256), "PNG")
    stylizers.register("recording-adain", RecordingAdaIN)
    RecordingAdaIN.batch_sizes = []
    device = torch.device("cuda")
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(1.5 * 2**30 / total, device)
    try:
        outcomes = pipeline.stylize_many(
            contents, style, method="recording-adain", device="cuda", options=paths,
            isolate_decoding=False,
        )  # fmt: skip
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        stylizers._registered.pop("recording-adain", None)
        stylizers.clear_cache()
        torch.cuda.empty_cache()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert all((o.width, o.height) == (1024, 1024) for o in outcomes)
    assert RecordingAdaIN.batch_sizes[0] == 8 and len(RecordingAdaIN.batch_sizes) > 1
