"""Backbone registry: a name in YAML -> a feature extractor and the shape of its output.

Like timm's registry, each builder is registered under a name and called through
:func:`create_backbone`. A backbone returns either a flat ``(N, F)`` tensor or a ``(N, C, H, W)``
feature map; the head (chosen separately) pools, flattens or normalises it. ``global_pool``
(timm's spelling) picks between the two where a network has both: ``"avg"`` (its own global
average pool) or ``""`` (the last feature map, for heads that flatten it as Keras papers do).

Which library builds what, and why:

- **torchvision** for every network whose paper count is torchvision's (qutub2023: ResNet18
  11,180,103, EfficientNet-B0 4,016,515, VGG16/19 with the ``vgg`` head) and for the
  Keras-applications family of almsari2024 / jahangir2024 (VGG16, ResNet50, InceptionV3,
  MobileNetV2, DenseNet121) and trinh2023's GoogLeNet: torchvision has them with ImageNet
  weights enums and, for GoogLeNet and InceptionV3, the auxiliary classifiers.
- **timm** for what torchvision lacks: the pre-activation ResNet50 (Keras' ResNet50V2 ->
  ``resnetv2_50``) and ViT-B/16 (``vit_base_patch16_224``; its ``orig_in21k_ft_in1k`` weights are
  the ones of ``google/vit-base-patch16-224`` that trinh2023 fine-tuned).
- **our own** small CNNs (:mod:`fer_lightning.models.cnns`) for the papers' trained-from-scratch
  networks.

Networks with auxiliary classifiers (GoogLeNet, InceptionV3) return ``(features, aux_logits)``
in training mode and only the features in eval mode; :class:`FERClassifier` adds the auxiliary
losses.
"""

from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from timm.models import adapt_input_conv
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.models.cnns import BaselineCNN, ConvBlocksCNN
from fer_lightning.models.pretrained import create_timm_model, load_torchvision_weights
from fer_lightning.registry import Registry

__all__ = [
    "Backbone",
    "BaselineCNN",
    "ConvBlocksCNN",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]

GlobalPool = Literal["avg", ""]


@dataclass
class Backbone:
    module: nn.Module
    #: Output shape without the batch dimension; measured with a dry run when a builder
    #: leaves it out.
    out_shape: tuple[int, ...] = ()

    @property
    def num_features(self) -> int:
        return math.prod(self.out_shape)


BACKBONES: Registry[Backbone] = Registry("backbone", "model.backbone")
register_backbone = BACKBONES.register
list_backbones = BACKBONES.names


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
    if (
        name in BACKBONES._builders
        and "num_classes" in inspect.signature(BACKBONES._builders[name]).parameters
    ):
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


# ---------------------------------------------------------------------------- own CNNs
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


@register_backbone("baseline_cnn")
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


@register_backbone("almsari2024_cnn")
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


@register_backbone("bodapati2024_cnn")
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


