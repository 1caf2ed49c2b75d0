"""Images of any bit depth as the 8-bit pixels the models take (light: PIL and numpy only)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_8bit(img: Image.Image, mode: str) -> Image.Image:
    """``img`` in PIL ``mode`` ("L", "RGB") with 8 bits per channel, whatever its bit depth.

    PIL's own ``convert`` clips wider greyscale at 255: a 16-bit photo comes out almost white.
    16-bit (``I;16*``) and 32-bit integer (``I``, read as 16-bit: PNG and TIFF store no wider
    integer greyscale) pixels are scaled by 255/65535 instead; floating-point pixels (``F``)
    have no agreed range and are refused (ValueError, worded for the caller's sentence)."""
    if img.mode == "F":
        raise ValueError(
            "it holds floating-point pixels (PIL mode F), which have no agreed range; save it as "
            "an 8- or 16-bit image"
        )
    if img.mode == "I" or img.mode.startswith("I;16"):
        wide = np.asarray(img).astype(np.int64)
        if wide.size and (wide.min() < 0 or wide.max() > 65535):
            raise ValueError(
                f"its integer pixels run from {wide.min()} to {wide.max()}, outside the 16-bit "
                "range 0-65535"
            )
        eight = np.rint(wide * (255 / 65535)).astype(np.uint8)
        return Image.fromarray(eight, mode="L").convert(mode)
    return img.convert(mode)
