"""FER2013 cleaning (bodapati2024) on generated data with planted blanks and duplicates, and
the folder form's empty-class-folder error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.pixels import blank_masks
from fer_lightning.errors import DataError
from fer_lightning.main import main
from tests.helpers.fakedata import plant_fer2013_findings, write_fer2013_folder


@pytest.fixture
def planted(tmp_path: Path, cache_dir: Path) -> Path:
    """A data root holding a small FER2013 with planted blanks and duplicates."""
    plant_fer2013_findings(write_fer2013_folder(tmp_path / "data"))
    return tmp_path / "data"


def test_cleaning_drops_blanks_and_test_duplicates(planted: Path) -> None:
    plain = FER2013DataModule(data_dir=str(planted))
    plain.setup()
    dm = FER2013DataModule(data_dir=str(planted), remove_blank=True, remove_test_duplicates=True)
    dm.setup()
    assert dm.dropped == {
        "blank/train": [
            "train/angry/Training_9001.png",
            "train/angry/Training_9002.png",
            "train/sad/Training_9004.png",
        ],
        "blank/val": ["test/happy/PublicTest_9003.png"],  # official: val = PublicTest
        "blank/test": [],
        "duplicate_of_training/test": ["test/sad/PrivateTest_9006.jpg"],
    }
    for split, dropped in (("train", 3), ("val", 1), ("test", 1)):
        assert len(dm.splits[split]) == len(plain.splits[split]) - dropped
    assert not blank_masks(dm.splits["train"].images)[0].any()


def test_cleaning_is_off_by_default_and_separate(planted: Path) -> None:
    dm = FER2013DataModule(data_dir=str(planted), remove_test_duplicates=True)
    dm.setup()
    assert list(dm.dropped) == ["duplicate_of_training/test"]
    assert blank_masks(dm.splits["train"].images)[0].sum() == 2


def test_cleaning_writes_what_it_dropped_into_the_run(planted: Path) -> None:
    rc = main(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={planted}",
            "--data.remove_blank=true",
            "--data.num_workers=0",
            "--data.batch_size=8",
            "--trainer.fast_dev_run=true",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert rc == 0
    (record,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").glob("*/data_cleaning.json")
    assert json.loads(record.read_text())["counts"] == {
        "blank/train": 3,
        "blank/val": 1,
        "blank/test": 0,
    }


def test_empty_class_folder_is_named(fer_folder: Path) -> None:
    for file in (fer_folder / "fer2013" / "test" / "disgust").iterdir():
        file.unlink()
    with pytest.raises(DataError, match=r"test/disgust: class folder 'disgust' holds no images"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()
