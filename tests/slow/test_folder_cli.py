"""Your own folder and class subsets through the real ``fer-lightning fit`` in a subprocess: a
bad folder, csv or class list is a non-zero exit with exactly one line on stderr naming the
folder, file, row or key and what would be valid, and nothing is left in FER_RUNS_DIR (the
cases of :mod:`tests.cli.test_bad_input`, run by the same one-process driver).

Here: the tests that train for more than a few seconds; the others are in
``tests/cli/test_folder_cli.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_ckplus


@pytest.mark.slow
def test_a_class_subset_reaches_the_model_report_and_metrics(
    tmp_path: Path, cache_dir: Path
) -> None:
    """CK+ in its own datamodule, kept to three classes named in FER2013's spelling."""
    write_ckplus(tmp_path / "data", subjects=5, frames=2)
    cli = run_cli(
        [
            "fit",
            "--exp",
            "cnn_ckplus",
            f"--data.data_dir={tmp_path / 'data'}",
            "--data.classes=[happy,sad,angry]",
            "--data.num_workers=0",
            "--data.batch_size=8",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    names = ["happy", "sadness", "anger"]
    assert cli.model.class_names == names and cli.model.hparams.num_classes == 3
    assert cli.datamodule.splits["test"].labels.max() == 2
    header = (cli.run_dir / "confusion_matrix_test.csv").read_text().splitlines()[0]
    assert header == "true\\pred," + ",".join(names)
    report = (cli.run_dir / "report.md").read_text()
    assert all(f"| {n} |" in report for n in names) and "| contempt |" not in report
    assert "test/acc/sadness" in cli.trainer.callback_metrics
