"""Faces in an image -> boxes and class probabilities; drawing them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.inference.checkpoint import LoadedModel
from fer_lightning.inference.detect import Box, FaceDetector


@dataclass
class Face:
    """One classified face; ``box`` in the original image's pixel coordinates."""

    box: Box
    probs: np.ndarray

    def label(self, class_names: list[str]) -> str:
        return class_names[int(self.probs.argmax())]


class Recognizer:
    """Detect faces (or take the whole image as one), crop each with a margin, classify.

    ``detector=None`` treats every image as an already cropped face."""

    def __init__(
        self, loaded: LoadedModel, detector: FaceDetector | None, margin: float = 0.0
    ) -> None:
        self.loaded = loaded
        self.detector = detector
        self.margin = margin
        self.device = next(loaded.model.parameters()).device

    @torch.inference_mode()
    def classify(self, faces: list[np.ndarray]) -> np.ndarray:
        """Softmax probabilities ``(N, classes)`` of face crops in the training colour."""
        x = self.loaded.preprocessing.to_tensor(faces).to(self.device)
        probs = self.loaded.model(x).softmax(dim=-1).float().cpu().numpy()
        if not np.isfinite(probs).all():
            raise FERUserError(
                f"the model {self.loaded.path} gave non-finite probabilities (NaN or inf) for "
                f"{int((~np.isfinite(probs).all(axis=1)).sum())} of {len(probs)} face(s): its "
                "weights or data settings are broken"
            )
        return probs

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        image = self.loaded.preprocessing.to_training_color(rgb)
        if self.detector is None:
            boxes = [Box(0, 0, width, height)]
            crops = [image]
        else:
            gray = image if image.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            boxes = self.detector.detect(gray)
            crops = [b.with_margin(self.margin, width, height).crop(image) for b in boxes]
        if not boxes:
            return []
        probs = self.classify(crops)
        return [Face(box, p) for box, p in zip(boxes, probs, strict=True)]


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
