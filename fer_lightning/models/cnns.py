"""Our own small CNNs for 48x48 faces: the papers' "conv blocks" networks.

All three studies that train their own CNN describe the same family: blocks of convolution ->
batch norm -> ReLU (-> more convolutions) -> 2x2 max-pool -> dropout, then a flatten and dense
layers. :class:`ConvBlocksCNN` is that family; the papers' networks are its presets (the dense
layers are the head, chosen in YAML). Where a paper leaves widths out, the docstring of its
builder in :mod:`fer_lightning.models.backbones.own` says what we chose.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvBlocksCNN(nn.Module):
    """``len(widths)`` blocks of ``convs_per_block`` x (3x3 conv, no bias -> BatchNorm -> ReLU),
    each block ending in 2x2 max-pool and dropout; the output is flattened
    (``widths[-1] * (image_size // 2**len(widths))**2`` features)."""

    def __init__(
        self,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        convs_per_block: int = 2,
        dropout: float = 0.25,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_chans
        for width in widths:
            for _ in range(convs_per_block):
                layers += [
                    nn.Conv2d(prev, width, kernel_size, padding=kernel_size // 2, bias=False),
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


#: The name the seed's baseline was introduced under.
BaselineCNN = ConvBlocksCNN
