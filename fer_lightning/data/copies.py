"""Test images that are copies of training images, and a test-set identity that ignores order.

FER2013's test splits hold images that are also in its training split: some pixel for pixel
(*exact copies*), more as the same photograph re-cropped, rescaled or re-encoded (*near
copies*). A model that has seen the training image is right on its copy far more often than on
a new face, so every report gives its accuracy twice: on the whole test split (the papers'
protocol) and on the test images with no copy among the images the model learnt from (what a
user can expect on new faces).

- Exact copy: equal decoded pixels (:func:`fer_lightning.data.pixels.pixel_hashes`).
- Near copy: a perceptual hash within :data:`NEAR_COPY_DISTANCE` bits of a training image's.
  The hash is the usual DCT hash (pHash): the grey image resized to 32x32 (OpenCV's area
  interpolation), its 2-D DCT-II, the 8x8 lowest frequencies compared with their median, 64
  bits. Exact copies are near copies too (distance 0).

The result depends only on the pixels, so it is cached by a hash of both image arrays
(``<cache>/copies/<key>.npz``): computing it for FER2013 takes seconds, reading it none.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_lightning.data.pixels import pixel_hashes
from fer_lightning.paths import cache_dir

log = logging.getLogger(__name__)

#: Hamming distance (of 64 bits) up to which two perceptual hashes are the same photograph. On
#: FER2013 a sample of the pairs at distance 3-4 was checked by eye (docs/datasets.md shows
#: it): re-crops, rescalings and re-encodings of one photograph; from 6 bits on, pairs of
#: different photographs appear.
NEAR_COPY_DISTANCE = 4
#: How the copies were found, as the reports say it.
METHOD = (
    f"exact: equal decoded pixels; near: DCT perceptual hash (64 bits) within "
    f"{NEAR_COPY_DISTANCE} bits of a training image's"
)
_HASH_SIZE = 8
_RESIZE = 32


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """The 64-bit DCT hash of each image (N, H, W) or (N, H, W, C), as uint64."""
    import cv2
    from scipy.fft import dctn

    images = np.asarray(images)
    if len(images) == 0:
        return np.zeros(0, dtype=np.uint64)
    if images.ndim == 4:  # colour: the mean of the channels, as a grey image
        images = images.mean(axis=3).astype(np.uint8)
    small = np.empty((len(images), _RESIZE, _RESIZE), dtype=np.float32)
    for i, img in enumerate(images):
        small[i] = cv2.resize(img, (_RESIZE, _RESIZE), interpolation=cv2.INTER_AREA)
    low = dctn(small, type=2, axes=(1, 2), norm="ortho")[:, :_HASH_SIZE, :_HASH_SIZE]
    low = low.reshape(len(images), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def nearest(query: np.ndarray, reference: np.ndarray, chunk: int = 256) -> tuple:
    """For each query hash, the index of the reference hash nearest in Hamming distance (the
    first of equals) and that distance."""
    index = np.zeros(len(query), dtype=np.int64)
    distance = np.full(len(query), 65, dtype=np.int64)
    if len(reference) == 0:
        return index, distance
    for start in range(0, len(query), chunk):
        block = np.bitwise_count(query[start : start + chunk, None] ^ reference[None, :])
        index[start : start + chunk] = block.argmin(axis=1)
        distance[start : start + chunk] = block.min(axis=1)
    return index, distance


@dataclass(frozen=True)
class Copies:
    """Per test image: ``exact`` (a training image has its pixels), ``near`` (a training image
    is within :data:`NEAR_COPY_DISTANCE` bits; exact copies included), and the ``nearest``
    training image's index and hash ``distance``."""

    exact: np.ndarray
    near: np.ndarray
    nearest: np.ndarray
    distance: np.ndarray

    def counts(self) -> dict[str, int]:
        return {"exact": int(self.exact.sum()), "near": int(self.near.sum())}


def _key(reference: np.ndarray, test: np.ndarray) -> str:
    digest = hashlib.sha256(f"copies 1|{NEAR_COPY_DISTANCE}|".encode())
    for images in (reference, test):
        images = np.ascontiguousarray(images)
        digest.update(f"{images.shape}|{images.dtype}|".encode())
        digest.update(images.tobytes())
    return digest.hexdigest()[:20]


def find_copies(reference: np.ndarray, test: np.ndarray, cache: bool = True) -> Copies:
    """Which ``test`` images are exact or near copies of a ``reference`` (training) image."""
    path = cache_dir() / "copies" / f"{_key(reference, test)}.npz"
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                return Copies(*(npz[k] for k in ("exact", "near", "nearest", "distance")))
        except (OSError, ValueError, KeyError):
            log.warning("copies cache %s is unreadable; computing it again", path)
    if len(reference) == 0 or len(test) == 0:  # e.g. CK+ split 'all': nothing trained on
        none = np.zeros(len(test), dtype=bool)
        return Copies(none, none.copy(), np.zeros(len(test), np.int64), np.full(len(test), 65))
    exact = np.isin(pixel_hashes(test), pixel_hashes(reference))
    index, distance = nearest(perceptual_hashes(test), perceptual_hashes(reference))
    copies = Copies(exact, exact | (distance <= NEAR_COPY_DISTANCE), index, distance)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez_compressed(tmp, **copies.__dict__)
        tmp.replace(path)
    return copies


def image_ids(images: np.ndarray) -> np.ndarray:
    """A hex name for each image's pixels (its :func:`pixel_hashes`): the same image has the
    same id in any order, file format or split."""
    return np.array([h.hex() for h in pixel_hashes(images)], dtype="<U32")


def test_set_id(ids: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 (16 hex digits) of the sorted (image id, label) pairs: equal exactly when two
    test sets hold the same images with the same labels, in whatever order."""
    pairs = sorted(f"{i}:{int(label)}" for i, label in zip(ids, labels, strict=True))
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16]


def pairs_figure(
    test: np.ndarray,
    reference: np.ndarray,
    found: Copies,
    distances: tuple[int, ...] = (2, 4, 6),
    per_distance: int = 8,
    seed: int = 0,
) -> Any:
    """A picture of test images beside their nearest training image, ``per_distance`` pairs
    (drawn at random, seeded) at each hash distance: what the near-copy threshold was chosen
    by looking at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = [
        rng.choice(pool, min(per_distance, len(pool)), replace=False)
        for d in distances
        if len(pool := np.flatnonzero((found.distance == d) & ~found.exact))
    ]
    fig, axes = plt.subplots(
        len(distances),
        2 * per_distance,
        figsize=(1.2 * per_distance, 1.5 * len(distances)),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    for r, (d, picks) in enumerate(zip(distances, rows, strict=False)):
        for j, i in enumerate(picks):
            for k, (image, title) in enumerate(
                ((test[i], f"test d={d}"), (reference[found.nearest[i]], "train"))
            ):
                ax = axes[r, 2 * j + k]
                ax.imshow(image, cmap="gray", vmin=0, vmax=255)
                ax.set_title(title, fontsize=6)
    fig.tight_layout()
    return fig
