"""Sweeps: the grid of the sweep file, one normal run per combination, a table read from the
runs' files; a stopped sweep resumes where it stopped; a finished one is published into
results/ with its runs and shown as a grid under its paper's table.

Here: the fast tests; the others are in ``tests/slow/test_sweep.py``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.main import main
from fer_lightning.results.publish import publish
from fer_lightning.results.sweeps import load_sweeps, sweep_table
from fer_lightning.run import layout
from fer_lightning.sweep_grid import label, load_sweep, run_args
from tests.helpers.commands import SMALL
from tests.helpers.paths import REPO
from tests.helpers.sweeps import SWEEP_FILE, keep_rows, read_rows

COMMITTED = REPO / "results"


# ------------------------------------------------------------------------- the sweep file
def test_the_optimizer_sweep_is_a_grid_of_optimizer_and_lr() -> None:
    sweep = load_sweep(SWEEP_FILE)
    assert sweep.metric == "val/acc" and sweep.maximize
    assert len(sweep.combos) == 5 * 4
    assert {"fer_lightning.models.optim.AMSGrad", "torch.optim.Adam"} <= set(
        sweep.parameters["optimizer"]
    )
    args = run_args(sweep, sweep.combos[0], ["--trainer.max_epochs=1"])
    assert args == [
        "fit",
        "--exp",
        "cnn_fer2013_clean",
        "--optimizer=torch.optim.Adam",
        "--optimizer.lr=0.1",
        "--trainer.max_epochs=1",
    ]
    # Labels name the class and keep numbers whole (an old version wrote 'lr=01' for 0.01).
    assert label(sweep.combos[1]) == "optimizer=Adam,lr=0.01"
    assert label({"optimizer.lr": 1e-4, "flag": True}) == "lr=0.0001,flag=true"


def test_sweep_file_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("method: grid\nmetric: {name: val/acc}\nparameters: {lr: {values: []}}\n")
    assert main(["sweep", str(path)]) == 2
    assert f"{path}: parameters.lr needs a non-empty 'values' list" in capsys.readouterr().err


# ------------------------------------------------------------------------- a real sweep


def _fake_sweep(tmp_path: Path, parameters: dict, goal: str = "maximize") -> Path:
    """A sweep directory written by hand: its file, two-line results.csv, each run's files."""
    out = tmp_path / "sweep"
    spec = {
        "name": "fake",
        "method": "grid",
        "metric": {"name": "val/loss" if goal == "minimize" else "val/acc", "goal": goal},
        "parameters": {k: {"values": v} for k, v in parameters.items()},
        "command": ["fer-lightning", "fit", "--exp", "cnn_fer2013_clean", "${args}"],
    }
    out.mkdir()
    (out / layout.SWEEP_YAML).write_text(yaml.safe_dump(spec, sort_keys=False))
    (out / layout.SWEEP_JSON).write_text('{"extra": ["--trainer.max_epochs=3"]}')
    sweep = load_sweep(out / layout.SWEEP_YAML)
    rows = []
    for i, combo in enumerate(sweep.combos):
        run = layout.sweep_run_dir(out, i, label(combo))
        run.mkdir()
        summary = {"test_accuracy": 0.5 + i / 100, "epochs": 3 + i, "precision": "32-true"}
        (run / "summary.json").write_text(json.dumps(summary))
        # predictions that give that accuracy: the tables check every record against them
        targets = np.zeros(100, dtype=np.int64)
        probs = np.tile([[0.2, 0.8]], (100, 1))
        probs[: 50 + i] = [0.8, 0.2]
        Predictions(probs, targets, ["a", "b"]).save(run)
        (run / "timing.json").write_text('{"fit_wall_s": 60}')
        metric = 0.4 + i / 10 if goal == "maximize" else 1.0 - i / 10
        rows.append({**combo, sweep.metric: metric, "test/acc": summary["test_accuracy"]})
        rows[-1]["run_dir"] = f"runs/sweeps/fake/x/{run.name}"
    rows.sort(key=lambda r: -r[sweep.metric] if sweep.maximize else r[sweep.metric])
    with (out / layout.RESULTS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_sweep_tables_grid_list_and_minimised_metric(tmp_path: Path) -> None:
    parent = tmp_path / "a" / "cnn_fer2013_clean"
    parent.mkdir(parents=True)
    _fake_sweep(parent, {"optimizer": ["torch.optim.Adam"], "flag": [None, True]})
    (grid,) = load_sweeps(tmp_path / "a")
    text = sweep_table(grid)
    assert "| optimizer \\ flag | None | true |" in text
    assert "| Adam | 40.00 % / 50.00 % | **50.00 %** / 51.00 % |" in text  # None is a value
    assert "2 of 2 runs with `--trainer.max_epochs=3`, 3-4 epochs each, on " in text
    assert ", 32-true: 2m 00s of training in all." in text
    assert "Chosen on val/acc: optimizer Adam, flag true; its test accuracy 51.00 %." in text
    assert "The paper's best: AMSGrad with lr 0.01 (65.00 % test)." in text
    assert "The runs trained 4 of the experiment's 30 epochs: the grid ranks early" in text
    assert "standard error" not in text  # no validation confusion matrix to count images

    # A run that predicted one class for every test image; the chosen run's validation size.
    runs = sorted(p for p in grid.path.iterdir() if p.is_dir())
    header = "true\\pred,a,b\n"
    (runs[0] / "confusion_matrix_test.csv").write_text(header + "a,0,30\nb,0,20\n")
    (runs[1] / "confusion_matrix_test.csv").write_text(header + "a,20,10\nb,5,15\n")
    (runs[1] / "confusion_matrix_val.csv").write_text(header + "a,40,10\nb,10,40\n")
    text = sweep_table(grid)
    assert "| Adam | 40.00 % / 50.00 % (one class) | **50.00 %** / 51.00 % |" in text
    assert "One standard error of val/acc on its 100 images: 5.00 points; no other run" in text
    (runs[1] / "confusion_matrix_val.csv").write_text(header + "a,400,100\nb,100,400\n")
    assert "1,000 images: 1.58 points; no other" in sweep_table(grid)
    (runs[1] / "confusion_matrix_val.csv").write_text(header + "a,4,1\nb,1,4\n")
    assert "10 images: 15.81 points; within it: optimizer Adam, flag None (40.00 %)." in (
        sweep_table(grid)
    )

    parent = tmp_path / "b" / "cnn_fer2013_clean"
    parent.mkdir(parents=True)
    _fake_sweep(parent, {"optimizer.lr": [0.1, 0.01, 0.001]}, goal="minimize")
    (listed,) = load_sweeps(tmp_path / "b")
    text = sweep_table(listed)
    assert "| optimizer.lr | val/loss / test |" in text
    assert "| 0.001 | **0.8000** / 52.00 % |" in text  # lowest loss first and in bold
    assert "Chosen on val/loss: optimizer.lr 0.001" in text


def test_publish_refuses_an_unfinished_or_unrecorded_sweep(tmp_path: Path) -> None:
    parent = tmp_path / "sweeps"
    parent.mkdir()
    out = _fake_sweep(parent, {"optimizer.lr": [0.1, 0.01]})
    rows = read_rows(out)
    keep_rows(out, rows[:1])
    with pytest.raises(FERUserError, match="1 of 2 runs finished; publish it once"):
        publish(out, "x", tmp_path / "results")
    keep_rows(out, rows)
    (out / layout.SWEEP_YAML).unlink()
    with pytest.raises(FERUserError, match="without sweep.yaml"):
        publish(out, "x", tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_resume_refuses_what_it_cannot_continue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swept = tmp_path / "sweep"
    swept.mkdir()
    (swept / layout.SWEEP_YAML).write_text(SWEEP_FILE.read_text())
    (swept / layout.SWEEP_JSON).write_text('{"extra": []}')
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / layout.SWEEP_YAML).write_text(SWEEP_FILE.read_text())
    (broken / layout.SWEEP_JSON).write_text("[1, 2")
    cases = [
        (["--resume", str(tmp_path / "nope")], "no such sweep directory"),
        (["--resume", str(tmp_path)], "not a sweep directory"),
        (["--resume", str(swept), "--trainer.max_epochs=3"], "give no others"),
        (["--resume", str(broken)], "expected JSON with an 'extra' list"),
        ([], "give a sweep file"),
    ]
    for args, message in cases:
        assert main(["sweep", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, (args, err)


def test_a_refused_sweep_leaves_nothing(
    fer_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [f"--data.data_dir={fer_folder}", *SMALL, "--data.split=everything"]
    assert main(["sweep", str(SWEEP_FILE), *args]) == 2
    assert "everything" in capsys.readouterr().err
    assert not (Path(os.environ["FER_RUNS_DIR"]) / "sweeps").exists()


# -------------------------------------------------------------- the committed sweeps
@pytest.mark.parametrize(
    "sweep", load_sweeps(COMMITTED), ids=lambda s: str(s.path.relative_to(COMMITTED))
)
def test_committed_sweep_lines_equal_their_runs(sweep) -> None:  # noqa: ANN001
    assert len(sweep.rows) == len(sweep.sweep.combos)
    pick = max if sweep.sweep.maximize else min
    for row in sweep.rows:
        run = sweep.run(row)
        if row["stopped"] == "diverged":
            assert (run / layout.DIVERGED_TXT).is_file()
            continue
        summary = json.loads((run / "summary.json").read_text())
        with (run / "metrics.csv").open(newline="") as fh:
            logged = [float(v) for r in csv.DictReader(fh) if (v := r[sweep.sweep.metric])]
        assert float(row[sweep.sweep.metric]) == pytest.approx(pick(logged))
        assert float(row["test/acc"]) == pytest.approx(summary["test_accuracy"])
        assert int(row["epochs"]) == summary["epochs"]
