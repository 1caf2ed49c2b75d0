"""FolderDataModule on generated folders and csvs: class names matched to the FER names or kept,
subject folds and fraction splits, any image size and mode, and its bad inputs (each one
sentence naming the folder, file, row or key)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import FolderDataModule
from fer_lightning.data.folder import known_classes
from fer_lightning.data.labels import FER7
from fer_lightning.errors import DataError, FERUserError
from tests.helpers.fakedata import write_folder


def _dm(root: Path, **kwargs) -> FolderDataModule:
    kwargs.setdefault("num_workers", 0)
    dm = FolderDataModule(data_dir=str(root), **kwargs)
    dm.setup()
    return dm


@pytest.fixture
def folder(tmp_path: Path, cache_dir: Path) -> Path:
    return write_folder(tmp_path)


def test_class_folders_are_matched_to_the_fer_names_in_folder_order(folder: Path) -> None:
    dm = _dm(folder, num_folds=5)
    # sorted by folder name (as ImageFolder): Happiness, anger, sad
    assert dm.class_names == ("happy", "angry", "sad")
    assert sum(len(s) for s in dm.splits.values()) == 30
    test = dm.splits["test"]
    assert test.images.shape[1:] == (48, 48)
    # the stripe of class i is at columns 6i .. 6i+5
    stripe = [int(np.argmax(img.mean(axis=0).reshape(8, 6).mean(axis=1))) for img in test.images]
    assert stripe == test.labels.tolist()
    assert "contempt" in known_classes() and known_classes()[:7] == list(FER7)


def test_a_data_root_holding_folder_is_read_too(folder: Path) -> None:
    assert _dm(folder.parent).root == folder


def test_own_classes_keep_the_names_as_written(tmp_path: Path, cache_dir: Path) -> None:
    root = write_folder(tmp_path, classes=("thinking", "Happy", "sad"))
    assert _dm(root, own_classes=True).class_names == ("Happy", "sad", "thinking")
    with pytest.raises(DataError) as err:
        FolderDataModule(data_dir=str(root))
    message = str(err.value)
    assert str(root / "thinking") in message and "'thinking'" in message
    assert "--data.own_classes=true" in message and "rename" in message
    # leaving it out of data.classes is the third way
    assert _dm(root, classes=["sad", "joy"]).class_names == ("sad", "happy")


def test_subject_folds_keep_each_subject_on_one_side(folder: Path) -> None:
    tests = []
    for fold in range(5):
        dm = _dm(folder, subject_pattern=r"p(\d+)_", fold=fold, num_folds=5)
        train, val, test = (set(dm.splits[s].groups.tolist()) for s in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
        assert len(val) == 1 and len(test) == 1
        tests.append(test)
    assert set().union(*tests) == {1, 2, 3, 4, 5}
    assert sum(len(t) for t in tests) == 5


def test_without_groups_the_folds_are_stratified_over_images(folder: Path) -> None:
    sizes = [len(_dm(folder, fold=f, num_folds=5).splits["test"]) for f in range(5)]
    assert sizes == [6] * 5
    dm = _dm(folder, fold=0, num_folds=5)
    assert np.bincount(dm.splits["test"].labels).tolist() == [2, 2, 2]


def test_fraction_split_with_and_without_subjects(folder: Path) -> None:
    dm = _dm(folder, split="fraction", test_fraction=0.2, val_fraction=0.2)
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [18, 6, 6]
    assert np.bincount(dm.splits["test"].labels).tolist() == [2, 2, 2]
    dm = _dm(folder, split="fraction", subject_pattern=r"p(\d+)_", test_fraction=0.2)
    groups = [set(dm.splits[s].groups.tolist()) for s in ("train", "val", "test")]
    assert [len(g) for g in groups] == [3, 1, 1] and not groups[0] & groups[2]
    everything = _dm(folder, split="all")
    assert (len(everything.splits["train"]), len(everything.splits["test"])) == (0, 30)


def test_csv_with_groups(tmp_path: Path, cache_dir: Path) -> None:
    folder = write_folder(tmp_path)
    rows = ["path,label,group"]
    for file in sorted(folder.glob("*/*.png")):
        subject = file.stem.split("_")[0]
        rows.append(f"folder/{file.parent.name}/{file.name},{file.parent.name.lower()},{subject}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    dm = _dm(tmp_path / "labels.csv", fold=1, num_folds=5)
    assert dm.class_names == ("angry", "happy", "sad")  # sorted labels: anger, happiness, sad
    groups = [set(dm.splits[s].groups.tolist()) for s in ("train", "val", "test")]
    assert not groups[0] & groups[2] and len(groups[2]) == 1
    # without a header, and the group from the file name instead
    (tmp_path / "plain.csv").write_text("\n".join(r.rsplit(",", 1)[0] for r in rows[1:]))
    plain = _dm(tmp_path / "plain.csv", fold=1, num_folds=5, subject_pattern=r"p(\d+)_")
    assert np.array_equal(plain.splits["test"].images, dm.splits["test"].images)


def test_any_size_and_mode_is_converted_and_said_once(
    tmp_path: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "faces"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (80, 100, 3), dtype=np.uint8), "RGB")
    rgb.save(root / "happy" / "a.png")
    rgb.convert("RGBA").save(root / "happy" / "b.png")
    rgb.convert("P").save(root / "happy" / "c.png")
    Image.fromarray(np.full((64, 64), 65535, dtype=np.uint16)).save(root / "sad" / "d.png")
    Image.fromarray(np.full((48, 48), 7, dtype=np.uint8)).save(root / "sad" / "e.jpg")
    Image.fromarray(np.zeros((48, 48), dtype=np.uint8)).save(root / "sad" / "f.bmp")
    (root / "sad" / "notes.txt").write_text("not an image\n")
    (root / "README.md").write_text("my faces\n")
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        dm = _dm(root, split="all")
    images = dm.splits["test"].images
    assert images.shape == (6, 48, 48) and images.dtype == np.uint8
    assert images[3].min() == 255, "16-bit white stays white"
    said = [r.getMessage() for r in caplog.records if "the model's input" in r.getMessage()]
    assert len(said) == 1 and "converted to 48x48 L" in said[0] and "100x80 RGBA: 1" in said[0]
    ignored = [r.getMessage() for r in caplog.records if "not images" in r.getMessage()]
    assert len(ignored) == 1 and "ignored 2 files" in ignored[0]
    color = _dm(root, split="all", channels=3, image_size=32)
    assert color.splits["test"].images.shape == (6, 32, 32, 3)
    assert color.hparams["color"] == "rgb" and dm.hparams["color"] == "gray"


def test_a_config_without_its_folder_is_built_and_refused_when_used(tmp_path: Path) -> None:
    dm = FolderDataModule(data_dir=str(tmp_path / "not_yet"))
    assert dm.class_names == FER7
    assert FolderDataModule(data_dir=str(tmp_path / "x"), classes=["joy", "sad"]).class_names == (
        "happy",
        "sad",
    )
    with pytest.raises(DataError, match="not_yet does not exist; set --data.data_dir"):
        dm.check_location()


# ---------------------------------------------------------------------------------- bad input
def _refused(root: Path, error: type[Exception] = DataError, **kwargs) -> str:
    with pytest.raises(error) as err:
        _dm(root, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_one_class_and_an_empty_class(tmp_path: Path, cache_dir: Path) -> None:
    root = write_folder(tmp_path, classes=("happy",))
    message = _refused(root)
    assert str(root) in message and "one class folder ('happy')" in message
    (root / "sad").mkdir()
    message = _refused(root)
    assert str(root / "sad") in message and "holds no images" in message
    (root / "sad" / "x.txt").write_text("")
    assert "holds no images" in _refused(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no class folders" in _refused(empty)


def test_two_spellings_of_one_class(tmp_path: Path, cache_dir: Path) -> None:
    root = write_folder(tmp_path, classes=("happy", "joy", "sad"))
    message = _refused(root)
    assert "'joy' and 'happy' are both the class happy" in message


def test_fewer_subjects_or_images_than_folds(folder: Path) -> None:
    message = _refused(folder, subject_pattern=r"p(\d+)_", num_folds=6)
    assert "class 'happy'" in message and "5 subjects" in message
    assert "data.num_folds=6" in message and str(folder / "Happiness") in message
    message = _refused(folder, num_folds=11)
    assert "10 images" in message and "data.num_folds=11" in message
    # a class left out by data.classes is not counted
    for png in sorted((folder / "sad").glob("*.png"))[2:]:
        png.unlink()
    assert "class 'sad'" in _refused(folder, split="fraction")
    kept = _dm(folder, split="fraction", classes=["happy", "anger"])
    assert kept.class_names == ("happy", "angry")


def test_a_subject_pattern_that_matches_nothing_or_not_everything(folder: Path) -> None:
    message = _refused(folder, subject_pattern=r"S(\d+)_")
    assert "matches no file name" in message and "Happiness/p01_0.png" in message
    (folder / "sad" / "p01_0.png").rename(folder / "sad" / "nobody.png")
    message = _refused(folder, subject_pattern=r"p(\d+)_")
    assert "finds no subject in sad/nobody.png" in message and "1 of 30" in message
    assert "not a regular expression" in _refused(folder, FERUserError, subject_pattern="p(")


def test_a_file_that_is_not_an_image(folder: Path) -> None:
    (folder / "sad" / "broken.png").write_text("not a png")
    message = _refused(folder)
    assert str(folder / "sad" / "broken.png") in message and "unreadable image" in message


def test_bad_csv_rows(tmp_path: Path, cache_dir: Path) -> None:
    write_folder(tmp_path)
    good = "folder/sad/p01_0.png,sad\nfolder/anger/p01_0.png,anger\n"
    cases = {
        "missing": ("folder/sad/nope.png,sad\n", "row 3: folder/sad/nope.png does not exist"),
        "label": ("folder/sad/p01_1.png,thinking\n", "row 3: label 'thinking' is none of"),
        "fields": ("folder/sad/p01_1.png\n", "row 3: expected path,label[,group]"),
        "twice": ("folder/sad/p01_0.png,sad\n", "row 3: folder/sad/p01_0.png is listed again"),
        "text": ("notes.txt,sad\n", "row 3: notes.txt is not an image file"),
        "group": ("folder/sad/p01_1.png,sad,7\n", "row 3: a group where row 1 has none"),
    }
    for name, (row, says) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(good + row)
        message = _refused(path)
        assert str(path) in message and says in message, message
    (tmp_path / "empty.csv").write_text("path,label\n")
    assert "lists no images" in _refused(tmp_path / "empty.csv")


def test_bad_options(folder: Path) -> None:
    assert "data.fold=2 is for data.split=folds" in _refused(
        folder, FERUserError, split="fraction", fold=2
    )
    assert "data.test_fraction" in _refused(folder, FERUserError, split="fraction", test_fraction=1)
    assert "data.num_folds must be at least 2" in _refused(folder, num_folds=1)
