"""Grad-CAM heatmaps of a classifier's decision (pytorch-grad-cam), and the report's
``explanations.png``: the most confident right and wrong test images of every class.

The target layer is the last spatial feature map of each backbone family, as pytorch-grad-cam's
own guidance picks it: the last conv block's activation of our CNNs, ``layer4`` of the ResNets
(the last stage of timm's ResNetV2), ``features`` of VGG / EfficientNet / MobileNet / DenseNet,
the last inception block of GoogLeNet / InceptionV3; for ViT the input of the last block's
attention (``blocks[-1].norm1``) with its patch tokens reshaped to a grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import plots
from fer_lightning.evaluation.predictions import Predictions

#: Backbone name prefixes -> the family whose target layer rule applies.
FAMILIES = {
    "baseline_cnn": "cnn",
    "almsari2024_cnn": "cnn",
    "bodapati2024_cnn": "cnn",
    "resnet18": "resnet",
    "resnet50": "resnet",
    "resnet50v2": "resnetv2",
    "vgg16": "features",
    "vgg19": "features",
    "efficientnet_b0": "features",
    "mobilenet_v2": "features",
    "densenet121": "features",
    "googlenet": "googlenet",
    "inception_v3": "inception",
    "vit_b16": "vit",
}


def _vit_reshape(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Tokens ``(B, prefix + h*w, C)`` -> ``(B, C, h, w)``, the class (prefix) tokens dropped."""
    prefix = int(getattr(net, "num_prefix_tokens", 1))

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, prefix:, :]
        side = int(round(patches.shape[1] ** 0.5))
        grid = patches.reshape(tokens.shape[0], side, side, tokens.shape[2])
        return grid.permute(0, 3, 1, 2)

    return reshape


def target_layer(model: nn.Module) -> tuple[nn.Module, Callable | None]:
    """(layer, reshape_transform) for Grad-CAM on a :class:`FERClassifier`."""
    name = str(getattr(model, "hparams", {}).get("backbone", ""))
    family = FAMILIES.get(name)
    net = model.backbone
    if family == "cnn":  # the last ReLU before the last max-pool: the finest late map
        relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
        return relus[-1], None
    if family == "resnet":
        return net.layer4[-1], None
    if family == "resnetv2":
        return net.stages[-1], None
    if family == "features":
        return net.features[-1], None
    if family == "googlenet":
        return net.net.inception5b, None
    if family == "inception":
        return net.net.Mixed_7c, None
    if family == "vit":
        return net.blocks[-1].norm1, _vit_reshape(net)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise FERUserError(
            f"backbone '{name}' has no known Grad-CAM target layer and no convolution; "
            f"known families: {', '.join(sorted(FAMILIES))}"
        )
    return convs[-1], None  # an unknown CNN: its last convolution


def gradcam(
    model: nn.Module, images: torch.Tensor, classes: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(heatmaps ``(N, H, W)`` in [0, 1], probabilities ``(N, K)``) of ``images``
    ``(N, C, H, W)`` for ``classes`` (default: each image's predicted class). Runs with
    gradients even inside an inference-mode block (e.g. at the end of a test epoch)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer, reshape = target_layer(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            device = next(model.parameters()).device
            x = images.detach().clone().to(device).float().requires_grad_(True)
            with torch.no_grad():
                probs = model(x).softmax(-1).cpu().numpy()
            chosen = classes if classes is not None else probs.argmax(1).tolist()
            targets = [ClassifierOutputTarget(int(c)) for c in chosen]
            with GradCAM(model=model, target_layers=[layer], reshape_transform=reshape) as cam:
                heat = cam(input_tensor=x, targets=targets)
    finally:
        model.train(was_training)
    return np.asarray(heat, dtype=np.float32), probs


def display_image(tensor: torch.Tensor, mean: Any, std: Any) -> np.ndarray:
    """A normalised ``(C, H, W)`` input back to an ``(H, W)`` or ``(H, W, 3)`` image in [0, 1]."""
    image = tensor.detach().cpu().float().numpy()
    c = image.shape[0]
    mean_a = np.broadcast_to(np.asarray(mean, dtype=np.float32).reshape(-1), (c,))
    std_a = np.broadcast_to(np.asarray(std, dtype=np.float32).reshape(-1), (c,))
    image = image * std_a[:, None, None] + mean_a[:, None, None]
    if image.max() > 1.5:  # mean / std given in 0-255 units
        image = image / 255.0
    image = np.clip(image, 0, 1)
    return image[0] if c == 1 else image.transpose(1, 2, 0)


def overlay(ax: Any, image: np.ndarray, heat: np.ndarray, title: str) -> None:
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
    ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def pick_examples(predictions: Predictions) -> list[tuple[int, int | None, int | None]]:
    """Per class: (class, most confident right test image, most confident wrong one) as
    indices into the predictions (None where the class has none)."""
    confidence = predictions.probs.max(1)
    right = predictions.predicted == predictions.targets
    out = []
    for c in range(predictions.num_classes):
        picks: list[int | None] = []
        for mask in (right, ~right):
            index = np.flatnonzero((predictions.targets == c) & mask)
            picks.append(int(index[np.argmax(confidence[index])]) if len(index) else None)
        out.append((c, picks[0], picks[1]))
    return out


def explanations_figure(
    model: nn.Module,
    predictions: Predictions,
    inputs: Callable[[list[int]], torch.Tensor],
    mean: Any,
    std: Any,
    title: str = "",
) -> Figure:
    """The grid: one row per class, its most confident right and wrong test image, each with
    its Grad-CAM heatmap (for the predicted class), true and predicted label.
    ``inputs(indices)`` returns those test images as the model's input tensors."""
    examples = pick_examples(predictions)
    chosen = [i for _, r, w in examples for i in (r, w) if i is not None]
    tensors = inputs(chosen) if chosen else torch.zeros(0)
    heat = gradcam(model, tensors)[0] if chosen else np.zeros((0, 1, 1))
    by_index = {i: k for k, i in enumerate(chosen)}
    names = predictions.class_names
    fig = plots._figure(4.2, 2.1 * len(examples) + 0.4)
    axes = np.atleast_2d(fig.subplots(len(examples), 2, squeeze=False))
    for row, (c, r, w) in enumerate(examples):
        for col, (index, kind) in enumerate(((r, "right"), (w, "wrong"))):
            ax = axes[row, col]
            if index is None:
                ax.axis("off")
                ax.text(0.5, 0.5, f"{names[c]}: no {kind}\nprediction", ha="center",
                        va="center", fontsize=8, transform=ax.transAxes)  # fmt: skip
                continue
            k = by_index[index]
            predicted = int(predictions.predicted[index])
            p = float(predictions.probs[index, predicted])
            label = f"true {names[c]}\npred {names[predicted]} ({p:.2f})"
            overlay(ax, display_image(tensors[k], mean, std), heat[k], label)
    fig.suptitle(title or "Grad-CAM: most confident right (left) and wrong (right) per class",
                 fontsize=9)  # fmt: skip
    return fig
