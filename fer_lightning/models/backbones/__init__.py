"""Backbone registry: a name in YAML -> a feature extractor and the shape of its output.

Like timm's registry, each builder is registered under a name, with what the docs say about it
(:class:`BackboneInfo`: family, source, summary, native input, pretrained weights), and called
through :func:`create_backbone`. A backbone returns either a flat ``(N, F)`` tensor or a
``(N, C, H, W)`` feature map; the head (chosen separately) pools, flattens or normalises it.
``global_pool`` (timm's spelling) picks between the two where a network has both.

One module per family, each registering its builders when imported here:

- :mod:`~fer_lightning.models.backbones.own`: our small CNNs, the papers' networks trained from
  scratch;
- :mod:`~fer_lightning.models.backbones.torchvision`: every network torchvision has (with
  ImageNet weights and, for GoogLeNet and InceptionV3, auxiliary classifiers);
- :mod:`~fer_lightning.models.backbones.timm`: what torchvision lacks (ResNet50V2, ViT-B/16).

Adding a backbone is one decorated builder in the module of its family.
"""

# Importing the family modules registers their builders.
from fer_lightning.models.backbones import own, timm, torchvision  # noqa: F401
from fer_lightning.models.backbones.base import (
    FAMILIES,
    Backbone,
    BackboneInfo,
    backbone_info,
    create_backbone,
    list_backbones,
    register_backbone,
)
from fer_lightning.models.cnns import BaselineCNN, ConvBlocksCNN

__all__ = [
    "FAMILIES",
    "Backbone",
    "BackboneInfo",
    "BaselineCNN",
    "ConvBlocksCNN",
    "backbone_info",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]
