"""Test predictions of a run (class probabilities and true labels), saved as ``predictions.npz``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lightning.errors import FERUserError
from fer_lightning.run import layout

FILENAME = layout.PREDICTIONS_NPZ


#: The optional per-image arrays: which image each prediction is of, and whether a training
#: image is a copy of it (:mod:`fer_lightning.data.copies`).
IMAGE_ARRAYS = ("image_ids", "exact_copy", "near_copy")


@dataclass
class Predictions:
    """``probs`` (N, K) softmax probabilities (ten-crop: their mean), ``targets`` (N,) labels;
    where the test images were known, ``image_ids`` (N,) names each image by its pixels and
    ``exact_copy`` / ``near_copy`` (N,) say whether a training image is a copy of it."""

    probs: np.ndarray
    targets: np.ndarray
    class_names: list[str]
    image_ids: np.ndarray | None = None
    exact_copy: np.ndarray | None = None
    near_copy: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=np.float32)
        self.targets = np.asarray(self.targets, dtype=np.int64)
        if self.probs.ndim != 2 or self.probs.shape[1] != len(self.class_names):
            raise ValueError(
                f"probabilities of shape {self.probs.shape} for {len(self.class_names)} classes"
            )
        if len(self.probs) != len(self.targets):
            raise ValueError(f"{len(self.probs)} predictions but {len(self.targets)} targets")
        for name in IMAGE_ARRAYS:
            value = getattr(self, name)
            if value is not None and len(value) != len(self.targets):
                raise ValueError(f"{len(value)} {name} for {len(self.targets)} predictions")
        if self.exact_copy is not None:
            self.exact_copy = np.asarray(self.exact_copy, dtype=bool)
        if self.near_copy is not None:
            self.near_copy = np.asarray(self.near_copy, dtype=bool)

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    def in_order_of(self, other: Predictions) -> Predictions:
        """These predictions reordered to ``other``'s images (matched by image id and label):
        two runs of one test set listed in different orders (FER2013 as csv and as folders)
        pair image by image. Both need ``image_ids``; a set that differs is a ValueError."""
        if self.image_ids is None or other.image_ids is None:
            raise ValueError("predictions without image ids cannot be reordered")
        mine = np.lexsort((self.targets, self.image_ids))
        theirs = np.lexsort((other.targets, other.image_ids))
        if not (
            np.array_equal(self.image_ids[mine], other.image_ids[theirs])
            and np.array_equal(self.targets[mine], other.targets[theirs])
        ):
            raise ValueError("the two predictions are of different test images or labels")
        order = np.empty_like(mine)
        order[theirs] = mine  # other's i-th image is our order[i]-th
        pick = lambda a: None if a is None else a[order]  # noqa: E731
        return Predictions(
            self.probs[order],
            self.targets[order],
            list(self.class_names),
            pick(self.image_ids),
            pick(self.exact_copy),
            pick(self.near_copy),
        )

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILENAME
        np.savez_compressed(
            path,
            probs=self.probs,
            targets=self.targets,
            class_names=np.array(self.class_names, dtype=str),
            **{k: getattr(self, k) for k in IMAGE_ARRAYS if getattr(self, k) is not None},
        )
        return path

    @classmethod
    def load(cls, path: Path) -> Predictions:
        """From a run directory or a ``predictions.npz`` file."""
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        if not path.is_file():
            raise FERUserError(
                f"{path} does not exist; 'fer-lightning report RUN_DIR' writes it from the "
                "run's checkpoint"
            )
        with np.load(path) as data:
            missing = {"probs", "targets", "class_names"} - set(data.files)
            if missing:
                raise FERUserError(f"{path} lacks {', '.join(sorted(missing))}")
            extra = {k: data[k] for k in IMAGE_ARRAYS if k in data.files}
            return cls(
                data["probs"], data["targets"], [str(n) for n in data["class_names"]], **extra
            )
