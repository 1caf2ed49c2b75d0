"""Reading the inputs of ``recognize``: image files, folders of them, video files.

Every problem with one input is a :class:`FERUserError` naming the file, so that a batch can
report it and carry on with the next input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_lightning.bitdepth import to_8bit
from fer_lightning.errors import FERUserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

#: Largest image (or video frame) accepted, in pixels: PIL's decompression-bomb threshold,
#: 89,478,485 (about 9,460 x 9,460; PIL itself only warns there and refuses at twice that).
DEFAULT_MAX_PIXELS: int = 89_478_485


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def expand_inputs(paths: list[Path]) -> Iterator[Path | FERUserError]:
    """Files in the order given; a folder stands for the images and videos under it (sorted,
    recursively). A missing path or a folder with none is an error item, not an exception."""
    for path in paths:
        if path.is_dir():
            try:
                found = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                )
            except OSError as err:  # a folder (or one under it) that cannot be listed
                yield FERUserError(f"folder {path} cannot be read: {err.strerror or err}")
                continue
            if not found:
                yield FERUserError(
                    f"folder {path} holds no images or videos "
                    f"({', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})"
                )
            yield from found
        elif path.is_file():
            yield path
        else:
            yield FERUserError(f"{path} does not exist")


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise FERUserError(f"{path} is empty (0 bytes)")


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise FERUserError(
            f"{path} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (a decompression bomb?); raise it with --max-pixels if it is genuine"
        )


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as RGB uint8 ``(H, W, 3)``, upright by its EXIF orientation.

    The pixel count is checked from the header before anything is decoded."""
    _check_not_empty(path)
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, with a message that names the file
    try:
        with Image.open(path) as image:
            _check_pixels(path, image.width, image.height, max_pixels)
            upright = ImageOps.exif_transpose(image)
            return np.asarray(to_8bit(upright, "RGB"))
    except UnidentifiedImageError:
        raise FERUserError(f"{path} is not an image file that can be read") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise FERUserError(f"{path} cannot be decoded: {err}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_video(
    path: Path, stride: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[int, float | None, np.ndarray]]:
    """``(frame index, time in seconds, RGB uint8 frame)`` for every ``stride``-th frame of a
    video file; the time is the index over the container's frame rate (None when it has none)."""
    _check_not_empty(path)
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise FERUserError(
                f"{path} cannot be opened as a video (unsupported codec or container, or not a "
                "video)"
            )
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        _check_pixels(path, width, height, max_pixels)
        fps = capture.get(cv2.CAP_PROP_FPS)
        index = 0
        while capture.grab():
            if index % stride == 0:
                ok, frame = capture.retrieve()
                if not ok:
                    raise FERUserError(f"{path}: frame {index} cannot be decoded")
                seconds = round(index / fps, 3) if fps and fps > 0 else None
                yield index, seconds, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        if index == 0:
            raise FERUserError(f"{path} has no frame that can be decoded (unsupported codec?)")
    finally:
        capture.release()
