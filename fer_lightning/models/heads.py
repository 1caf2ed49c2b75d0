"""Head registry: turns backbone features into class logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from fer_lightning.registry import Registry

HEADS: Registry[nn.Module] = Registry("head", "model.head")
register_head = HEADS.register
list_heads = HEADS.names


def create_head(name: str, in_features: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build head ``name`` mapping ``in_features`` to ``num_classes`` logits."""
    return HEADS.build(name, in_features, num_classes, **kwargs)


@register_head("linear")
def linear(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(in_features, num_classes))
    return nn.Sequential(*layers)


@register_head("mlp")
def mlp(
    in_features: int,
    num_classes: int,
    hidden: Sequence[int] = (256,),
    dropout: float = 0.5,
    batch_norm: bool = True,
) -> nn.Module:
    """Flatten -> [Linear -> (BN) -> ReLU -> Dropout] per hidden width -> Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    prev = in_features
    for width in hidden:
        layers.append(nn.Linear(prev, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU(inplace=True))
        if dropout:
            layers.append(nn.Dropout(dropout))
        prev = width
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)
