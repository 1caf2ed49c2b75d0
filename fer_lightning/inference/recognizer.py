"""Faces in an image -> boxes and class probabilities; drawing them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.inference.checkpoint import LoadedModel
from fer_lightning.inference.detect import Box, HaarDetector, YuNetDetector


@dataclass
class Face:
    """One classified face; ``box`` in the original image's pixel coordinates."""

    box: Box
    probs: np.ndarray

    def label(self, class_names: list[str]) -> str:
        return class_names[int(self.probs.argmax())]


class Recognizer:
    """Detect faces (or take the whole image as one), crop each with a margin, classify.

    ``detector=None`` treats every image as an already cropped face. ``margin=None`` takes the
    detector's own default (the one that matches FER2013's crops). Several images (photos, or a
    chunk of video frames) go through :meth:`recognize_many` together: their face crops are
    classified in batches of at most ``batch_size``. ``temperature`` (a zoo model's, fitted on
    its validation split) divides the logits before the softmax; None leaves them as they are."""

    def __init__(
        self,
        loaded: LoadedModel,
        detector: HaarDetector | YuNetDetector | None,
        margin: float | None = None,
        batch_size: int = 64,
        temperature: float | None = None,
    ) -> None:
        if temperature is not None and not temperature > 0:
            raise FERUserError(f"temperature {temperature}: it must be a positive number")
        self.loaded = loaded
        self.temperature = temperature
        self.detector = detector
        if margin is None:
            margin = detector.default_margin if detector is not None else 0.0
        self.margin = margin
        self.batch_size = batch_size
        self.device = next(loaded.model.parameters()).device

    @torch.inference_mode()
    def classify(self, faces: list[np.ndarray]) -> np.ndarray:
        """Softmax probabilities ``(N, classes)`` of face crops in the training colour (of the
        logits divided by the temperature, where there is one)."""
        x = self.loaded.preprocessing.to_tensor(faces).to(self.device)
        logits = self.loaded.model(x).float()
        if self.temperature is not None:
            logits = logits / self.temperature
        probs = logits.softmax(dim=-1).cpu().numpy()
        if not np.isfinite(probs).all():
            raise FERUserError(
                f"the model {self.loaded.path} gave non-finite probabilities (NaN or inf) for "
                f"{int((~np.isfinite(probs).all(axis=1)).sum())} of {len(probs)} face(s): its "
                "weights or data settings are broken"
            )
        return probs

    def boxes(self, images: list[np.ndarray]) -> list[list[Box]]:
        """The face boxes of each RGB image (the whole image without a detector)."""
        if self.detector is None:
            return [[Box(0, 0, rgb.shape[1], rgb.shape[0])] for rgb in images]
        return self.detector.detect_many(images)

    def recognize_many(self, images: list[np.ndarray]) -> list[list[Face]]:
        """The faces of each RGB image, in order; every crop of every image is classified in
        batches of ``batch_size``."""
        all_boxes = self.boxes(images)
        crops, owners = [], []
        for i, (rgb, boxes) in enumerate(zip(images, all_boxes, strict=True)):
            if not boxes:
                continue
            height, width = rgb.shape[:2]
            image = self.loaded.preprocessing.to_training_color(rgb)
            for box in boxes:
                crop_box = (
                    box if self.detector is None else box.with_margin(self.margin, width, height)
                )
                crops.append(crop_box.crop(image))
                owners.append(i)
        faces: list[list[Face]] = [[] for _ in images]
        boxes_flat = [box for boxes in all_boxes for box in boxes]
        for start in range(0, len(crops), self.batch_size):
            probs = self.classify(crops[start : start + self.batch_size])
            for j, p in enumerate(probs, start):
                faces[owners[j]].append(Face(boxes_flat[j], p))
        return faces

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        return self.recognize_many([rgb])[0]


def annotate(rgb: np.ndarray, faces: list[Face], class_names: list[str]) -> np.ndarray:
    """A BGR copy of ``rgb`` with each face's box and ``label probability`` drawn on it."""
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for face in faces:
        b = face.box
        colour = (0, 200, 0)
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), colour, thickness)
        text = f"{face.label(class_names)} {face.probs.max():.2f}"
        scale = max(0.4, b.w / 250)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = b.y - th - base - 2 if b.y - th - base - 2 >= 0 else b.y + b.h
        cv2.rectangle(out, (b.x, top), (b.x + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(
            out,
            text,
            (b.x + 1, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return out
