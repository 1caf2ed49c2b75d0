"""On the real FER2013 in ``$FER_DATA_DIR/fer2013`` (CI points it at ../shared/datasets)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data import FER7, FER2013DataModule
from fer_lightning.main import main
from tests.helpers.realdata import REAL_FER2013

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not (REAL_FER2013 / "train").is_dir() and not (REAL_FER2013 / "fer2013.csv").is_file(),
        reason="real FER2013 not under $FER_DATA_DIR/fer2013",
    ),
]

#: Per-class counts of the original csv (``../shared/datasets/README.md``), in FER7 order.
COUNTS = {
    "train": [3995, 436, 4097, 7215, 4830, 3171, 4965],  # Training
    "val": [467, 56, 496, 895, 653, 415, 607],  # PublicTest
    "test": [491, 55, 528, 879, 594, 416, 626],  # PrivateTest
}


@pytest.fixture(scope="module")
def official() -> FER2013DataModule:
    dm = FER2013DataModule(data_dir=str(REAL_FER2013.parent))
    dm.setup()
    return dm


def test_official_split_sizes_and_class_counts(official: FER2013DataModule) -> None:
    assert {k: len(v) for k, v in official.splits.items()} == {
        "train": 28709,
        "val": 3589,
        "test": 3589,
    }
    for split, counts in COUNTS.items():
        assert np.bincount(official.splits[split].labels, minlength=7).tolist() == counts, split
    assert official.splits["train"].images.shape == (28709, 48, 48)
    assert official.splits["train"].images.dtype == np.uint8


def test_full_test_protocol_has_7178_test_images() -> None:
    dm = FER2013DataModule(data_dir=str(REAL_FER2013.parent), split="full_test", val_fraction=0.2)
    dm.setup()
    assert len(dm.splits["test"]) == 7178
    assert len(dm.splits["val"]) + len(dm.splits["train"]) == 28709
    # Stratified: each class's share of val is 20 % of its Training count (rounded).
    val_counts = np.bincount(dm.splits["val"].labels, minlength=7)
    assert val_counts.tolist() == [round(0.2 * c) for c in COUNTS["train"]]


def test_class_weights_follow_training_frequencies(official: FER2013DataModule) -> None:
    weights = official.class_weights().numpy()
    assert weights.argmax() == FER7.index("disgust") and weights.argmin() == FER7.index("happy")
    np.testing.assert_allclose(weights, 28709 / (7 * np.array(COUNTS["train"])), rtol=1e-6)


@pytest.mark.slow
def test_short_seeded_baseline_run_beats_majority_class(tmp_path: Path) -> None:
    """A few hundred steps of the baseline must beat always predicting 'happy' on PublicTest."""
    majority = max(COUNTS["val"]) / sum(COUNTS["val"])  # 895 / 3589 = 0.249
    rc = main(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={REAL_FER2013.parent}",
            "--trainer.max_steps=300",
            "--trainer.val_check_interval=300",
            "--trainer.enable_progress_bar=false",
            "--data.augment=none",
            "--test_after_fit=false",
            "--trainer.enable_model_summary=false",
        ]
    )
    assert rc == 0
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    with (run / "metrics.csv").open() as fh:
        accs = [float(r["val/acc"]) for r in csv.DictReader(fh) if r.get("val/acc")]
    assert accs, "no validation was logged"
    assert accs[-1] > majority + 0.05, f"val acc {accs[-1]:.3f} vs majority rate {majority:.3f}"


def test_limit_val_batches_sees_every_class(tmp_path: Path) -> None:
    """PublicTest is stored class by class: 5 batches of 64 were 320 'angry' images. A limited
    validation is a seeded class-stratified subset: every class, in about its share."""
    rc = main(
        [
            "validate",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={REAL_FER2013.parent}",
            "--trainer.limit_val_batches=5",
            "--trainer.enable_progress_bar=false",
            "--data.num_workers=0",
            f"--run_dir={tmp_path / 'run'}",
        ]
    )
    assert rc == 0
    with (tmp_path / "run" / "confusion_matrix_val.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    assert [row[0] for row in rows] == list(FER7)
    seen = np.array([sum(int(v) for v in row[1:]) for row in rows])
    assert seen.sum() == 5 * 64
    expected = 320 * np.array(COUNTS["val"]) / sum(COUNTS["val"])
    assert (seen > 0).all(), f"classes missing from the limited validation: {seen.tolist()}"
    np.testing.assert_allclose(seen, expected, atol=1.5)
