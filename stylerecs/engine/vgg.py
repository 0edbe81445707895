"""VGG-19 encoders and the AdaIN decoder, as data.

K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (configuration E, VGG-19). Like torchvision's ``vgg.py``, the
architecture is a list (``CFG_VGG19``) turned into layers by one function, so module
indices, and therefore state-dict keys, match the published files exactly:

``"adain-vgg"``
    The "normalised VGG" of the community PyTorch port of AdaIN
    (``vgg_normalised.pth``). Index 0 is a 1x1 convolution that turns RGB in [0, 1]
    into the mean-subtracted 0..255 BGR the Caffe weights expect, so the input is plain
    RGB in [0, 1]. Every 3x3 convolution is preceded by ``ReflectionPad2d(1)``; pooling
    uses ``ceil_mode=True``; there is no pooling after relu5_4 (53 modules).
``"torchvision-vgg19"``
    ``torchvision.models.vgg19().features`` (``vgg19-dcbb9e9d.pth``, keys
    ``features.N.*``): zero padding inside the convolutions, ImageNet mean/std
    normalisation of RGB in [0, 1] in front (37 modules).

:class:`Encoder` wraps either layout with its normalisation, so the preprocessing
travels with the weights, and runs only as deep as the layers asked for.
:class:`Decoder` is the AdaIN decoder (``decoder.pth``): relu4_1 features back to RGB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "ADAIN_LAYERS",
    "CFG_DECODER",
    "CFG_VGG19",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LAYOUTS",
    "Decoder",
    "Encoder",
    "Layout",
    "layer_names",
    "make_decoder_layers",
    "make_vgg_layers",
]

Layout = Literal["adain-vgg", "torchvision-vgg19"]
LAYOUTS: tuple[Layout, ...] = ("adain-vgg", "torchvision-vgg19")

# Configuration "E" of the paper: output channels of each 3x3 conv, "M" for max pooling.
CFG_VGG19: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, 256, "M",
    512, 512, 512, 512, "M",
    512, 512, 512, 512, "M",
)  # fmt: skip

# The AdaIN decoder mirrors the encoder up to relu4_1: channels of each 3x3 conv from
# 512 inputs, "U" for nearest-neighbour upsampling x2. The last conv has no ReLU.
CFG_DECODER: tuple[int | str, ...] = (256, "U", 256, 256, 256, 128, "U", 128, 64, "U", 64, 3)

# The layers AdaIN's encoder and its loss use (Huang & Belongie 2017, section 6).
ADAIN_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def make_vgg_layers(
    cfg: Sequence[int | str] = CFG_VGG19, *, layout: Layout = "adain-vgg"
) -> tuple[nn.Sequential, list[str]]:
    """Build the VGG feature layers of ``cfg`` in ``layout`` and name every module.

    Returns the ``nn.Sequential`` (indices match the published state dicts) and one name
    per module: ``conv1_1``, ``relu1_1``, ..., ``pool1``, ... (``pad1_1`` and ``input``
    for the reflection pads and the adain layout's 1x1 colour conv).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown VGG layout {layout!r}; use one of {LAYOUTS}")
    reflect = layout == "adain-vgg"
    cfg = list(cfg)
    if reflect and cfg and cfg[-1] == "M":
        cfg = cfg[:-1]  # the community file stops at relu5_4
    layers: list[nn.Module] = []
    names: list[str] = []
    in_channels = 3
    if reflect:
        layers.append(nn.Conv2d(3, 3, kernel_size=1))
        names.append("input")
    block, index = 1, 1
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=reflect))
            names.append(f"pool{block}")
            block, index = block + 1, 1
            continue
        channels = int(item)
        if reflect:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, channels, kernel_size=3)]
            names += [f"pad{block}_{index}", f"conv{block}_{index}"]
        else:
            layers.append(nn.Conv2d(in_channels, channels, kernel_size=3, padding=1))
            names.append(f"conv{block}_{index}")
        layers.append(nn.ReLU(inplace=True))
        names.append(f"relu{block}_{index}")
        in_channels = channels
        index += 1
    return nn.Sequential(*layers), names


def layer_names(*, layout: Layout = "adain-vgg") -> list[str]:
    """The name of each module of the VGG-19 ``layout``, by index."""
    return make_vgg_layers(layout=layout)[1]


