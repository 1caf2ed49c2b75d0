"""Our own small CNNs (:mod:`fer_lightning.models.cnns`): the papers' trained-from-scratch
"conv blocks" networks for 48x48 gray faces. Where a paper leaves widths out, the builder's
docstring says what we chose."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.models.backbones.base import Backbone, Registration, register_backbone
from fer_lightning.models.cnns import ConvBlocksCNN


def _register(name: str, paper: str, summary: str, image_size: int = 48) -> Registration:
    return register_backbone(
        name, family="own", source=paper, summary=summary, in_chans=1, image_size=image_size
    )


def _conv_blocks(
    name: str,
    in_chans: int,
    image_size: int,
    pretrained: bool,
    widths: Sequence[int],
    convs_per_block: int,
    dropout: float,
) -> Backbone:
    if pretrained:
        raise FERUserError(f"model.pretrained: {name} has no pretrained weights")
    side = image_size // 2 ** len(widths)
    if side < 1:
        raise FERUserError(
            f"data.image_size {image_size} is too small for {len(widths)} pooling blocks"
        )
    net = ConvBlocksCNN(in_chans, tuple(widths), convs_per_block, dropout)
    return Backbone(net, (net.out_channels * side * side,))


@_register(
    "baseline_cnn",
    "qutub2023",
    "3 blocks of 2x (3x3 conv, BN, ReLU), max-pool, dropout; widths 32-64-128 are ours",
)
def baseline_cnn(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    widths: Sequence[int] = (32, 64, 128),
    convs_per_block: int = 2,
    dropout: float = 0.25,
) -> Backbone:
    """The seed S0 baseline of qutub2023, as we define it (the paper gives only its parameter
    count, 1,672,775, and says it was found by trial and error).

    Three VGG-style blocks, each two 3x3 conv (no bias) -> BatchNorm -> ReLU, then 2x2 max-pool
    and dropout; widths 32-64-128, so a 48x48 input leaves a 128x6x6 map, flattened to 4,608
    features. With the ``mlp`` head (4,608 -> 300 -> BN -> ReLU -> dropout -> 7) the model has
    1,672,287 parameters, 488 (0.03 %) fewer than the paper: the hidden width 300 is chosen to
    match its count, the narrow convolutions to train at a few hundred images per second on a
    laptop CPU.
    """
    return _conv_blocks(
        "baseline_cnn", in_chans, image_size, pretrained, widths, convs_per_block, dropout
    )


@_register(
    "almsari2024_cnn",
    "almsari2024",
    "3 blocks of 3x3 conv, BN, ReLU, max-pool, dropout; widths 32-64-128 are ours",
)
def almsari2024_cnn(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    widths: Sequence[int] = (32, 64, 128),
    convs_per_block: int = 1,
    dropout: float = 0.25,
) -> Backbone:
    """almsari2024's CNN (their Fig. 5): three blocks of convolution -> batch norm -> max-pool ->
    dropout, then flatten (the dense -> BN -> softmax part is the ``mlp`` head). The paper gives
    no widths or rates: we take one 3x3 conv per block, widths 32-64-128 and dropout 0.25
    (Keras' usual), so 48x48 leaves 128x6x6 = 4,608 features."""
    return _conv_blocks(
        "almsari2024_cnn", in_chans, image_size, pretrained, widths, convs_per_block, dropout
    )


@_register(
    "bodapati2024_cnn",
    "bodapati2024",
    "4 blocks of 3x3 conv, BN, ReLU, max-pool, dropout; widths 64-128-256-512 are ours",
)
def bodapati2024_cnn(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    widths: Sequence[int] = (64, 128, 256, 512),
    convs_per_block: int = 1,
    dropout: float = 0.25,
) -> Backbone:
    """bodapati2024's Sequential CNN: conv -> batch norm -> max-pool -> dropout blocks, then
    dense layers and softmax (the ``mlp`` head). The paper draws it (Fig. 1) without numbers;
    we take four blocks of one 3x3 conv, widths 64-128-256-512, dropout 0.25, so 48x48 leaves
    512x3x3 = 4,608 features."""
    return _conv_blocks(
        "bodapati2024_cnn", in_chans, image_size, pretrained, widths, convs_per_block, dropout
    )


#: barsoum2016's VGG13: (width, convolutions) of each block.
VGG13_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 3), (256, 3))


@_register(
    "vgg13_ferplus",
    "barsoum2016",
    "4 blocks (2, 2, 3, 3) of 3x3 conv + ReLU, widths 64-128-256-256, max-pool, dropout 0.25 "
    "(no BN)",
    image_size=64,
)
def vgg13_ferplus(
    *, in_chans: int, image_size: int, pretrained: bool = False, dropout: float = 0.25
) -> Backbone:
    """The VGG13 of the FER+ paper (barsoum2016; microsoft/FERPlus ``src/models.py``): four
    blocks of 3x3 convolutions (padded, with bias, ReLU; no batch norm) of 2, 2, 3 and 3
    layers, widths 64-128-256-256, each followed by a 2x2 max-pool and dropout 0.25, so a 64x64
    gray input leaves 256x4x4 = 4,096 features. The paper's two 1,024-wide fully connected
    layers with ReLU and dropout 0.5 and the 8-way output are the ``mlp`` head (``hidden:
    [1024, 1024]``, ``dropout: 0.5``, ``batch_norm: false``): 8,757,704 parameters in all.
    Weights are Glorot-uniform initialised, as CNTK's ``glorot_uniform`` there (biases 0)."""
    if pretrained:
        raise FERUserError("model.pretrained: vgg13_ferplus has no pretrained weights")
    side = image_size // 2 ** len(VGG13_BLOCKS)
    if side < 1:
        raise FERUserError(f"data.image_size {image_size} is too small for 4 pooling blocks")
    layers: list[nn.Module] = []
    prev = in_chans
    for width, convs in VGG13_BLOCKS:
        for _ in range(convs):
            conv = nn.Conv2d(prev, width, 3, padding=1)
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU(inplace=True)]
            prev = width
        layers += [nn.MaxPool2d(2, 2), nn.Dropout(dropout)]
    layers.append(nn.Flatten())
    return Backbone(nn.Sequential(*layers), (prev * side * side,))
