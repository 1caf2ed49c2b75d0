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
    # crop cannot exceed the image; then TenCrop (TEN_CROP_TRAIN) and RandomErasing p=0.5
    # (POST_NORMALIZE; on the image before it is cropped).
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
    # almsari2024 / jahangir2024: Keras ImageDataGenerator(rotation_range=15,
    # width_shift_range=0.15, height_shift_range=0.15, shear_range=0.15, zoom_range=0.15,
    # horizontal_flip=True) with its semantics: shear in degrees, zoom drawn per axis in
    # [0.85, 1.15], fill_mode 'nearest' (replicated border).
    "keras_idg": [
        {
            "name": "Affine",
            "rotate": (-15, 15),
            "translate_percent": {"x": (-0.15, 0.15), "y": (-0.15, 0.15)},
            "shear": {"x": (-0.15, 0.15), "y": (0.0, 0.0)},
            "scale": {"x": (0.85, 1.15), "y": (0.85, 1.15)},
            "border_mode": 1,  # cv2.BORDER_REPLICATE
            "p": 1.0,
        },
        {"name": "HorizontalFlip", "p": 0.5},
    ],
    # trinh2023: "flipping, resizing, cropping, and adjusting the brightness" (no ranges given:
    # zoom 0.9-1.1 as resize/crop, brightness x0.8-1.2); its [0, 1] rescale is mean 0, std 1.
    "trinh2023": [
        {"name": "HorizontalFlip", "p": 0.5},
        {"name": "Affine", "scale": (0.9, 1.1), "border_mode": 1, "p": 1.0},
        {
            "name": "ColorJitter",
            "brightness": 0.2,
            "contrast": 0.0,
            "saturation": 0.0,
            "hue": 0.0,
            "p": 1.0,
        },
    ],
}
# qutub2023 with one augmented image per sample instead of its ten crops (10x less work per
# epoch; the README's measured baseline used this).
PRESETS["qutub2023_single"] = PRESETS["qutub2023"]

#: Presets whose training samples are the ten crops of each augmented image, each crop one
#: sample (qutub2023: TenCrop 40x40 of 48x48), as the fraction of the side a crop keeps. Crops
#: are resized back to the input size (see fer_lightning.data.tta), so the model's input size
#: does not change.
TEN_CROP_TRAIN: dict[str, float] = {"qutub2023": 5 / 6}


def trains_on_ten_crops(augment: str | list[TransformSpec]) -> bool:
    """Whether preset ``augment`` makes every training image ten samples (an explicit list of
    transforms never does)."""
    return isinstance(augment, str) and augment in TEN_CROP_TRAIN


def train_ten_crop(augment: str | list[TransformSpec], image_size: int) -> int | None:
    """Side of the training ten-crops of preset ``augment`` at ``image_size``, or None."""
    if not trains_on_ten_crops(augment):
        return None
    return max(1, round(image_size * TEN_CROP_TRAIN[str(augment)]))


def describe_augment(augment: str | list[TransformSpec]) -> str:
    """A preset's name, or the transforms of an explicit list joined by ``+``."""
    if isinstance(augment, str):
        return augment
    names = [str(s.get("name", "?")) if isinstance(s, dict) else str(s) for s in augment]
    return " + ".join(names) or "none"


#: Applied after normalisation (so an erased patch is the dataset mean), train only.
POST_NORMALIZE: dict[str, list[TransformSpec]] = {
    "qutub2023": [{"name": "Erasing", "p": 0.5}],
    "qutub2023_single": [{"name": "Erasing", "p": 0.5}],
}


#: Robust-training options: each name -> the transform it adds to the training augmentation
#: (after the preset, before resizing) with the probability a recipe gives it in
#: ``data.robust_augment`` (``{blur: 0.2, jpeg: 0.2, occlusion: 0.2}``). Off unless named, so a
#: recipe without the key trains as before. They imitate ``fer-lightning robustness``'s
#: perturbations: Gaussian blur sigma 0.5-1.5 (kernel from sigma), JPEG quality 20-60 (``jpeg``)
#: or 10-30 (``jpeg_low``), and a
#: grey (128) band over 15-30 % of the rows at a random height, full width (mouth or eyes).
ROBUST_AUGMENT: dict[str, TransformSpec] = {
    "blur": {"name": "GaussianBlur", "sigma_limit": (0.5, 1.5), "blur_limit": 0},
    "jpeg": {"name": "ImageCompression", "compression_type": "jpeg", "quality_range": (20, 60)},
    # Harder compression, around the robustness test's quality 20 instead of above it.
    "jpeg_low": {"name": "ImageCompression", "compression_type": "jpeg", "quality_range": (10, 30)},
    "occlusion": {
        "name": "CoarseDropout",
        "num_holes_range": (1, 1),
        "hole_height_range": (0.15, 0.3),
        "hole_width_range": (1.0, 1.0),
        "fill": 128,
    },
}


def robust_specs(robust: dict[str, float] | None) -> list[TransformSpec]:
    """The transforms of ``data.robust_augment`` (option name -> probability), checked: an
    unknown option or a probability outside 0-1 is one sentence. A probability of 0 adds
    nothing."""
    specs: list[TransformSpec] = []
    for name, p in (robust or {}).items():
        if name not in ROBUST_AUGMENT:
            raise FERUserError(
                f"data.robust_augment: unknown option '{name}'; known: "
                f"{', '.join(ROBUST_AUGMENT)} (each with a probability)"
            )
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise FERUserError(
                f"data.robust_augment.{name} must be a probability between 0 and 1, got {p!r}"
            )
        if p > 0:
            specs.append({**ROBUST_AUGMENT[name], "p": float(p)})
    return specs


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
    robust: dict[str, float] | None = None,
) -> A.Compose:
    """uint8 image -> resized, normalised float tensor, with augmentation when ``train``.

    ``native_size``: the side of the (square) source images, when known; no resize is added
    when it already equals ``image_size``. ``robust``: the robust-training options
    (:data:`ROBUST_AUGMENT`) switched on, with their probabilities (train only)."""
    pre, post = resolve_augment(augment) if train else ([], [])
    transforms = [_build(s, "data.augment") for s in pre]
    if train:
        transforms += [_build(s, "data.robust_augment") for s in robust_specs(robust)]
    if native_size != image_size:  # a same-size resize would be per-sample work for nothing
        transforms.append(A.Resize(image_size, image_size, interpolation=1))  # bilinear
    transforms.append(A.Normalize(mean=mean, std=std, max_pixel_value=255.0))
    transforms += [_build(s, "data.augment") for s in post]
    transforms.append(A.ToTensorV2())
    return A.Compose(transforms, seed=seed)
