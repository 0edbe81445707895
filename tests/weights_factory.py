"""Small-in-values, full-in-shape random checkpoints in the real weight-file formats.

Used by the engine tests and the integration tests (which install them with
``manage.py stylerecs_weights install``). Speed does not depend on weight values, and
strict loading needs the real shapes.
"""

from __future__ import annotations

from pathlib import Path


def _he_init(module, seed: int):
    """He-normal convs (as torchvision initialises VGG), so deep features stay O(1)."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator))
                m.weight.mul_((2.0 / fan_in) ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.01)
    return module


def write_random_weights(root: Path) -> Path:
    """Random checkpoints in the real files' formats and full shapes, written once.

    vgg_normalised.pth (80 MB) and decoder.pth (14 MB) as the community AdaIN port
    saves them, and vgg19-dcbb9e9d.pth as torchvision's ``vgg19().state_dict()`` keys
    it (features built by torchvision itself; a small stand-in classifier, whose keys a
    loader must ignore). The decoder's last conv is scaled so that its output sits
    around mid-grey instead of clipping.
    """
    import torch
    from torch import nn
    from torchvision.models.vgg import cfgs, make_layers

    from stylerecs.engine.vgg import Decoder, Encoder

    encoder = _he_init(Encoder(layout="adain-vgg"), seed=1)
    torch.save(encoder.body.state_dict(), root / "vgg_normalised.pth")

    decoder = _he_init(Decoder(), seed=2)
    with torch.no_grad():
        probe = decoder(
            encoder(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3)))
        )
        last, scale = decoder[28], 0.2 / probe.std()
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(0.5 - scale * probe.mean())
    torch.save(decoder.state_dict(), root / "decoder.pth")

    torchvision_like = nn.Module()
    torchvision_like.features = _he_init(make_layers(cfgs["E"]), seed=4)
    torchvision_like.classifier = nn.Sequential(nn.Linear(8, 4))
    torch.save(torchvision_like.state_dict(), root / "vgg19-dcbb9e9d.pth")
    return root
