"""Our own small CNNs (:mod:`fer_lightning.models.cnns`): the papers' trained-from-scratch
"conv blocks" networks for 48x48 gray faces. Where a paper leaves widths out, the builder's
docstring says what we chose."""

from __future__ import annotations

from collections.abc import Sequence

from fer_lightning.errors import FERUserError
from fer_lightning.models.backbones.base import Backbone, Registration, register_backbone
from fer_lightning.models.cnns import ConvBlocksCNN


def _register(name: str, paper: str, summary: str) -> Registration:
    return register_backbone(
        name, family="own", source=paper, summary=summary, in_chans=1, image_size=48
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
