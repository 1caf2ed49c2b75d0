"""Models: backbone and head registries and the FERClassifier LightningModule."""

from fer_lightning.models.backbones import create_backbone, list_backbones, register_backbone
from fer_lightning.models.classifier import FERClassifier
from fer_lightning.models.heads import create_head, list_heads, register_head

__all__ = [
    "FERClassifier",
    "create_backbone",
    "create_head",
    "list_backbones",
    "list_heads",
    "register_backbone",
    "register_head",
]
