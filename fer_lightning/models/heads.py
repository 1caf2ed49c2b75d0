"""Head registry: turns backbone features into class logits.

A head gets the backbone's output shape without the batch dimension: ``(F,)`` for a pooled
feature vector or ``(C, H, W)`` for a feature map, so that it can flatten, pool or normalise it
as its paper does. The heads of the five studies are all :func:`mlp` or :func:`vgg`:

============================================  ==================================================
paper head                                    YAML
============================================  ==================================================
qutub2023 S0: flatten -> 300 -> BN -> 7       ``mlp``, ``hidden: [300]``, ``batch_norm: true``
trinh2023: dropout 0.25 -> BN -> flatten      ``mlp``, ``input_dropout: 0.25``,
-> 64 -> 7                                    ``input_batch_norm: true``, ``hidden: [64]``
jahangir2024 VGG16: flatten -> dropout 0.5    ``mlp``, ``input_dropout: 0.5``,
-> 64 -> 32 -> 7                              ``hidden: [64, 32]``
jahangir2024 ResNet50: GAP -> 128 -> dropout  ``mlp``, ``pool: avg``, ``hidden: [128, 64]``,
0.5 -> 64 -> 7                                ``dropout: [0.5, 0.0]``
qutub2023 VGG: avgpool 1x1 | 2x2 -> 4096      ``vgg``, ``pool_size: 1`` (or 2)
-> 4096 -> 7
============================================  ==================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.registry import Info, Registry

HEADS: Registry[nn.Module, Info] = Registry("head", "model.head")
list_heads = HEADS.names
head_info = HEADS.info

Shape = tuple[int, ...]
Pool = Literal["flatten", "avg"]


def register_head(
    name: str, *, source: str, summary: str
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a head builder under ``name``: ``source`` names the papers it serves, ``summary``
    is one line for the docs. A builder takes ``(in_shape, num_classes, **kwargs)``."""
    return HEADS.register(name, Info("own", source, summary))


def create_head(
    name: str, in_shape: int | Sequence[int], num_classes: int, **kwargs: object
) -> nn.Module:
    """Build head ``name`` mapping features of shape ``in_shape`` to ``num_classes`` logits."""
    shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    return HEADS.build(name, shape, num_classes, **kwargs)


def _reduce(in_shape: Shape, pool: Pool) -> tuple[list[nn.Module], int]:
    """Layers turning ``in_shape`` into a flat vector, and its width: ``avg`` is global average
    pooling of a ``(C, H, W)`` map (width C), ``flatten`` keeps everything (width C*H*W)."""
    if pool == "avg" and len(in_shape) == 3:
        return [nn.AdaptiveAvgPool2d(1), nn.Flatten()], in_shape[0]
    if pool not in ("avg", "flatten"):
        raise FERUserError(f"model.head_kwargs.pool: '{pool}' is not one of flatten, avg")
    return [nn.Flatten()], math.prod(in_shape)


def _per_layer(value: float | Sequence[float], n: int, key: str) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) != n:
        raise FERUserError(
            f"model.head_kwargs.{key}: {len(values)} values for {n} hidden layers {values}"
        )
    return values


@register_head(
    "linear",
    source="qutub2023, almsari2024, trinh2023",
    summary="(global average pool or flatten) -> (dropout) -> Linear",
)
def linear(
    in_shape: Shape, num_classes: int, dropout: float = 0.0, pool: Pool = "flatten"
) -> nn.Module:
    """(Global average pool or flatten) -> (dropout) -> Linear."""
    layers, width = _reduce(in_shape, pool)
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@register_head(
    "mlp",
    source="qutub2023, almsari2024, trinh2023, jahangir2024, bodapati2024",
    summary="(input dropout, BN) -> pool or flatten -> [Linear -> (BN) -> ReLU -> (dropout)] "
    "per hidden width -> Linear",
)
def mlp(
    in_shape: Shape,
    num_classes: int,
    hidden: Sequence[int] = (256,),
    dropout: float | Sequence[float] = 0.5,
    batch_norm: bool = True,
    pool: Pool = "flatten",
    input_dropout: float = 0.0,
    input_batch_norm: bool = False,
) -> nn.Module:
    """[input dropout] -> [input BN] -> pool/flatten -> [Linear -> (BN) -> ReLU -> (Dropout)]
    per hidden width -> Linear.

    ``dropout`` is one rate for every hidden layer or one per layer. ``input_batch_norm``
    normalises the backbone output before flattening (per channel on a feature map, as Keras'
    ``BatchNormalization`` on a 4-D tensor).
    """
    layers: list[nn.Module] = []
    if input_dropout:
        layers.append(nn.Dropout(input_dropout))
    if input_batch_norm:
        layers.append(
            nn.BatchNorm2d(in_shape[0]) if len(in_shape) == 3 else nn.BatchNorm1d(in_shape[0])
        )
    reduce, prev = _reduce(in_shape, pool)
    layers += reduce
    rates = _per_layer(dropout, len(hidden), "dropout")
    for width, rate in zip(hidden, rates, strict=True):
        layers.append(nn.Linear(prev, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU(inplace=True))
        if rate:
            layers.append(nn.Dropout(rate))
        prev = width
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)


@register_head(
    "vgg",
    source="qutub2023",
    summary="torchvision's VGG classifier after an adaptive average pool to pool_size^2",
)
def vgg(
    in_shape: Shape,
    num_classes: int,
    pool_size: int = 1,
    hidden: Sequence[int] = (4096, 4096),
    dropout: float = 0.5,
) -> nn.Module:
    """torchvision's VGG classifier after an adaptive average pool to ``pool_size`` x
    ``pool_size`` (torchvision uses 7): Linear -> ReLU -> Dropout per hidden width -> Linear.

    qutub2023's counts fix ``pool_size``: 1 gives VGG16 33,625,927 parameters (512 -> 4096),
    2 gives VGG19 45,227,079 (2,048 -> 4096)."""
    if len(in_shape) != 3:
        raise FERUserError(
            f"model.head 'vgg' needs a feature map (C, H, W); the backbone gives {in_shape}"
        )
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(pool_size), nn.Flatten()]
    prev = in_shape[0] * pool_size * pool_size
    for width in hidden:
        layers += [nn.Linear(prev, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        prev = width
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)
