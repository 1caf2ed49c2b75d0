"""The real-data proof of FolderDataModule: the real CK+48 (``$FER_DATA_DIR/ckplus``), linked into
a temporary directory as plain class folders and read with the subject pattern ``S(\\d+)_``,
gives exactly the CK+ datamodule's folds, and the same seeded training on both gives the same
validation and test accuracy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from fer_lightning import experiments
from fer_lightning.data import CKPlusDataModule, FolderDataModule
from tests.helpers.commands import run_cli

REAL_CKPLUS = Path(os.environ.get("FER_DATA_DIR", "data")) / "ckplus"
PATTERN = r"S(\d+)_"

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not REAL_CKPLUS.is_dir(), reason="real CK+48 not under $FER_DATA_DIR"),
]


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CK+48's class folders as a plain folder of your own: every image a symbolic link, the
    dataset's other files (MD5SUMS) left out."""
    root = tmp_path_factory.mktemp("my_faces")
    for folder in sorted(p for p in REAL_CKPLUS.iterdir() if p.is_dir()):
        (root / folder.name).mkdir()
        for image in folder.iterdir():
            (root / folder.name / image.name).symlink_to(image)
    return root


def _splits(dm: CKPlusDataModule | FolderDataModule) -> dict[str, tuple[np.ndarray, ...]]:
    dm.setup()
    assert dm.splits is not None
    return {n: (s.images, s.labels, s.groups) for n, s in dm.splits.items()}


@pytest.mark.parametrize("num_folds", [5, 10])
def test_a_plain_folder_with_the_subject_pattern_has_the_ck_plus_folds(
    plain_folder: Path, num_folds: int, cache_dir: Path
) -> None:
    for fold in range(num_folds):
        ck = CKPlusDataModule(
            data_dir=str(REAL_CKPLUS.parent), fold=fold, num_folds=num_folds, num_workers=0
        )
        mine = FolderDataModule(
            data_dir=str(plain_folder),
            subject_pattern=PATTERN,
            fold=fold,
            num_folds=num_folds,
            num_workers=0,
        )
        expected, got = _splits(ck), _splits(mine)
        for name in ("train", "val", "test"):
            for a, b in zip(expected[name], got[name], strict=True):
                assert a is not None and b is not None
                assert np.array_equal(a, b), (num_folds, fold, name)
    assert sum(len(s) for s in mine.splits.values()) == 981
    assert mine.class_names == ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")


def test_without_a_pattern_the_folds_are_ck_plus_image_level_folds(
    plain_folder: Path, cache_dir: Path
) -> None:
    for fold in range(5):
        ck = CKPlusDataModule(
            data_dir=str(REAL_CKPLUS.parent), split="random", fold=fold, num_workers=0
        )
        mine = FolderDataModule(data_dir=str(plain_folder), fold=fold, num_workers=0)
        expected, got = _splits(ck), _splits(mine)
        for name in ("train", "val", "test"):
            assert np.array_equal(expected[name][0], got[name][0]), (fold, name)
            assert np.array_equal(expected[name][1], got[name][1]), (fold, name)


def _fit(config: str, *extra: str) -> tuple[float, float]:
    cli = run_cli(
        [
            "fit",
            "--config",
            config,
            "--data.num_workers=0",
            "--trainer.max_epochs=3",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            *extra,
        ]
    )
    val = float(cli.trainer.checkpoint_callback.best_model_score)
    return val, float(cli.trainer.callback_metrics["test/acc"])


@pytest.mark.slow
def test_the_same_seeded_training_on_both_gives_the_same_accuracy(
    plain_folder: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """cnn_ckplus (fold 0 of 5 by subject, seed 0), on the CK+ datamodule and on the
    plain folder with the same data settings (three epochs: 72 % test, not one class for all)."""
    shipped = experiments.resolve("cnn_ckplus")
    config = yaml.safe_load(shipped.read_text())
    data = config["data"]["init_args"]
    assert data.pop("split") == "subject"
    data |= {"data_dir": str(plain_folder), "subject_pattern": PATTERN}
    config["data"]["class_path"] = "fer_lightning.data.FolderDataModule"
    plain = tmp_path / "cnn_plain_folder.yaml"
    plain.write_text(yaml.safe_dump(config))

    ck = _fit(str(shipped), f"--data.data_dir={REAL_CKPLUS.parent}")
    mine = _fit(str(plain))
    assert mine == ck
    assert ck[1] > 0.5, ck  # learnt something: not one class predicted for all
    print(f"val {ck[0]:.4f} test {ck[1]:.4f} on both")
