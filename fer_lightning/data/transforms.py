"""Augmentation presets and the train / eval pipelines, all albumentations.

A preset is data: a list of ``{"name": <albumentations class>, **kwargs}``. YAML can name a
preset (``augment: qutub2023``) or spell the list out in the same form.
"""

from __future__ import annotations

import inspect
from typing import Any

import albumentations as A

from fer_lightning.errors import FERUserError

TransformSpec = dict[str, Any]

#: Named augmentation presets (applied to the uint8 image before resizing and normalisation).
PRESETS: dict[str, list[TransformSpec]] = {
    "none": [],
    # Close to qutub2023 (RandomResizedCrop scale 0.8-1.2, ColorJitter 0.5 p=0.5, RandomAffine
    # translate 0.2 p=0.5, flip, rotation +-45). The zoom in/out is an affine scale because a
    # crop cannot exceed the image; ten-crop training samples come with the full presets.
    "qutub2023": [
        {"name": "Affine", "scale": (0.8, 1.2), "p": 1.0},
        {
            "name": "ColorJitter",
            "brightness": 0.5,
            "contrast": 0.5,
            "saturation": 0.5,
            "hue": 0.0,
            "p": 0.5,
        },
        {"name": "Affine", "translate_percent": (-0.2, 0.2), "p": 0.5},
        {"name": "HorizontalFlip", "p": 0.5},
        {"name": "Rotate", "limit": 45, "p": 1.0},
    ],
}

#: Applied after normalisation (so an erased patch is the dataset mean), train only.
POST_NORMALIZE: dict[str, list[TransformSpec]] = {
    "qutub2023": [{"name": "Erasing", "p": 0.5}],
}


def _build(spec: TransformSpec, where: str) -> A.BasicTransform:
    spec = dict(spec)
    name = spec.pop("name", None)
    cls = getattr(A, str(name), None)
    if not isinstance(cls, type):
        raise FERUserError(f"{where}: '{name}' is not an albumentations transform")
    try:
        # albumentations only warns about unknown arguments; a typo must not pass silently.
        inspect.signature(cls).bind(**spec)
        return cls(**spec)
    except (TypeError, ValueError) as err:
        raise FERUserError(f"{where}: bad arguments for albumentations.{name}: {err}") from err


def resolve_augment(
    augment: str | list[TransformSpec],
) -> tuple[list[TransformSpec], list[TransformSpec]]:
    """(pre-normalisation, post-normalisation) specs of a preset name or an explicit list."""
    if isinstance(augment, str):
        if augment not in PRESETS:
            raise FERUserError(
                f"data.augment: unknown preset '{augment}'; known: {', '.join(sorted(PRESETS))}"
            )
        return PRESETS[augment], POST_NORMALIZE.get(augment, [])
    return list(augment), []


def build_pipeline(
    *,
    image_size: int,
    mean: float | list[float],
    std: float | list[float],
    augment: str | list[TransformSpec] = "none",
    train: bool = False,
    seed: int | None = None,
    native_size: int | None = None,
) -> A.Compose:
    """uint8 image -> resized, normalised float tensor, with augmentation when ``train``.

    ``native_size``: the side of the (square) source images, when known; no resize is added
    when it already equals ``image_size``."""
    pre, post = resolve_augment(augment) if train else ([], [])
    transforms = [_build(s, "data.augment") for s in pre]
    if native_size != image_size:  # a same-size resize would be per-sample work for nothing
        transforms.append(A.Resize(image_size, image_size, interpolation=1))  # bilinear
    transforms.append(A.Normalize(mean=mean, std=std, max_pixel_value=255.0))
    transforms += [_build(s, "data.augment") for s in post]
    transforms.append(A.ToTensorV2())
    return A.Compose(transforms, seed=seed)
