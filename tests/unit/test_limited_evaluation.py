"""--trainer.limit_{val,test,predict}_batches evaluate a seeded class-stratified subset, not the
first class of a class-ordered split, and a test report on such a subset says it is partial."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.splits import stratified_order
from fer_lightning.main import main


def test_every_prefix_of_the_stratified_order_is_stratified() -> None:
    labels = np.repeat(np.arange(7), [467, 56, 496, 895, 653, 415, 607])  # PublicTest
    order = stratified_order(labels, seed=0)
    assert sorted(order.tolist()) == list(range(len(labels)))
    np.testing.assert_array_equal(order, stratified_order(labels, seed=0))
    assert not np.array_equal(order, stratified_order(labels, seed=1))
    counts = np.bincount(labels, minlength=7)
    for m in (7, 64, 320, 1000, len(labels)):
        seen = np.bincount(labels[order[:m]], minlength=7)
        assert (seen > 0).all(), m
        assert np.all(np.abs(seen - m * counts / len(labels)) <= 1.5), (m, seen)


def _first_batches(dm: FER2013DataModule, loader: str, batches: int) -> torch.Tensor:
    it = iter(getattr(dm, loader)())
    return torch.cat([next(it)[1] for _ in range(batches)])


def _trainer(**limits: int | float) -> SimpleNamespace:
    base = {"limit_val_batches": 1.0, "limit_test_batches": 1.0, "limit_predict_batches": 1.0}
    return SimpleNamespace(world_size=1, global_rank=0, **(base | limits))


@pytest.mark.parametrize(
    ("stage", "loader"),
    [("val", "val_dataloader"), ("test", "test_dataloader"), ("predict", "predict_dataloader")],
)
@pytest.mark.parametrize("limit", [1, 0.5])
def test_limited_loader_starts_with_every_class(
    fer_folder: Path, stage: str, loader: str, limit: float
) -> None:
    """14 images, 2 per class in class order: the first batch of 8 held 4 classes."""
    dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=8, num_workers=0)
    dm.trainer = _trainer(**{f"limit_{stage}_batches": limit})
    labels = _first_batches(dm, loader, 1)
    assert sorted(labels.unique().tolist()) == list(range(7))
    # Unlimited: the split's own order, as before.
    dm.trainer = _trainer()
    assert _first_batches(dm, loader, 1).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_limited_evaluation_under_ddp_counts_each_image_once(fer_folder: Path) -> None:
    """With 2 processes each evaluates the first batch (4 images) of its unpadded half of the
    14 validation images: the two batches share no image and together hold every class."""
    dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=4, num_workers=0)
    images: list[bytes] = []
    labels: list[int] = []
    for rank in (0, 1):
        dm.trainer = SimpleNamespace(
            world_size=2, global_rank=rank, limit_val_batches=1, limit_test_batches=1.0
        )
        batches = list(dm.val_dataloader())
        assert sum(len(y) for _, y in batches) == 7, "an unpadded half of the 14 images"
        x, y = batches[0]
        images += [img.numpy().tobytes() for img in x]
        labels += y.tolist()
    assert len(set(images)) == 8, "an image in both processes' first batches"
    assert sorted(set(labels)) == list(range(7))


def test_fit_with_limited_evaluation_validates_every_class_and_says_partial(
    fer_folder: Path,
) -> None:
    rc = main(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--data.batch_size=8",
            "--data.num_workers=0",
            "--trainer.enable_progress_bar=false",
            "--trainer.max_steps=2",
            "--trainer.limit_val_batches=1",
            "--trainer.limit_test_batches=1",
        ]
    )
    assert rc == 0
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    with (run / "confusion_matrix_val.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    per_class = [sum(int(v) for v in row[1:]) for row in rows]
    assert sum(per_class) == 8 and all(n > 0 for n in per_class), per_class
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_images"] == 8 and summary["test_set_images"] == 14
    assert summary["partial_test"] is True and summary["classes_absent"] == []
    md = (run / "report.md").read_text()
    assert "partial evaluation: 8 of the 14 test images" in md
