"""What the pixels of decoded images say: blank (constant or near-constant) images and a hash
of each image's pixels for finding exact duplicates.

Shared by the dataset audit (which reports them) and FER2013's cleaning options (which drop
them), so both agree on what counts as blank or duplicate.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Pixel standard deviation (0-255 scale) below which an image counts as near-constant. On the
#: real FER2013 the constant images are all black and the two near-constant ones have std 0.65
#: and 4.1 (no face); the least uniform real face found has std 9.1.
BLANK_STD = 5.0


def pixel_std(images: np.ndarray) -> np.ndarray:
    """Standard deviation of each image's pixels (all channels)."""
    flat = images.reshape(len(images), -1)
    out = np.empty(len(images), dtype=np.float64)
    for start in range(0, len(images), 4096):  # bounded float memory
        out[start : start + 4096] = flat[start : start + 4096].astype(np.float32).std(axis=1)
    return out


def blank_masks(images: np.ndarray, threshold: float = BLANK_STD) -> tuple[np.ndarray, np.ndarray]:
    """(constant, near_constant) boolean masks; near-constant excludes constant images."""
    flat = images.reshape(len(images), -1)
    constant = (flat == flat[:, :1]).all(axis=1)
    near = (pixel_std(images) < threshold) & ~constant
    return constant, near


def is_blank(images: np.ndarray, threshold: float = BLANK_STD) -> np.ndarray:
    """Constant or near-constant images (what FER2013's ``remove_blank`` drops)."""
    constant, near = blank_masks(images, threshold)
    return constant | near


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """A 128-bit hash of each image's decoded pixels (and shape), as a fixed-width bytes array."""
    shape = repr(images.shape[1:]).encode()
    digests = [hashlib.blake2b(shape + img.tobytes(), digest_size=16).digest() for img in images]
    return np.array(digests, dtype="S16")
