"""stylerecs.engine.vgg: the VGG-19 layouts and the AdaIN decoder, as the real files key them."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from stylerecs.engine.vgg import Decoder, Encoder, layer_names

# Written out from the community AdaIN port's vgg_normalised.pth / decoder.pth, not
# derived from our code.
ADAIN_CONVS = {
    0: (3, 3, 1), 2: (3, 64, 3), 5: (64, 64, 3), 9: (64, 128, 3), 12: (128, 128, 3),
    16: (128, 256, 3), 19: (256, 256, 3), 22: (256, 256, 3), 25: (256, 256, 3),
    29: (256, 512, 3), 32: (512, 512, 3), 35: (512, 512, 3), 38: (512, 512, 3),
    42: (512, 512, 3), 45: (512, 512, 3), 48: (512, 512, 3), 51: (512, 512, 3),
}  # fmt: skip
DECODER_CONVS = {
    1: (512, 256), 5: (256, 256), 8: (256, 256), 11: (256, 256), 14: (256, 128),
    18: (128, 128), 21: (128, 64), 25: (64, 64), 28: (64, 3),
}  # fmt: skip


@pytest.fixture(scope="module")
def encoder():
    return Encoder(layout="adain-vgg").eval()


def test_adain_layout_matches_the_community_file_index_for_index(encoder):
    body = encoder.body
    assert len(body) == 53
    convs = {i: m for i, m in enumerate(body) if isinstance(m, nn.Conv2d)}
    assert {i: (m.in_channels, m.out_channels, m.kernel_size[0]) for i, m in convs.items()} == (
        ADAIN_CONVS
    )
    for i in ADAIN_CONVS:
        if i:
            assert isinstance(body[i - 1], nn.ReflectionPad2d) and isinstance(body[i + 1], nn.ReLU)
            assert convs[i].padding == (0, 0)
    pools = [i for i, m in enumerate(body) if isinstance(m, nn.MaxPool2d)]
    assert pools == [7, 14, 27, 40] and all(body[i].ceil_mode for i in pools)
    names = layer_names(layout="adain-vgg")
    assert [names.index(n) for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")] == [
        3,
        10,
        17,
        30,
        43,
    ]


def test_decoder_matches_the_community_file_index_for_index():
    decoder = Decoder()
    assert len(decoder) == 29
    convs = {
        i: (m.in_channels, m.out_channels)
        for i, m in enumerate(decoder)
        if isinstance(m, nn.Conv2d)
    }
    assert convs == DECODER_CONVS
    assert [i for i, m in enumerate(decoder) if isinstance(m, nn.Upsample)] == [3, 16, 23]
    assert not isinstance(decoder[-1], nn.ReLU)  # the last conv is linear
    assert decoder(torch.rand(1, 512, 3, 5)).shape == (1, 3, 24, 40)


def test_torchvision_layout_has_torchvisions_keys_and_shapes():
    ours = Encoder(layout="torchvision-vgg19").body.state_dict()
    theirs = make_layers(cfgs["E"]).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_torchvision_encoder_normalises_like_imagenet_then_runs_torchvisions_layers():
    torch.manual_seed(0)
    reference = make_layers(cfgs["E"]).eval()
    encoder = Encoder(layout="torchvision-vgg19").eval()
    encoder.body.load_state_dict(reference.state_dict())
    x = torch.rand(2, 3, 32, 48)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference[:21]((x - mean) / std)  # index 20 is relu4_1
        assert torch.allclose(encoder(x), expected, atol=1e-5)
    assert "ImageNet" in encoder.preprocessing
    assert not [k for k in encoder.state_dict() if not k.startswith("body.")]  # no buffers


def test_features_stop_at_the_deepest_requested_layer(encoder):
    ran: list[int] = []
    hooks = [
        module.register_forward_hook(lambda *_, i=i: ran.append(i))
        for i, module in enumerate(encoder.body)
    ]
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        out = encoder.features(x, ("relu2_1", "relu1_1"))
    assert list(out) == ["relu1_1", "relu2_1"]  # shallowest first
    assert max(ran) == 10 and out["relu2_1"].shape == (1, 128, 16, 16)
    ran.clear()
    with torch.no_grad():
        relu4_1 = encoder(x)
    assert max(ran) == 30
    with torch.no_grad():
        assert torch.equal(encoder.features(x, ("relu4_1",))["relu4_1"], relu4_1)
    for hook in hooks:
        hook.remove()


def test_a_conv_output_survives_the_in_place_relu_after_it(encoder):
    with torch.no_grad():
        out = encoder.features(torch.rand(1, 3, 32, 32), ("conv4_2", "relu4_2"))
    assert (out["conv4_2"] < 0).any()
    assert torch.equal(out["relu4_2"], out["conv4_2"].clamp_min(0))


def test_unknown_layers_and_layouts_are_errors(encoder):
    with pytest.raises(ValueError, match="relu9_9"):
        encoder.features(torch.rand(1, 3, 16, 16), ("relu9_9",))
    with pytest.raises(ValueError, match="layout"):
        Encoder(layout="caffe")  # type: ignore[arg-type]