# ------------------------------------------------------------------------- torchvision
def _adapt_first_conv(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """A first conv for ``in_chans`` inputs, weights adapted by timm's ``adapt_input_conv``
    (a 1-channel conv gets the RGB kernels summed, so pretrained filters still respond to gray)."""
    if in_chans == conv.in_channels:
        return conv
    new = nn.Conv2d(
        in_chans,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(adapt_input_conv(in_chans, conv.weight))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _replace_first_conv(net: nn.Module, in_chans: int) -> None:
    """Swap the first ``Conv2d`` of ``net`` (in registration order) for an ``in_chans`` one."""
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            parent_name, _, attr = name.rpartition(".")
            parent = net.get_submodule(parent_name) if parent_name else net
            setattr(parent, attr, _adapt_first_conv(module, in_chans))
            return
    raise ValueError(f"{type(net).__name__} has no Conv2d")


def _torchvision(arch: str, pretrained: bool, **build_kwargs: Any) -> nn.Module:
    """torchvision's ``arch`` with 1000 classes, its ImageNet-1k V1 weights loaded from the torch
    hub cache when ``pretrained`` (V1: the weights the papers' Keras / 2023 torchvision used)."""
    import torchvision.models as tvm

    net = getattr(tvm, arch)(weights=None, **build_kwargs)
    if pretrained:
        load_torchvision_weights(net, tvm.get_model_weights(arch).IMAGENET1K_V1)
    return net


def _named(children: list[tuple[str, nn.Module]], global_pool: GlobalPool) -> nn.Sequential:
    """A Sequential keeping torchvision's child names (``layer4``, ``features``), so that
    checkpoints, freezing and fine-tuning name the same modules as torchvision does."""
    if global_pool not in ("avg", ""):
        raise FERUserError(f"model.backbone_kwargs.global_pool: '{global_pool}' is not avg or ''")
    if global_pool == "avg":
        children = [*children, ("global_pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
    return nn.Sequential(OrderedDict(children))


def _resnet(arch: str, in_chans: int, pretrained: bool, global_pool: GlobalPool) -> Backbone:
    net = _torchvision(arch, pretrained)
    net.conv1 = _adapt_first_conv(net.conv1, in_chans)
    keep = [(n, m) for n, m in net.named_children() if n not in ("avgpool", "fc")]
    return Backbone(_named(keep, global_pool))


@register_backbone("resnet18")
def resnet18(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = "avg"
) -> Backbone:
    """torchvision's ResNet18 (the paper's 11,180,103 count is exactly torchvision's ResNet18
    with a 7-way fc); global-average-pooled 512 features."""
    return _resnet("resnet18", in_chans, pretrained, global_pool)


@register_backbone("resnet50")
def resnet50(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = "avg"
) -> Backbone:
    """torchvision's ResNet50 (Keras' ResNet50 in jahangir2024); 2,048 pooled features, or the
    2048 x 7 x 7 map at 224 with ``global_pool: ''``."""
    return _resnet("resnet50", in_chans, pretrained, global_pool)


def _vgg(arch: str, in_chans: int, pretrained: bool, global_pool: GlobalPool) -> Backbone:
    net = _torchvision(arch, pretrained)
    _replace_first_conv(net.features, in_chans)
    return Backbone(_named([("features", net.features)], global_pool))


@register_backbone("vgg16")
def vgg16(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = ""
) -> Backbone:
    """torchvision's VGG16 convolutional part (``features``, 14,714,688 parameters); its
    classifier is the ``vgg`` head (qutub2023) or the papers' own (jahangir2024). Blocks end
    at ``features.4 / 9 / 16 / 23 / 30`` (the max-pools); block 5 is ``features.24``-``30``."""
    return _vgg("vgg16", in_chans, pretrained, global_pool)


@register_backbone("vgg19")
def vgg19(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = ""
) -> Backbone:
    """torchvision's VGG19 convolutional part (20,024,384 parameters); see :func:`vgg16`."""
    return _vgg("vgg19", in_chans, pretrained, global_pool)


@register_backbone("efficientnet_b0")
def efficientnet_b0(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's EfficientNet-B0 up to its global pool: 1,280 features (4,007,548
    parameters; with the ``linear`` head, dropout 0.2 as torchvision's, 4,016,515 as
    qutub2023)."""
    net = _torchvision("efficientnet_b0", pretrained)
    _replace_first_conv(net.features, in_chans)
    return Backbone(_named([("features", net.features)], "avg"))


@register_backbone("mobilenet_v2")
def mobilenet_v2(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's MobileNetV2 up to its global pool: 1,280 features."""
    net = _torchvision("mobilenet_v2", pretrained)
    _replace_first_conv(net.features, in_chans)
    return Backbone(_named([("features", net.features)], "avg"))


@register_backbone("densenet121")
def densenet121(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's DenseNet121 up to its global pool (final ReLU included): 1,024 features."""
    net = _torchvision("densenet121", pretrained)
    _replace_first_conv(net.features, in_chans)
    return Backbone(_named([("features", net.features), ("relu", nn.ReLU())], "avg"))


class AuxOutputs(nn.Module):
    """Wraps a torchvision network whose training-mode output is a namedtuple ``(logits,
    *aux_logits)``: returns ``(features, aux_logits)`` when training, the features otherwise
    (the main ``fc`` is replaced by ``nn.Identity``, so "logits" are the pooled features)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, tuple]:
        out = self.net(x)
        if isinstance(out, tuple):
            return out[0], tuple(a for a in out[1:] if a is not None)
        return out


@register_backbone("googlenet")
def googlenet(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    num_classes: int = 7,
    aux_logits: bool = True,
) -> Backbone:
    """torchvision's GoogLeNet (Inception v1) with both auxiliary classifiers (after inception
    4a and 4d; 4x4 adaptive pool -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> ``num_classes``)
    as trinh2023: the classifier adds their losses with weight ``model.aux_loss_weight`` (0.3)
    in training only. 1,024 pooled features; works from 48x48 (the aux pools are adaptive)."""
    net = _torchvision(
        "googlenet", pretrained, aux_logits=True, transform_input=False, init_weights=not pretrained
    )
    _replace_first_conv(net, in_chans)
    net.fc = nn.Identity()
    if aux_logits:
        for aux in (net.aux1, net.aux2):
            aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes)
    else:
        net.aux_logits, net.aux1, net.aux2 = False, None, None
    return Backbone(AuxOutputs(net))


@register_backbone("inception_v3")
def inception_v3(
    *,
    in_chans: int,
    image_size: int,
    pretrained: bool = False,
    num_classes: int = 7,
    aux_logits: bool = True,
) -> Backbone:
    """torchvision's InceptionV3 (2,048 pooled features) with its auxiliary head (after Mixed_6e,
    ``num_classes`` outputs). The network needs at least 75x75 inputs; the auxiliary head needs
    its native 299x299 (its 5x5 pool and conv need a 17x17 Mixed_6e map), so smaller inputs
    must set ``aux_logits: false``."""
    if image_size < 75:
        raise FERUserError(f"data.image_size {image_size}: inception_v3 needs at least 75")
    if aux_logits and image_size < 299:
        raise FERUserError(
            f"data.image_size {image_size}: inception_v3's auxiliary head needs 299; use "
            "--data.image_size=299 or --model.backbone_kwargs.aux_logits=false"
        )
    net = _torchvision(
        "inception_v3",
        pretrained,
        aux_logits=True,
        transform_input=False,
        init_weights=not pretrained,
    )
    _replace_first_conv(net, in_chans)
    net.fc = nn.Identity()
    if aux_logits:
        net.AuxLogits.fc = nn.Linear(net.AuxLogits.fc.in_features, num_classes)
    else:
        net.aux_logits, net.AuxLogits = False, None
    return Backbone(AuxOutputs(net))


# -------------------------------------------------------------------------------- timm
@register_backbone("resnet50v2")
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


@register_backbone("vit_b16")
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
