"""FER2013DataModule on generated data in both real layouts, including each bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER7, FER2013DataModule
from fer_lightning.data import fer2013 as fer2013_module
from fer_lightning.errors import DataError
from tests.helpers.fakedata import PER_CLASS, write_fer2013_csv, write_fer2013_folder

N_CLASSES = len(FER7)


def _counts(dm: FER2013DataModule, split: str) -> list[int]:
    return np.bincount(dm.splits[split].labels, minlength=N_CLASSES).tolist()


@pytest.mark.parametrize("layout", ["fer_folder", "fer_csv"])
def test_official_split_sizes_and_labels(layout: str, request: pytest.FixtureRequest) -> None:
    dm = FER2013DataModule(data_dir=str(request.getfixturevalue(layout)))
    dm.setup()
    assert _counts(dm, "train") == [PER_CLASS["Training"]] * N_CLASSES
    assert _counts(dm, "val") == [PER_CLASS["PublicTest"]] * N_CLASSES
    assert _counts(dm, "test") == [PER_CLASS["PrivateTest"]] * N_CLASSES
    assert dm.splits["train"].images.dtype == np.uint8
    assert dm.splits["train"].images.shape[1:] == (48, 48)


def test_folder_classes_map_by_name_to_csv_order(fer_folder: Path) -> None:
    """Folders list alphabetically (neutral before sad); labels must follow the csv order."""
    dm = FER2013DataModule(data_dir=str(fer_folder))
    dm.setup()
    # Generated images carry a bright stripe at columns 6*label .. 6*label+5.
    for image, label in zip(dm.splits["train"].images, dm.splits["train"].labels, strict=True):
        stripe = image[:, 6 * label : 6 * label + 6].mean()
        assert stripe > image.mean() + 40, f"label {label} does not match its image"
    assert FER7.index("neutral") == 6 and FER7.index("sad") == 4


def test_csv_and_png_folder_decode_to_identical_arrays(tmp_path: Path, cache_dir: Path) -> None:
    write_fer2013_csv(tmp_path / "csv")
    write_fer2013_folder(tmp_path / "png", ext=".png")  # lossless, unlike the real JPEGs
    a = FER2013DataModule(data_dir=str(tmp_path / "csv"))
    b = FER2013DataModule(data_dir=str(tmp_path / "png"))
    a.setup()
    b.setup()
    for split in ("train", "val", "test"):
        order_a = np.lexsort(
            (
                a.splits[split].images.reshape(len(a.splits[split]), -1).sum(1),
                a.splits[split].labels,
            )
        )
        order_b = np.lexsort(
            (
                b.splits[split].images.reshape(len(b.splits[split]), -1).sum(1),
                b.splits[split].labels,
            )
        )
        np.testing.assert_array_equal(
            a.splits[split].images[order_a], b.splits[split].images[order_b]
        )
        np.testing.assert_array_equal(
            a.splits[split].labels[order_a], b.splits[split].labels[order_b]
        )


def test_data_root_may_be_the_dataset_folder_itself(fer_folder: Path) -> None:
    dm = FER2013DataModule(data_dir=str(fer_folder / "fer2013"))
    dm.setup()
    assert len(dm.splits["train"]) == PER_CLASS["Training"] * N_CLASSES


def test_data_root_from_environment(fer_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_DATA_DIR", str(fer_folder))
    dm = FER2013DataModule()
    dm.setup()
    assert len(dm.splits["test"]) == PER_CLASS["PrivateTest"] * N_CLASSES


def test_full_test_protocol(fer_folder: Path) -> None:
    dm = FER2013DataModule(data_dir=str(fer_folder), split="full_test", val_fraction=0.5)
    dm.setup()
    assert _counts(dm, "test") == [PER_CLASS["PublicTest"] + PER_CLASS["PrivateTest"]] * N_CLASSES
    assert _counts(dm, "val") == [PER_CLASS["Training"] // 2] * N_CLASSES
    assert _counts(dm, "train") == [PER_CLASS["Training"] // 2] * N_CLASSES


def test_holdout_is_stratified_seeded_and_disjoint(fer_folder: Path) -> None:
    def split(seed: int) -> tuple[np.ndarray, np.ndarray]:
        dm = FER2013DataModule(
            data_dir=str(fer_folder), split="holdout", val_fraction=1 / 3, split_seed=seed
        )
        dm.setup()
        assert _counts(dm, "val") == [2] * N_CLASSES  # 1/3 of 6 per class
        assert _counts(dm, "test") == [PER_CLASS["PrivateTest"]] * N_CLASSES
        flat = lambda s: {img.tobytes() for img in dm.splits[s].images}  # noqa: E731
        assert not flat("train") & flat("val")
        return dm.splits["val"].images, dm.splits["train"].images

    np.testing.assert_array_equal(split(0)[0], split(0)[0])
    assert not np.array_equal(split(0)[0], split(1)[0])


def test_class_weights_are_inverse_frequency(tmp_path: Path, cache_dir: Path) -> None:
    per_class = {"Training": 4, "PublicTest": 1, "PrivateTest": 1}
    write_fer2013_folder(tmp_path, per_class=per_class)
    # Drop 3 of the 4 training images of 'disgust': counts 4,1,4,4,4,4,4 (N=25).
    for path in sorted((tmp_path / "fer2013/train/disgust").iterdir())[:3]:
        path.unlink()
    dm = FER2013DataModule(data_dir=str(tmp_path))
    weights = dm.class_weights()
    expected = torch.tensor([25 / (7 * c) for c in (4, 1, 4, 4, 4, 4, 4)])
    torch.testing.assert_close(weights, expected)


def test_decoded_once_then_served_from_cache(
    fer_folder: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FER2013DataModule(data_dir=str(fer_folder)).setup()
    assert len(list(cache_dir.glob("fer2013-folder-*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(fer2013_module, "read_folders", no_decoding)
    FER2013DataModule(data_dir=str(fer_folder)).setup()
    # Changing one file (size and mtime) invalidates the key: decoding is asked for again.
    victim = next((fer_folder / "fer2013/train/happy").iterdir())
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(AssertionError, match="decoded again"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()


def test_non_image_files_are_skipped_and_reported(
    fer_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (fer_folder / "fer2013/train/happy/.DS_Store").write_bytes(b"junk")
    (fer_folder / "fer2013/test/README.txt").write_text("notes")
    dm = FER2013DataModule(data_dir=str(fer_folder))
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert len(dm.skipped) == 2
    assert "skipped 2 non-image entries" in caplog.text
    assert len(dm.splits["train"]) == PER_CLASS["Training"] * N_CLASSES


@pytest.mark.parametrize(("channels", "size"), [(1, 48), (3, 64)])
def test_loader_batches(fer_folder: Path, channels: int, size: int) -> None:
    dm = FER2013DataModule(
        data_dir=str(fer_folder), batch_size=5, num_workers=0, channels=channels, image_size=size
    )
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (5, channels, size, size) and x.dtype == torch.float32
    assert y.dtype == torch.long and y.shape == (5,)
    assert torch.isfinite(x).all()
    xv, _ = next(iter(dm.val_dataloader()))
    if channels == 3:
        assert torch.equal(xv[:, 0], xv[:, 1]) and torch.equal(xv[:, 1], xv[:, 2])


def test_augmentation_is_seeded(fer_folder: Path) -> None:
    def first_batch(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=8, num_workers=0)
        ds = dm.dataset("train", train=True)
        return torch.stack([ds[i][0] for i in range(8)])

    assert torch.equal(first_batch(1), first_batch(1))
    assert not torch.equal(first_batch(1), first_batch(2))


# ------------------------------------------------------------------------------- bad input
def _csv_with(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "fer2013" / "fer2013.csv"
    path.parent.mkdir(parents=True)
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return tmp_path


GOOD_PIXELS = " ".join(["7"] * 2304)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"3,{' '.join(['7'] * 2303)},Training", "line 3: expected 2304 pixel values, got 2303"),
        (f"happy,{GOOD_PIXELS},Training", "line 3: emotion 'happy' is not an integer label"),
        (f"9,{GOOD_PIXELS},Training", "line 3: emotion 9 is outside 0-6"),
        (f"3,{GOOD_PIXELS},Validation", "line 3: Usage 'Validation' is not one of"),
        (f"3,{GOOD_PIXELS[:-1]}x,Training", "line 3: pixels are not all integers"),
        (f"3,{GOOD_PIXELS[:-1]}999,Training", "line 3: pixel values must be within 0-255"),
    ],
)
def test_bad_csv_row_names_file_and_line(
    tmp_path: Path, cache_dir: Path, row: str, message: str
) -> None:
    root = _csv_with(tmp_path, [f"0,{GOOD_PIXELS},Training", row])
    with pytest.raises(DataError, match=message) as err:
        FER2013DataModule(data_dir=str(root)).setup()
    assert "fer2013.csv" in str(err.value)


def test_csv_missing_column(tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "fer2013" / "fer2013.csv"
    path.parent.mkdir(parents=True)
    path.write_text(f"emotion,pixels\n0,{GOOD_PIXELS}\n")
    with pytest.raises(DataError, match="lacks column"):
        FER2013DataModule(data_dir=str(tmp_path)).setup()


def test_missing_split_is_named(tmp_path: Path, cache_dir: Path) -> None:
    root = _csv_with(tmp_path, [f"0,{GOOD_PIXELS},Training", f"1,{GOOD_PIXELS},PublicTest"])
    with pytest.raises(DataError, match="no PrivateTest images found; split 'official' needs them"):
        FER2013DataModule(data_dir=str(root)).setup()


def test_missing_test_folder(fer_folder: Path) -> None:
    import shutil

    shutil.rmtree(fer_folder / "fer2013" / "test")
    with pytest.raises(DataError, match="has no test/ folder"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()


def test_unknown_class_folder(fer_folder: Path) -> None:
    (fer_folder / "fer2013/train/contempt").mkdir()
    with pytest.raises(DataError, match=r"train/contempt: unknown class folder 'contempt'"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()


def test_unreadable_image_is_named(fer_folder: Path) -> None:
    bad = fer_folder / "fer2013/test/fear/PrivateTest_999.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError, match=r"PrivateTest_999.jpg: unreadable image"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()


def test_wrong_image_size_is_named(fer_folder: Path) -> None:
    from PIL import Image

    Image.new("L", (64, 64)).save(fer_folder / "fer2013/train/sad/Training_big.png")
    with pytest.raises(DataError, match=r"Training_big.png: image is 64x64"):
        FER2013DataModule(data_dir=str(fer_folder)).setup()


def test_missing_data_root(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"FER2013 not found: .*nowhere.* does not exist; looked for .*; set FER_DATA_DIR",
    ):
        FER2013DataModule(data_dir=str(tmp_path / "nowhere")).setup()


def test_unprefixed_test_images_need_full_test(fer_folder: Path) -> None:
    src = next((fer_folder / "fer2013/test/angry").iterdir())
    src.rename(src.with_name("im42.jpg"))
    with pytest.raises(
        DataError, match="lack a PublicTest_/PrivateTest_ prefix.*--data.split=full_test"
    ):
        FER2013DataModule(data_dir=str(fer_folder)).setup()
    dm = FER2013DataModule(data_dir=str(fer_folder), split="full_test")
    dm.setup()
    assert (
        len(dm.splits["test"]) == (PER_CLASS["PublicTest"] + PER_CLASS["PrivateTest"]) * N_CLASSES
    )
