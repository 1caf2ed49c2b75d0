"""Shared fixtures: small FER2013 datasets in both real on-disk layouts, isolated run/cache dirs."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data.labels import FER7
from fer_lightning.run_layout import INHERITED_RUN_DIR_ENV

#: Images per class in each Usage of the generated datasets.
PER_CLASS = {"Training": 6, "PublicTest": 2, "PrivateTest": 2}
REAL_FER2013 = Path(os.environ.get("FER_DATA_DIR", "data")) / "fer2013"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and W&B files go to a temporary directory; W&B is off unless a test turns it on.
    The decoded-data cache stays where CI points it, so the real data is decoded once."""
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv(INHERITED_RUN_DIR_ENV, raising=False)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(path))
    return path


def synthetic_images(n: int, label: int, seed: int) -> np.ndarray:
    """48x48 uint8 faces-to-be: a class-dependent stripe pattern plus noise, so a model can
    learn something, and no two images are equal."""
    rng = np.random.default_rng(seed)
    base = np.zeros((48, 48), dtype=np.float64)
    base[:, (label * 6) : (label * 6 + 6)] = 180
    imgs = base[None] + rng.normal(60, 20, size=(n, 48, 48))
    return np.clip(imgs, 0, 255).astype(np.uint8)


def fer2013_arrays(per_class: dict[str, int] = PER_CLASS) -> list[tuple[str, int, np.ndarray]]:
    """(usage, label, image) for every image of a small FER2013."""
    rows = []
    for u_idx, (usage, n) in enumerate(per_class.items()):
        for label in range(len(FER7)):
            for img in synthetic_images(n, label, seed=100 * u_idx + label):
                rows.append((usage, label, img))
    return rows


def write_fer2013_folder(
    root: Path, ext: str = ".jpg", per_class: dict[str, int] = PER_CLASS
) -> Path:
    """The image-folder release: train/<class>/Training_<id>.jpg and
    test/<class>/{PublicTest,PrivateTest}_<id>.jpg."""
    folder = root / "fer2013"
    for i, (usage, label, img) in enumerate(fer2013_arrays(per_class)):
        split = "train" if usage == "Training" else "test"
        path = folder / split / FER7[label] / f"{usage}_{1000 + i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, mode="L").save(path)
    return folder


def write_fer2013_csv(root: Path, per_class: dict[str, int] = PER_CLASS) -> Path:
    """The Kaggle release: fer2013/fer2013.csv with emotion,pixels,Usage."""
    path = root / "fer2013" / "fer2013.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, label, img in fer2013_arrays(per_class):
            writer.writerow([label, " ".join(map(str, img.ravel())), usage])
    return path


@pytest.fixture
def fer_folder(tmp_path: Path, cache_dir: Path) -> Path:
    """Data root holding a small FER2013 in folder form (JPEG, as the real release)."""
    write_fer2013_folder(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def fer_csv(tmp_path: Path, cache_dir: Path) -> Path:
    """Data root holding a small FER2013 in csv form."""
    write_fer2013_csv(tmp_path / "data")
    return tmp_path / "data"
