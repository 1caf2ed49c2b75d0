"""Reports end to end: fit writes them, ``report`` regenerates them, ``compare`` tabulates runs.

Here: the tests that train for more than a few seconds; the others are in
``tests/cli/test_report_cli.py``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fer_lightning.evaluation import Predictions
from fer_lightning.evaluation.writer import REPORT_FILES
from fer_lightning.main import main
from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_fer2013_folder

SMALL = [
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=2",
    "--data.batch_size=8",
    "--data.num_workers=0",
    "--trainer.enable_progress_bar=false",
]


def fit(data_root: Path, *extra: str):  # noqa: ANN201 - the CLI object
    return run_cli(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={data_root}",
            "--trainer.max_epochs=2",
            "--data.tta=none",  # the experiment tests with ten-crop; this test compares both
            *SMALL,
            *extra,
        ]
    )


def read_report_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as fh:
        return {row["class"]: row for row in csv.DictReader(fh)}


@dataclass
class Fitted:
    """One fit of baseline_fer2013 (2 epochs) and what its run held right after it."""

    cli: Any  # the CLI object: trainer, model
    run: Path
    data_root: Path
    preds: Predictions
    rows: dict[str, dict[str, str]]  # report.csv
    sizes: dict[str, int]  # every report file's size, explanations.png's too
    report_md: str


@contextmanager
def isolated(tmp: Path) -> Iterator[None]:
    """Runs, cache and W&B isolated under ``tmp`` as ``tests/conftest.py``'s ``_isolated``
    does for a test: module-scoped fixtures run before that function-scoped one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_RUNS_DIR", str(tmp / "runs"))
        mp.setenv("FER_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("WANDB_MODE", "disabled")
        mp.setenv("WANDB_SILENT", "true")
        mp.delenv(INHERITED_RUN_DIR_ENV, raising=False)
        yield


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """The fit the tests below share (each checks one thing of it, or of what ``explain``,
    ``report`` and ``compare`` make of it): fitting once per test would train nine times."""
    tmp = tmp_path_factory.mktemp("report_cli")
    write_fer2013_folder(tmp / "data")
    with isolated(tmp):
        cli = fit(tmp / "data")
    run = cli.run_dir
    return Fitted(
        cli=cli,
        run=run,
        data_root=tmp / "data",
        preds=Predictions.load(run),
        rows=read_report_csv(run / "report.csv"),
        sizes={name: (run / name).stat().st_size for name in (*REPORT_FILES, "explanations.png")},
        report_md=(run / "report.md").read_text(),
    )


@pytest.fixture(scope="module")
def tta_out(fitted: Fitted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``report RUN --out OUT --data.tta=ten_crop``: the run's test report again, with ten-crop
    test-time augmentation, written elsewhere."""
    out = tmp_path_factory.mktemp("tta") / "tta"
    with isolated(out.parent):
        argv = ["report", str(fitted.run), "--out", str(out), *data_args(fitted)]
        assert main([*argv, "--data.tta=ten_crop"]) == 0
    return out


def data_args(fitted: Fitted) -> list[str]:
    return [
        f"--data.data_dir={fitted.data_root}",
        "--data.num_workers=0",
        "--trainer.enable_progress_bar=false",
    ]


@pytest.mark.slow
def test_fit_writes_every_report_file(fitted: Fitted) -> None:
    for name in REPORT_FILES:
        assert fitted.sizes[name] > 0, f"fit did not write {name}"


@pytest.mark.slow
def test_report_csv_is_computed_from_the_saved_predictions(fitted: Fitted) -> None:
    """report.csv against an independent computation from the saved predictions."""
    preds, rows = fitted.preds, fitted.rows
    assert preds.probs.shape == (14, 7)  # every PrivateTest image of the generated data, once
    np.testing.assert_allclose(preds.probs.sum(1), 1.0, rtol=1e-5)
    predicted = preds.probs.argmax(1)
    for c, name in enumerate(preds.class_names):
        tp = np.sum((predicted == c) & (preds.targets == c))
        n_pred, n_true = np.sum(predicted == c), np.sum(preds.targets == c)
        # 0/0 is undefined: "n/a" in report.csv
        precision = tp / n_pred if n_pred else np.nan
        recall = tp / n_true if n_true else np.nan
        errors = n_pred + n_true - 2 * tp
        f1 = 2 * tp / (2 * tp + errors) if 2 * tp + errors else np.nan
        for key, value in (("precision", precision), ("recall", recall), ("f1", f1)):
            cell = rows[name][key]
            got = np.nan if cell == "n/a" else float(cell)
            assert got == pytest.approx(value, abs=1e-6, nan_ok=True), (name, key)
        assert int(rows[name]["support"]) == n_true
    accuracy = accuracy_of(fitted)
    assert float(rows["accuracy"]["f1"]) == pytest.approx(accuracy, abs=1e-6)
    assert fitted.cli.trainer.callback_metrics["test/acc"].item() == pytest.approx(
        accuracy, abs=1e-6
    )


def accuracy_of(fitted: Fitted) -> float:
    return float(np.mean(fitted.preds.probs.argmax(1) == fitted.preds.targets))


@pytest.mark.slow
def test_summary_has_interval_calibration_checkpoint_choice_and_fingerprint(
    fitted: Fitted,
) -> None:
    """Issue 14: intervals, calibration, checkpoint choice, fingerprint, explanations."""
    facts = json.loads((fitted.run / "summary.json").read_text())
    low, high = facts["test_accuracy_ci95"]
    assert low <= accuracy_of(fitted) <= high and 0 <= facts["ece"] <= 1
    assert facts["checkpoint_selection"].startswith("best `val/acc` (max, best ")
    assert "on the validation split" in facts["checkpoint_selection"]
    assert len(facts["test_fingerprint"]) == 16 and facts["explanations"]
    assert fitted.sizes["explanations.png"] > 0
    assert "Checkpoint choice: best `val/acc`" in fitted.report_md


@pytest.mark.slow
def test_explain_rebuilds_the_explanations_from_config_and_predictions(
    fitted: Fitted, cache_dir: Path
) -> None:
    (fitted.run / "explanations.png").unlink()
    assert main(["explain", "--run", str(fitted.run)]) == 0
    assert (fitted.run / "explanations.png").stat().st_size > 0


@pytest.mark.slow
def test_the_confusion_matrix_csv_counts_the_predictions(fitted: Fitted) -> None:
    preds = fitted.preds
    with (fitted.run / "confusion_matrix_test.csv").open() as fh:
        logged = np.array([[int(v) for v in row[1:]] for row in list(csv.reader(fh))[1:]])
    expected = np.zeros((7, 7), int)
    np.add.at(expected, (preds.targets, preds.probs.argmax(1)), 1)
    np.testing.assert_array_equal(logged, expected)


@pytest.mark.slow
def test_summary_describes_the_run(fitted: Fitted) -> None:
    summary = json.loads((fitted.run / "summary.json").read_text())
    assert summary["experiment"] == "baseline_fer2013"
    assert summary["dataset"] == "FER2013" and summary["split"] == "official"
    assert summary["test_accuracy"] == pytest.approx(accuracy_of(fitted), abs=1e-6)
    assert summary["parameters"] == fitted.cli.model.num_parameters()
    assert summary["epochs"] == 2 and summary["seed"] == 0 and summary["tta"] == "none"
    assert summary["training_time_s"] > 0 and summary["images_per_sec"] > 0
    assert summary["best_epoch"] in (0, 1)
    assert summary["git_commit"] is None or len(summary["git_commit"]) == 40
    assert "baseline_fer2013: test report" in fitted.report_md


@pytest.mark.slow
def test_report_regenerates_the_same_numbers_and_keeps_config_and_metrics(
    fitted: Fitted, cache_dir: Path
) -> None:
    """`report RUN_DIR` regenerates the same numbers from the best checkpoint, leaving the
    run's own config.yaml and metrics.csv as they were."""
    run = fitted.run
    kept = {name: (run / name).read_bytes() for name in ("config.yaml", "metrics.csv")}
    (run / "roc.png").unlink()
    assert main(["report", str(run), *data_args(fitted)]) == 0
    assert (run / "roc.png").exists()
    again = Predictions.load(run)
    np.testing.assert_allclose(again.probs, fitted.preds.probs, atol=1e-6)
    np.testing.assert_array_equal(again.targets, fitted.preds.targets)
    assert read_report_csv(run / "report.csv") == fitted.rows
    assert {name: (run / name).read_bytes() for name in kept} == kept
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2


@pytest.mark.slow
def test_a_ten_crop_report_is_written_elsewhere_and_changes_the_probabilities(
    fitted: Fitted, tta_out: Path
) -> None:
    tta = json.loads((tta_out / "summary.json").read_text())
    assert tta["tta"] == "ten_crop" and tta["tta_crop_size"] == 40 and tta["test_images"] == 14
    assert "ten_crop (40 px crops)" in (tta_out / "report.md").read_text()
    tta_probs = Predictions.load(tta_out).probs
    assert not np.allclose(tta_probs, fitted.preds.probs), "ten-crop must change the probabilities"


@pytest.mark.slow
def test_compare_tabulates_the_run_and_its_ten_crop_report(
    fitted: Fitted, tta_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    capsys.readouterr()
    table_file = tmp_path / "comparison.md"
    assert main(["compare", str(fitted.run), str(tta_out), "--out", str(table_file)]) == 0
    printed = capsys.readouterr().out
    assert printed == table_file.read_text()
    lines = printed.splitlines()
    assert len(lines) == 6 and "| model | dataset | test accuracy |" in lines[0]
    # same test images (TTA changes the model's input, not the images): a McNemar p-value
    assert 0 < float(lines[3].split("|")[7]) <= 1 and "McNemar" in lines[5]
    accuracies = [float(line.split("|")[3].split("%")[0]) for line in lines[2:4]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert sum("(ten-crop)" in line for line in lines) == 1


@pytest.mark.slow
def test_wandb_gets_the_pictures_and_the_table(fer_folder: Path, tmp_path: Path) -> None:
    """Run as a user runs it, in a process of its own: W&B keeps process-wide state (its service
    and settings) that earlier tests of the suite could leave behind."""
    import os
    import subprocess
    import sys

    from tests.helpers.paths import REPO

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer_lightning", "fit", "--exp", "baseline_fer2013"]
    cmd += [f"--data.data_dir={fer_folder}", "--trainer.max_epochs=1", "--data.tta=none"]
    cmd += [*SMALL, "--wandb_log_model=true", f"--run_dir={run_dir}"]
    env = dict(os.environ, WANDB_MODE="offline", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    run_id = wandb_run.name.rsplit("-", 1)[-1]
    images = [p for p in (wandb_run / "files" / "media" / "images").rglob("*.png")]
    names = sorted(p.parent.name + "/" + p.name.rsplit("_", 2)[0] for p in images)
    expected = ["confusion_matrix", "curves", "explanations", "reliability", "roc"]
    assert names == [f"test/{name}" for name in expected], names
    # W&B's interactive confusion matrix and ROC (wandb.plot.*: a table behind each chart)
    tables = {p.name.rsplit("_", 2)[0] for p in (wandb_run / "files").rglob("*.table.json")}
    assert {"confusion_matrix_plot_table", "roc_plot_table"} <= tables, tables
    # An offline run keeps its history, summary and artifacts in its .wandb record file
    # (wandb-summary.json is written only when synced): the interval and ECE keys, and
    # --wandb_log_model's best checkpoint as a model artifact.
    (record,) = wandb_run.glob("*.wandb")
    data = record.read_bytes()
    for key in ("test/ece", "test/test_accuracy_ci95_low", "test/macro_f1_ci95_high"):
        assert key.encode() in data, key
    assert f"model-{run_id}".encode() in data
    (table,) = (wandb_run / "files" / "media" / "table" / "test").glob(
        "classification_report_*.table.json"
    )
    data = json.loads(table.read_text())
    assert data["columns"] == ["class", "precision", "recall", "f1", "support", "auc"]
    assert [row[0] for row in data["data"]][-3:] == ["accuracy", "macro avg", "weighted avg"]
