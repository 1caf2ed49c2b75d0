"""A face crop -> the model's input tensor, exactly as the evaluation data was prepared.

The conversion is the datamodule's own eval pipeline (:func:`build_pipeline` with
``train=False``: resize, normalise, to tensor) followed by :class:`ArrayDataset`'s channel
handling, so a model sees at inference what it saw in validation and test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import torch

from fer_lightning.data.dataset import ArrayDataset
from fer_lightning.data.transforms import build_pipeline
from fer_lightning.errors import FERUserError
from fer_lightning.experiments import import_class

Color = Literal["gray", "rgb"]
#: The datamodule arguments inference needs.
PREPROCESSING_KEYS = ("image_size", "channels", "mean", "std")


def _training_color(class_path: object) -> Color:
    """The colour of the images a datamodule class trains on: its ``image_mode`` attribute
    (PIL's ``"L"`` or ``"RGB"``), gray when it declares none (FER2013, CK+).

    Only classes inside this package are imported: a checkpoint never chooses code to run."""
    if not isinstance(class_path, str) or not class_path.startswith("fer_lightning."):
        return "gray"
    try:
        cls = import_class(class_path, "the checkpoint")
    except FERUserError:
        return "gray"
    return "rgb" if str(getattr(cls, "image_mode", "L")).upper() == "RGB" else "gray"


def _number_or_tuple(value: Any) -> float | tuple[float, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    return float(value)


def _setting(data: Mapping[str, Any], key: str, source: str) -> Any:
    """One data setting of a checkpoint or bundle, parsed and checked: one sentence naming the
    setting, its value and what is valid when it is not."""
    value = data[key]

    def bad(valid: str) -> FERUserError:
        return FERUserError(f"{source}: its data setting {key} is {value!r}; {valid}")

    if key in ("image_size", "channels"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad("it must be a whole number")
        try:
            number = float(value)
        except ValueError:
            raise bad("it must be a whole number") from None
        if not number.is_integer() or number < 1:
            raise bad("it must be a whole number of at least 1")
        if key == "channels" and number not in (1, 3):
            raise bad("a model takes 1 (grey) or 3 (RGB) channels")
        return int(number)
    try:
        parsed = _number_or_tuple(value)
    except (TypeError, ValueError):
        raise bad("it must be a number or a list of numbers, one per channel") from None
    values = parsed if isinstance(parsed, tuple) else (parsed,)
    if not values or not all(math.isfinite(v) for v in values):
        raise bad("it must be finite numbers")
    if key == "std" and any(v <= 0 for v in values):
        raise bad("a standard deviation must be above 0 (the input is divided by it)")
    return parsed


@dataclass(frozen=True)
class Preprocessing:
    """How the model's inputs were made in evaluation."""

    image_size: int
    channels: int
    mean: float | tuple[float, ...]
    std: float | tuple[float, ...]
    #: Colour of the training images: a face is converted to it before the pipeline.
    color: Color
    #: Where these settings were read from (for messages).
    source: str

    @classmethod
    def from_data_args(cls, data: Mapping[str, Any], source: str) -> Preprocessing:
        """From a datamodule's init arguments (checkpoint hyper-parameters or config.yaml)."""
        color = data.get("color") or _training_color(
            data.get("_class_path") or data.get("class_path")
        )
        if color not in ("gray", "rgb"):
            raise FERUserError(f"{source}: its data setting color is {color!r}; gray or rgb")
        settings = {k: _setting(data, k, source) for k in PREPROCESSING_KEYS}
        for key in ("mean", "std"):
            value = settings[key]
            if isinstance(value, tuple) and len(value) not in (1, settings["channels"]):
                raise FERUserError(
                    f"{source}: its data setting {key} has {len(value)} values for "
                    f"{settings['channels']} channel(s); give one, or one per channel"
                )
        return cls(**settings, color=color, source=source)

    def to_training_color(self, rgb: np.ndarray) -> np.ndarray:
        """An RGB uint8 image in the colour the model was trained on."""
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if self.color == "gray" else rgb

    def dataset(self, images: np.ndarray, native_size: int | None = None) -> ArrayDataset:
        """uint8 images (in :meth:`to_training_color`; an object array where they differ in
        size) as a dataset of model inputs; ``native_size``: their side, when all are that
        square size (no resize is added when it is the model's)."""
        pipeline = build_pipeline(
            image_size=self.image_size,
            mean=list(self.mean) if isinstance(self.mean, tuple) else self.mean,
            std=list(self.std) if isinstance(self.std, tuple) else self.std,
            train=False,
            native_size=native_size,
        )
        return ArrayDataset(images, np.zeros(len(images)), pipeline, self.channels)

    def to_tensor(self, faces: Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 faces (any size, in :meth:`to_training_color`) -> ``(N, C, S, S)`` float."""
        images = np.empty(len(faces), dtype=object)  # faces differ in size
        for i, face in enumerate(faces):
            images[i] = face
        dataset = self.dataset(images)
        return torch.stack([dataset[i][0] for i in range(len(dataset))])

    def metadata(self) -> dict[str, Any]:
        """Plain values describing the input (for the ONNX metadata)."""
        return {
            "image_size": self.image_size,
            "channels": self.channels,
            "mean": self.mean,
            "std": self.std,
            "color": self.color,
        }
