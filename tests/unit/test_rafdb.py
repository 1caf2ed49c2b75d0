"""RAFDBDataModule on a generated RAF-DB in the official layout, including each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import FER7, RAFDBDataModule
from fer_lightning.data.rafdb import ALIGNED, LABEL_FILE
from fer_lightning.errors import DataError
from fer_lightning.main import main
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import RAFDB_LABELS, write_rafdb

PER_TRAIN, PER_TEST = 4, 2


@pytest.fixture
def rafdb(tmp_path: Path, cache_dir: Path) -> Path:
    """A data root holding rafdb/basic/."""
    write_rafdb(tmp_path / "data", per_class_train=PER_TRAIN, per_class_test=PER_TEST)
    return tmp_path / "data"


def _stripe_label(image: np.ndarray) -> int:
    """The generator's stripe position (RAF-DB label minus one) of a 100x100 image."""
    columns = image.astype(np.float64).mean(axis=(0, 2))
    return int(np.argmax([columns[k * 12 : (k + 1) * 12].mean() for k in range(7)]))


def test_official_splits_and_defaults(rafdb: Path) -> None:
    dm = RAFDBDataModule(data_dir=str(rafdb))
    dm.setup()
    assert (dm.image_size, dm.channels) == (100, 3)
    assert dm.class_names == FER7
    sizes = {k: len(v) for k, v in dm.splits.items()}
    # Validation: one per class carved from the 4 train images of each class.
    assert sizes == {"train": 7 * (PER_TRAIN - 1), "val": 7, "test": 7 * PER_TEST}
    assert dm.splits["train"].images.shape[1:] == (100, 100, 3)
    assert dm.splits["train"].images.dtype == np.uint8
    x, y = next(iter(dm.test_dataloader()))
    assert tuple(x.shape[1:]) == (3, 100, 100)


def test_labels_are_remapped_to_the_canonical_order(rafdb: Path) -> None:
    dm = RAFDBDataModule(data_dir=str(rafdb))
    dm.setup()
    for split in dm.splits.values():
        for image, label in zip(split.images, split.labels, strict=True):
            raf_label = _stripe_label(image) + 1
            assert dm.class_names[label] == RAFDB_LABELS[raf_label]
    # RAF-DB 1 (surprise) is FER7 5, RAF-DB 6 (angry) is FER7 0.
    assert FER7.index(RAFDB_LABELS[1]) == 5 and FER7.index(RAFDB_LABELS[6]) == 0


def test_validation_is_stratified_seeded_and_disjoint(tmp_path: Path, cache_dir: Path) -> None:
    root = tmp_path / "data"
    write_rafdb(root, per_class_train=10, per_class_test=1)

    def val_of(seed: int) -> np.ndarray:
        dm = RAFDBDataModule(data_dir=str(root), val_fraction=0.2, split_seed=seed)
        dm.setup()
        train = {img.tobytes() for img in dm.splits["train"].images}
        assert not train & {img.tobytes() for img in dm.splits["val"].images}
        assert np.bincount(dm.splits["val"].labels).tolist() == [2] * 7
        return dm.splits["val"].images

    np.testing.assert_array_equal(val_of(0), val_of(0))
    assert not np.array_equal(val_of(0), val_of(1))


def test_missing_label_file(rafdb: Path) -> None:
    (rafdb / "rafdb" / "basic" / LABEL_FILE).unlink()
    with pytest.raises(
        DataError, match="RAF-DB not found: .*list_patition_label.txt does not exist; looked for"
    ):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


def _label_file(rafdb: Path) -> Path:
    return rafdb / "rafdb" / "basic" / LABEL_FILE


def test_label_line_naming_an_absent_image(rafdb: Path) -> None:
    (rafdb / "rafdb" / "basic" / ALIGNED / "train_00003_aligned.jpg").unlink()
    with pytest.raises(DataError, match=r"line 3: image .*train_00003_aligned.jpg does not exist"):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


@pytest.mark.parametrize("bad", ["0", "8", "x"])
def test_label_out_of_range_names_the_line(rafdb: Path, bad: str) -> None:
    path = _label_file(rafdb)
    lines = path.read_text().splitlines()
    lines[1] = f"train_00002.jpg {bad}"
    path.write_text("\n".join(lines) + "\n")
    message = "is not an integer" if bad == "x" else "outside RAF-DB's 1-7"
    with pytest.raises(DataError, match=f"list_patition_label.txt line 2: label .*{message}"):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


def test_malformed_label_line(rafdb: Path) -> None:
    path = _label_file(rafdb)
    path.write_text(path.read_text() + "train_99999.jpg\n")
    with pytest.raises(DataError, match=r"line \d+: expected '<name>.jpg <label>'"):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


def test_unreadable_image_is_named(rafdb: Path) -> None:
    (rafdb / "rafdb" / "basic" / ALIGNED / "test_0002_aligned.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"test_0002_aligned.jpg: unreadable image"):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


def test_wrong_image_size_is_named(rafdb: Path) -> None:
    path = rafdb / "rafdb" / "basic" / ALIGNED / "train_00001_aligned.jpg"
    Image.new("RGB", (64, 64)).save(path)
    with pytest.raises(DataError, match=r"train_00001_aligned.jpg: image is 64x64"):
        RAFDBDataModule(data_dir=str(rafdb)).setup()


def test_missing_dataset_folder(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(DataError, match="RAF-DB not found"):
        RAFDBDataModule(data_dir=str(tmp_path / "nowhere")).setup()


def test_cli_links_classes_channels_and_size_from_the_data(rafdb: Path) -> None:
    cli = run_cli(
        [
            "fit",
            "--data=fer_lightning.data.RAFDBDataModule",
            f"--data.data_dir={rafdb}",
            "--data.batch_size=8",
            "--data.num_workers=0",
            "--data.augment=none",
            "--optimizer=torch.optim.Adam",
            "--trainer.fast_dev_run=true",
            "--trainer.enable_progress_bar=false",
        ]
    )
    hp = cli.model.hparams
    assert (hp.num_classes, hp.in_chans, hp.image_size) == (7, 3, 100)
    assert list(hp.class_names) == list(FER7)


def test_cli_bad_rafdb_is_one_line(rafdb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _label_file(rafdb).unlink()
    rc = main(
        [
            "fit",
            "--data=fer_lightning.data.RAFDBDataModule",
            f"--data.data_dir={rafdb}",
            "--data.num_workers=0",
            "--optimizer=torch.optim.Adam",
            "--trainer.fast_dev_run=true",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert rc == 2
    assert "list_patition_label.txt does not exist; looked for" in capsys.readouterr().err