def make_decoder_layers(
    cfg: Sequence[int | str] = CFG_DECODER, *, in_channels: int = 512
) -> nn.Sequential:
    """Build the AdaIN decoder: reflection-padded 3x3 convs, ReLU except after the last."""
    layers: list[nn.Module] = []
    convs = sum(1 for item in cfg if item != "U")
    seen = 0
    for item in cfg:
        if item == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        seen += 1
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, int(item), kernel_size=3)]
        if seen < convs:
            layers.append(nn.ReLU(inplace=True))
        in_channels = int(item)
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """A VGG-19 feature extractor with its input normalisation built in.

    Input: RGB in [0, 1], [N, 3, H, W]. ``forward`` returns relu4_1 (what AdaIN needs);
    :meth:`features` returns any named layers, running no deeper than the deepest one.
    The whole published network is kept in ``body`` (so a real file loads strictly;
    ``body.state_dict()`` has the file's keys, without torchvision's ``features.``
    prefix). The normalisation constants are non-persistent buffers: they follow
    ``.to()`` but are not part of the state dict.
    """

    def __init__(self, *, layout: Layout = "adain-vgg") -> None:
        super().__init__()
        self.layout: Layout = layout
        self.body, names = make_vgg_layers(layout=layout)
        self.names: tuple[str, ...] = tuple(names)
        self.index: dict[str, int] = {name: i for i, name in enumerate(names)}
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        if layout == "torchvision-vgg19":
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        # Made on the CPU even when the layers are built on the meta device (as the
        # checkpoint loader does): they are constants, not loaded from the file.
        cpu = torch.device("cpu")
        self.register_buffer(
            "mean", torch.tensor(mean, device=cpu).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(std, device=cpu).view(1, 3, 1, 1), persistent=False
        )

    @property
    def preprocessing(self) -> str:
        """How inputs are normalised, in words (for reports and docs)."""
        if self.layout == "torchvision-vgg19":
            return "RGB in [0, 1], then (x - ImageNet mean) / ImageNet std"
        return "RGB in [0, 1]; the 1x1 conv at index 0 does the Caffe BGR/mean conversion"

    def normalize(self, x: Tensor) -> Tensor:
        """Apply the input normalisation that goes with these weights."""
        if self.layout == "torchvision-vgg19":
            return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def _resolve(self, layers: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(layers))
        if not wanted:
            raise ValueError("ask for at least one layer")
        unknown = [name for name in wanted if name not in self.index]
        if unknown:
            known = ", ".join(n for n in self.names if n.startswith(("relu", "conv")))
            raise ValueError(f"unknown VGG layer(s) {unknown}; known: {known}")
        return sorted(wanted, key=self.index.__getitem__)

    def features(self, x: Tensor, layers: Iterable[str] = ADAIN_LAYERS) -> dict[str, Tensor]:
        """The activations of ``layers`` (names like ``relu3_1``), shallowest first.

        Stops after the deepest requested layer. A conv output that an in-place ReLU
        would overwrite is cloned before it is returned.
        """
        wanted = self._resolve(layers)
        targets = {self.index[name]: name for name in wanted}
        last = max(targets)
        out: dict[str, Tensor] = {}
        x = self.normalize(x)
        for i, module in enumerate(self.body):
            x = module(x)
            if i in targets:
                inplace_next = i + 1 < len(self.body) and isinstance(self.body[i + 1], nn.ReLU)
                out[targets[i]] = x.clone() if inplace_next else x
            if i == last:
                break
        return out

    def forward(self, x: Tensor) -> Tensor:
        """relu4_1 of ``x`` (RGB in [0, 1])."""
        x = self.normalize(x)
        for module in self.body[: self.index["relu4_1"] + 1]:
            x = module(x)
        return x

    def extra_repr(self) -> str:
        return f"layout={self.layout!r}"


class Decoder(nn.Sequential):
    """The AdaIN decoder: relu4_1 features [N, 512, h, w] to RGB [N, 3, 8h, 8w].

    A plain ``nn.Sequential`` so its state dict has the community ``decoder.pth`` keys
    (``1.weight`` ... ``28.bias``). The output is not clamped.
    """

    def __init__(self, *, cfg: Sequence[int | str] = CFG_DECODER) -> None:
        super().__init__(*make_decoder_layers(cfg))

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        for module in self:
            x = module(x)
        return x
