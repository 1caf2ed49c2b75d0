"""The backbone registry: :class:`Backbone`, what the docs know of each (:class:`BackboneInfo`)
and :func:`create_backbone`, which every builder is called through."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.registry import Info, Registry

#: timm's spelling: ``"avg"`` (the network's own global average pool) or ``""`` (the last
#: feature map, for heads that flatten it as Keras papers do).
GlobalPool = Literal["avg", ""]

#: Who implements a backbone.
FAMILIES = ("own", "torchvision", "timm")


@dataclass
class Backbone:
    module: nn.Module
    #: Output shape without the batch dimension; measured with a dry run when a builder
    #: leaves it out.
    out_shape: tuple[int, ...] = ()

    @property
    def num_features(self) -> int:
        return math.prod(self.out_shape)


@dataclass(frozen=True)
class BackboneInfo(Info):
    """:class:`~fer_lightning.registry.Info` plus the input the network was designed (and its
    weights trained) for, and which pretrained weights ``model.pretrained: true`` loads."""

    in_chans: int = 3
    image_size: int = 224
    #: Empty when the network has no pretrained weights.
    weights: str = ""

    @property
    def pretrained(self) -> bool:
        return bool(self.weights)


#: What :func:`register_backbone` returns: a decorator registering a builder.
Registration = Callable[[Callable[..., Backbone]], Callable[..., Backbone]]

BACKBONES: Registry[Backbone, BackboneInfo] = Registry("backbone", "model.backbone")
list_backbones = BACKBONES.names
backbone_info = BACKBONES.info


def register_backbone(
    name: str,
    *,
    family: str,
    source: str,
    summary: str,
    in_chans: int,
    image_size: int,
    weights: str = "",
) -> Registration:
    """Register a builder under ``name`` with what the docs say about it: ``family`` (one of
    :data:`FAMILIES`), ``source`` (the paper key it follows, or the library's model name), a
    one-line ``summary``, its native input and its pretrained ``weights`` (empty: none).

    A builder takes keyword arguments ``in_chans``, ``image_size`` and ``pretrained`` (and
    ``num_classes`` if it has class outputs of its own) and returns a :class:`Backbone`."""
    if family not in FAMILIES:
        raise ValueError(f"backbone '{name}': family '{family}' is not one of {FAMILIES}")
    info = BackboneInfo(family, source, summary, in_chans, image_size, weights)
    return BACKBONES.register(name, info)


def create_backbone(
    name: str,
    *,
    in_chans: int = 1,
    image_size: int = 48,
    pretrained: bool = False,
    num_classes: int = 7,
    **kwargs: Any,
) -> Backbone:
    """Build the backbone ``name`` for ``in_chans`` x ``image_size`` inputs.

    ``num_classes`` reaches only builders that have class outputs of their own (auxiliary
    classifiers)."""
    if BACKBONES.accepts(name, "num_classes"):
        kwargs["num_classes"] = num_classes
    built = BACKBONES.build(
        name, in_chans=in_chans, image_size=image_size, pretrained=pretrained, **kwargs
    )
    if not built.out_shape:
        built.out_shape = _output_shape(built.module, name, in_chans, image_size)
    return built


def _output_shape(module: nn.Module, name: str, in_chans: int, image_size: int) -> tuple[int, ...]:
    """The backbone's output shape for one image, from a forward pass in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, in_chans, image_size, image_size))
    except RuntimeError as err:
        raise FERUserError(
            f"data.image_size {image_size} does not fit backbone '{name}': {err}"
        ) from None
    finally:
        module.train(was_training)
    if isinstance(out, tuple):
        out = out[0]
    return tuple(out.shape[1:])
