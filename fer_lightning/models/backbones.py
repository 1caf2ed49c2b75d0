"""Backbone registry: a name in YAML -> a feature extractor and its feature width.

Like timm's registry, each builder is registered under a name and called through
:func:`create_backbone`. A backbone returns a flat ``(N, num_features)`` tensor or a feature map
that the head flattens; the head is chosen separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from timm.models import adapt_input_conv
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.models.pretrained import load_torchvision_weights
from fer_lightning.registry import Registry


@dataclass
class Backbone:
    module: nn.Module
    num_features: int


BACKBONES: Registry[Backbone] = Registry("backbone", "model.backbone")
register_backbone = BACKBONES.register
list_backbones = BACKBONES.names


def create_backbone(
    name: str, *, in_chans: int = 1, image_size: int = 48, pretrained: bool = False, **kwargs: Any
) -> Backbone:
    """Build the backbone ``name`` for ``in_chans`` x ``image_size`` inputs."""
    return BACKBONES.build(
        name, in_chans=in_chans, image_size=image_size, pretrained=pretrained, **kwargs
    )


# ---------------------------------------------------------------------------- own CNNs
class BaselineCNN(nn.Module):
    """The seed S0 baseline of qutub2023, as we define it (the paper gives only its parameter
    count, 1,672,775, and says it was found by trial and error).

    Three VGG-style blocks, each two 3x3 conv (no bias) -> BatchNorm -> ReLU, then 2x2 max-pool
    and dropout; widths 32-64-128, so a 48x48 input leaves a 128x6x6 map, flattened to 4,608
    features. With the default ``mlp`` head (4,608 -> 300 -> BN -> ReLU -> dropout -> 7) the
    model has 1,672,287 parameters, 488 (0.03 %) fewer than the paper: the hidden width 300 is
    chosen to match its count, the narrow convolutions to train at a few hundred images per
    second on a laptop CPU.
    """

    def __init__(
        self,
        in_chans: int = 1,
        widths: tuple[int, ...] = (32, 64, 128),
        convs_per_block: int = 2,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_chans
        for width in widths:
            for _ in range(convs_per_block):
                layers += [
                    nn.Conv2d(prev, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                prev = width
            layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_backbone("baseline_cnn")
def baseline_cnn(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    widths: tuple[int, ...] = (32, 64, 128),
    convs_per_block: int = 2,
    dropout: float = 0.25,
) -> Backbone:
    if pretrained:
        raise FERUserError("model.pretrained: baseline_cnn has no pretrained weights")
    net = BaselineCNN(in_chans, tuple(widths), convs_per_block, dropout)
    side = image_size // 2 ** len(widths)
    if side < 1:
        raise FERUserError(
            f"data.image_size {image_size} is too small for {len(widths)} pooling blocks"
        )
    return Backbone(net, net.out_channels * side * side)


# ------------------------------------------------------------------------- torchvision
def _adapt_first_conv(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """A first conv for ``in_chans`` inputs, weights adapted by timm's ``adapt_input_conv``
    (a 1-channel conv gets the RGB kernels summed, so pretrained filters still respond to gray)."""
    if in_chans == conv.in_channels:
        return conv
    new = nn.Conv2d(
        in_chans,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(adapt_input_conv(in_chans, conv.weight))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


@register_backbone("resnet18")
def resnet18(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's ResNet18 (torchvision, because the paper's 11,180,103 count is exactly
    torchvision's ResNet18 with a 7-way fc), global-average-pooled 512 features."""
    from torchvision.models import ResNet18_Weights
    from torchvision.models import resnet18 as build

    net = build(weights=None)
    if pretrained:
        load_torchvision_weights(net, ResNet18_Weights.IMAGENET1K_V1)
    net.conv1 = _adapt_first_conv(net.conv1, in_chans)
    num_features = net.fc.in_features
    net.fc = nn.Identity()
    return Backbone(net, num_features)
