"""Models: backbone and head registries, training regimes and the FERClassifier LightningModule."""

from fer_lightning.models.backbones import (
    Backbone,
    backbone_info,
    create_backbone,
    list_backbones,
    register_backbone,
)
from fer_lightning.models.classifier import FERClassifier
from fer_lightning.models.heads import create_head, head_info, list_heads, register_head
from fer_lightning.models.regimes import Finetune, Transfer

__all__ = [
    "Backbone",
    "FERClassifier",
    "Finetune",
    "Transfer",
    "backbone_info",
    "create_backbone",
    "create_head",
    "head_info",
    "list_backbones",
    "list_heads",
    "register_backbone",
    "register_head",
]
