"""torchvision backbones: every network whose paper count is torchvision's (qutub2023: ResNet18
11,180,103, EfficientNet-B0 4,016,515, VGG16/19 with the ``vgg`` head) and the Keras-applications
family of almsari2024 / jahangir2024 (VGG16, ResNet50, InceptionV3, MobileNetV2, DenseNet121) and
trinh2023's GoogLeNet: torchvision has them with ImageNet weights enums and, for GoogLeNet and
InceptionV3, the auxiliary classifiers.

Networks with auxiliary classifiers (GoogLeNet, InceptionV3) return ``(features, aux_logits)``
in training mode and only the features in eval mode; :class:`FERClassifier` adds the auxiliary
losses. The first convolution is adapted to the input channels (:func:`_adapt_first_conv`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from timm.models import adapt_input_conv
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.models.backbones.base import (
    Backbone,
    GlobalPool,
    Registration,
    register_backbone,
)
from fer_lightning.models.pretrained import load_torchvision_weights

#: The ImageNet weights every builder here loads (torchvision's ``IMAGENET1K_V1``).
WEIGHTS = "ImageNet-1k V1 (torchvision)"


def _register(arch: str, summary: str, image_size: int = 224) -> Registration:
    """Register torchvision's ``arch`` under its own name."""
    return register_backbone(
        arch,
        family="torchvision",
        source=arch,
        summary=summary,
        in_chans=3,
        image_size=image_size,
        weights=WEIGHTS,
    )


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


@_register(
    "resnet18",
    "ResNet18; 512 pooled features (qutub2023's count is torchvision's)",
)
def resnet18(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = "avg"
) -> Backbone:
    """torchvision's ResNet18 (the paper's 11,180,103 count is exactly torchvision's ResNet18
    with a 7-way fc); global-average-pooled 512 features."""
    return _resnet("resnet18", in_chans, pretrained, global_pool)


@_register(
    "resnet50",
    "ResNet50 (Keras' ResNet50 in jahangir2024); 2,048 pooled features or the map",
)
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


@_register(
    "vgg16",
    "VGG16 convolutional part (14,714,688 parameters); the last map, unpooled",
)
def vgg16(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = ""
) -> Backbone:
    """torchvision's VGG16 convolutional part (``features``, 14,714,688 parameters); its
    classifier is the ``vgg`` head (qutub2023) or the papers' own (jahangir2024). Blocks end
    at ``features.4 / 9 / 16 / 23 / 30`` (the max-pools); block 5 is ``features.24``-``30``."""
    return _vgg("vgg16", in_chans, pretrained, global_pool)


@_register(
    "vgg19",
    "VGG19 convolutional part (20,024,384 parameters); the last map, unpooled",
)
def vgg19(
    *, in_chans: int, image_size: int, pretrained: bool = False, global_pool: GlobalPool = ""
) -> Backbone:
    """torchvision's VGG19 convolutional part (20,024,384 parameters); see :func:`vgg16`."""
    return _vgg("vgg19", in_chans, pretrained, global_pool)


def _pooled_features(arch: str, in_chans: int, pretrained: bool, relu: bool = False) -> Backbone:
    """``arch``'s ``features`` (then a ReLU if ``relu``), globally average-pooled."""
    net = _torchvision(arch, pretrained)
    _replace_first_conv(net.features, in_chans)
    tail = [("relu", nn.ReLU())] if relu else []
    return Backbone(_named([("features", net.features), *tail], "avg"))


@_register(
    "efficientnet_b0",
    "EfficientNet-B0 up to its global pool; 1,280 features",
)
def efficientnet_b0(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's EfficientNet-B0 up to its global pool: 1,280 features (4,007,548
    parameters; with the ``linear`` head, dropout 0.2 as torchvision's, 4,016,515 as
    qutub2023)."""
    return _pooled_features("efficientnet_b0", in_chans, pretrained)


@_register(
    "mobilenet_v2",
    "MobileNetV2 up to its global pool; 1,280 features",
)
def mobilenet_v2(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's MobileNetV2 up to its global pool: 1,280 features."""
    return _pooled_features("mobilenet_v2", in_chans, pretrained)


@_register(
    "densenet121",
    "DenseNet121 up to its global pool; 1,024 features",
)
def densenet121(*, in_chans: int, image_size: int, pretrained: bool = False) -> Backbone:
    """torchvision's DenseNet121 up to its global pool (final ReLU included): 1,024 features."""
    return _pooled_features("densenet121", in_chans, pretrained, relu=True)


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


@_register(
    "googlenet",
    "GoogLeNet (Inception v1) with both auxiliary classifiers; 1,024 features",
)
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


@_register(
    "inception_v3",
    "InceptionV3 with its auxiliary head (needs 299 px); 2,048 features",
    image_size=299,
)
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
