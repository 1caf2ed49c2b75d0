"""CKPlusDataModule on a generated CK+48: subject folds, random folds, bad inputs, ``cv``.

Here: the fast tests; the others are in ``tests/slow/test_ckplus.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import CKPlusDataModule
from fer_lightning.errors import DataError
from fer_lightning.main import main
from tests.helpers.fakedata import CKPLUS_CLASSES, write_ckplus

SUBJECTS, FRAMES, FOLDS = 6, 3, 3


@pytest.fixture
def ckplus(tmp_path: Path, cache_dir: Path) -> Path:
    """A data root holding ckplus/<class>/S###_###_########.png."""
    write_ckplus(tmp_path / "data", subjects=SUBJECTS, frames=FRAMES)
    return tmp_path / "data"


def _module(root: Path, **kwargs) -> CKPlusDataModule:
    dm = CKPlusDataModule(data_dir=str(root), num_folds=FOLDS, **kwargs)
    dm.setup()
    return dm


def test_layout_classes_and_images(ckplus: Path) -> None:
    dm = _module(ckplus)
    assert dm.class_names == CKPLUS_CLASSES
    assert (dm.image_size, dm.channels) == (48, 1)
    assert sum(len(s) for s in dm.splits.values()) == SUBJECTS * 7 * FRAMES
    assert dm.splits["test"].images.shape[1:] == (48, 48)
    # Generated images carry the class as a bright stripe at columns 6*label .. 6*label+5.
    for image, label in zip(dm.splits["train"].images, dm.splits["train"].labels, strict=True):
        assert image[:, 6 * label : 6 * label + 6].mean() > image.mean() + 40


def test_subject_folds_never_share_a_person(ckplus: Path) -> None:
    tested: list[int] = []
    for fold in range(FOLDS):
        dm = _module(ckplus, fold=fold)
        subjects = {name: set(split.groups.tolist()) for name, split in dm.splits.items()}
        assert not subjects["train"] & subjects["test"]
        assert not subjects["train"] & subjects["val"]
        assert not subjects["val"] & subjects["test"]
        assert subjects["val"], "validation must hold at least one subject"
        assert subjects["train"] | subjects["val"] | subjects["test"] == set(range(10, 16))
        tested += sorted(subjects["test"])
    # Every subject is tested exactly once over the folds.
    assert sorted(tested) == list(range(10, 10 + SUBJECTS))


def test_subject_folds_are_seeded(ckplus: Path) -> None:
    def test_subjects(seed: int) -> list[set[int]]:
        return [
            set(_module(ckplus, fold=f, split_seed=seed).splits["test"].groups.tolist())
            for f in range(FOLDS)
        ]

    assert test_subjects(0) == test_subjects(0)
    assert any(test_subjects(0) != test_subjects(s) for s in (1, 2, 3))


def test_random_folds_are_stratified_and_cover_every_image(ckplus: Path) -> None:
    seen: list[bytes] = []
    for fold in range(FOLDS):
        dm = _module(ckplus, split="random", fold=fold)
        counts = np.bincount(dm.splits["test"].labels, minlength=7)
        assert counts.max() - counts.min() <= 1  # 18 images per class over 3 folds: 6 each
        seen += [img.tobytes() for img in dm.splits["test"].images]
    assert len(seen) == len(set(seen)) == SUBJECTS * 7 * FRAMES


def test_split_all_tests_every_image_and_trains_on_none(ckplus: Path) -> None:
    dm = _module(ckplus, split="all", fold=2)  # the fold does not matter
    assert len(dm.splits["test"]) == SUBJECTS * 7 * FRAMES
    assert len(dm.splits["train"]) == len(dm.splits["val"]) == 0


def test_fitting_on_split_all_is_refused_and_leaves_no_run(
    ckplus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "refused"
    args = ["fit", "--exp", "cnn_ckplus", f"--data.data_dir={ckplus}", "--data.split=all"]
    assert main([*args, f"--run_dir={run_dir}", "--trainer.max_epochs=1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "data.split 'all' has no training images" in err.strip().splitlines()[-1], err
    assert not run_dir.exists()


def test_unknown_class_folder(ckplus: Path) -> None:
    (ckplus / "ckplus" / "happy").rename(ckplus / "ckplus" / "joy")
    with pytest.raises(DataError, match=r"joy: unknown class folder 'joy'"):
        _module(ckplus)


def test_empty_class_folder(ckplus: Path) -> None:
    for file in (ckplus / "ckplus" / "fear").iterdir():
        file.unlink()
    with pytest.raises(DataError, match=r"fear: class folder 'fear' holds no images"):
        _module(ckplus)


def test_unreadable_image(ckplus: Path) -> None:
    (ckplus / "ckplus" / "anger" / "S010_001_00000002.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=r"S010_001_00000002.png: unreadable image"):
        _module(ckplus)


def test_wrong_image_size(ckplus: Path) -> None:
    Image.new("L", (64, 48)).save(ckplus / "ckplus" / "anger" / "S010_001_00000002.png")
    with pytest.raises(DataError, match=r"S010_001_00000002.png: image is 64x48"):
        _module(ckplus)


def test_unparsed_name_fails_subject_split_only(ckplus: Path) -> None:
    src = ckplus / "ckplus" / "happy" / "S010_005_00000001.png"
    src.rename(src.with_name("face_17.png"))
    with pytest.raises(DataError, match=r"face_17.png: file name does not parse as a CK\+"):
        _module(ckplus)
    assert len(_module(ckplus, split="random").splits["test"]) > 0


def test_fold_out_of_range() -> None:
    with pytest.raises(DataError, match="data.fold must be in 0..2, got 3"):
        CKPlusDataModule(fold=3, num_folds=3)


def test_too_few_subjects_for_the_folds(tmp_path: Path, cache_dir: Path) -> None:
    write_ckplus(tmp_path / "data", subjects=2, frames=1)
    with pytest.raises(DataError, match="2 subjects cannot fill 3 folds"):
        _module(tmp_path / "data")


def test_cv_needs_data_with_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["cv", "--exp", "baseline_fer2013"])
    assert rc == 2
    assert "FER2013DataModule) has no folds" in capsys.readouterr().err
