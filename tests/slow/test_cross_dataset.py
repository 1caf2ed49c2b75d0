"""Cross-dataset evaluation: a FER2013 checkpoint tested on CK+, classes mapped by name.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_cross_dataset.py``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER7, CKPlusDataModule
from fer_lightning.data.ckplus import CKPLUS7
from fer_lightning.evaluation.crossdataset import ClassMapping
from fer_lightning.main import main
from fer_lightning.models.classifier import FERClassifier
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_ckplus

QUIET = ["--data.num_workers=0", "--trainer.enable_progress_bar=false"]


@pytest.fixture
def fer_checkpoint(fer_folder: Path) -> Path:
    """A baseline CNN trained for a few batches on generated FER2013."""
    cli = run_cli(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--data.batch_size=8",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--test_after_fit=false",
            *QUIET,
        ]
    )
    return cli.run_dir / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_fer_checkpoint_tested_on_ckplus(fer_checkpoint: Path, tmp_path: Path) -> None:
    root = tmp_path / "other"
    write_ckplus(root, subjects=6, frames=2)
    run_dir = tmp_path / "cross"
    rc = main(
        [
            "test",
            "--exp",
            "baseline_fer2013",
            "--data=fer_lightning.data.CKPlusDataModule",
            f"--data.data_dir={root}",
            "--data.batch_size=8",
            f"--ckpt_path={fer_checkpoint}",
            f"--run_dir={run_dir}",
            *QUIET,
        ]
    )
    assert rc == 0
    record = json.loads((run_dir / "cross_dataset.json").read_text())
    assert (record["data_only"], record["model_only"]) == (["contempt"], ["neutral"])

    # What the model should have predicted: its own 7 outputs, restricted to the shared
    # classes, on the CK+ test fold without its contempt images.
    dm = CKPlusDataModule(data_dir=str(root))
    dm.setup()
    test = dm.splits["test"]
    mapping = ClassMapping.build(FER7, CKPLUS7)
    keep, labels = mapping.relabel(test.labels)
    assert record["splits"]["test"] == {"images": len(test), "kept": len(keep)}
    assert len(keep) < len(test)  # the fold has contempt images, and they were dropped
    model = FERClassifier.load_from_checkpoint(fer_checkpoint, map_location="cpu").eval()
    x = torch.stack([dm.dataset("test")[int(i)][0] for i in keep])
    with torch.no_grad():
        preds = model(x)[:, mapping.model_index].argmax(1).numpy()
    expected = np.zeros((6, 6), dtype=np.int64)
    np.add.at(expected, (labels, preds), 1)

    with (run_dir / "confusion_matrix_test.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0][1:] == mapping.shared  # model's names, neutral left out
    got = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(got, expected)

    # The weights were loaded by the command, not by Lightning: the report still names them.
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["checkpoint"] == str(fer_checkpoint)
    assert summary["best_epoch"] == torch.load(fer_checkpoint, weights_only=False)["epoch"]
    assert "not recorded" not in summary["checkpoint_selection"]
