"""timm backbones, for what torchvision lacks: the pre-activation ResNet50 (Keras' ResNet50V2 ->
``resnetv2_50``) and ViT-B/16 (``vit_base_patch16_224``; its ``orig_in21k_ft_in1k`` weights are
the ones of ``google/vit-base-patch16-224`` that trinh2023 fine-tuned). Weights come from the
Hugging Face cache (:func:`fer_lightning.models.pretrained.create_timm_model`)."""

from __future__ import annotations

from fer_lightning.models.backbones.base import (
    Backbone,
    GlobalPool,
    Registration,
    register_backbone,
)
from fer_lightning.models.pretrained import create_timm_model


def _register(name: str, model: str, summary: str, weights: str) -> Registration:
    """Register timm's ``model`` (for 224x224 RGB) under ``name``."""
    return register_backbone(
        name,
        family="timm",
        source=model,
        summary=summary,
        in_chans=3,
        image_size=224,
        weights=f"timm {weights} (Hugging Face)",
    )


@_register(
    "resnet50v2",
    "resnetv2_50",
    "pre-activation ResNet50 (Keras' ResNet50V2); the unpooled 2,048-channel map",
    "resnetv2_50.a1h_in1k",
)
def resnet50v2(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    global_pool: GlobalPool = "",
    tag: str = "a1h_in1k",
) -> Backbone:
    """The pre-activation ResNet50 (Keras' ResNet50V2) as timm's ``resnetv2_50`` (torchvision
    has no V2), ending in its final BN -> ReLU; by default the unpooled 2,048-channel map for
    trinh2023's head (7x7 at 224, 2x2 at 48). Pretrained weights: timm's ``resnetv2_50.<tag>``
    (Keras' own ImageNet weights are not published for PyTorch)."""
    net = create_timm_model(
        f"resnetv2_50.{tag}",
        pretrained=pretrained,
        in_chans=in_chans,
        num_classes=0,
        global_pool=global_pool,
    )
    return Backbone(net)


@_register(
    "vit_b16",
    "vit_base_patch16_224",
    "ViT-B/16; the class token after the final LayerNorm, 768 features",
    "vit_base_patch16_224.orig_in21k_ft_in1k = google/vit-base-patch16-224",
)
def vit_b16(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    tag: str = "orig_in21k_ft_in1k",
) -> Backbone:
    """ViT-B/16 as timm's ``vit_base_patch16_224`` (classifier removed): the final LayerNorm'd
    class token, 768 features. The default weights ``orig_in21k_ft_in1k`` are those of
    ``google/vit-base-patch16-224`` (trinh2023). Encoder blocks are ``blocks.0``-``blocks.11``,
    the final LayerNorm ``norm``; trinh2023 trains only ``blocks.11``, ``norm`` and the head (the
    ``Transfer`` regime's ``trainable``). Other input sizes resample the position embedding."""
    net = create_timm_model(
        f"vit_base_patch16_224.{tag}",
        pretrained=pretrained,
        in_chans=in_chans,
        num_classes=0,
        img_size=image_size,
    )
    return Backbone(net)
