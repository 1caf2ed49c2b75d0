"""Test predictions of a run (class probabilities and true labels), saved as ``predictions.npz``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lightning.errors import FERUserError

FILENAME = "predictions.npz"


@dataclass
class Predictions:
    """``probs`` (N, K) softmax probabilities (ten-crop: their mean), ``targets`` (N,) labels."""

    probs: np.ndarray
    targets: np.ndarray
    class_names: list[str]

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=np.float32)
        self.targets = np.asarray(self.targets, dtype=np.int64)
        if self.probs.ndim != 2 or self.probs.shape[1] != len(self.class_names):
            raise ValueError(
                f"probabilities of shape {self.probs.shape} for {len(self.class_names)} classes"
            )
        if len(self.probs) != len(self.targets):
            raise ValueError(f"{len(self.probs)} predictions but {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILENAME
        np.savez_compressed(
            path,
            probs=self.probs,
            targets=self.targets,
            class_names=np.array(self.class_names, dtype=str),
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
            return cls(data["probs"], data["targets"], [str(n) for n in data["class_names"]])
