"""Sweeps beyond one pass: a stopped sweep resumes where it stopped, a finished one is published
into results/ with its runs, and its table shows what its results.csv and runs hold."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import yaml

from fer_lightning import run_layout
from fer_lightning.cli import main
from fer_lightning.results.publish import publish
from fer_lightning.results.sweeps import load_sweeps
from fer_lightning.results.tables import render
from tests.helpers.commands import SMALL

REPO = Path(__file__).resolve().parent.parent
SWEEP_FILE = REPO / "experiments/sweeps/cnn_fer2013_optim.yaml"
COMMITTED = REPO / "results"


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / run_layout.RESULTS_CSV).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def swept(fer_folder: Path, tmp_path: Path) -> Path:
    """A finished two-run sweep (Adam and AMSGrad at lr 0.01) of one short epoch each."""
    sweep = yaml.safe_load(SWEEP_FILE.read_text())
    sweep["name"] = "tiny"
    sweep["parameters"] = {
        "optimizer": {"values": ["torch.optim.Adam", "fer_lightning.models.optim.AMSGrad"]},
        "optimizer.lr": {"values": [0.01]},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep))
    args = [f"--data.data_dir={fer_folder}", *SMALL, "--trainer.max_epochs=1"]
    assert main(["sweep", str(path), *args]) == 0
    (out,) = (Path(os.environ["FER_RUNS_DIR"]) / "sweeps" / "tiny").iterdir()
    return out


@pytest.mark.slow
def test_a_sweep_records_how_to_continue_it_and_tabulates_its_runs_files(swept: Path) -> None:
    record = json.loads((swept / run_layout.SWEEP_JSON).read_text())
    assert "--trainer.max_epochs=1" in record["extra"]
    assert (swept / run_layout.SWEEP_YAML).is_file()
    assert (swept / "command.txt").read_text().startswith("fer-lightning sweep ")
    assert sorted(Path(r["run_dir"]).name for r in _rows(swept)) == [
        "00-optimizer=Adam,lr=0.01",  # the learning rate as written, not cut at its point
        "01-optimizer=AMSGrad,lr=0.01",
    ]
    for row in _rows(swept):
        run = Path(row["run_dir"])
        summary = json.loads((run / "summary.json").read_text())
        assert float(row["test/acc"]) == pytest.approx(summary["test_accuracy"])
        assert int(row["epochs"]) == summary["epochs"] == 1
        assert float(row["fit_seconds"]) > 0


@pytest.mark.slow
def test_a_stopped_sweep_resumes_where_it_stopped(swept: Path) -> None:
    first, second = sorted(Path(r["run_dir"]) for r in _rows(swept))
    # As if stopped in the second run after a checkpoint, and a third combination had been
    # stopped before its first one: the table lists only the first run.
    rows = [r for r in _rows(swept) if Path(r["run_dir"]) == first]
    with (swept / run_layout.RESULTS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (second / "summary.json").unlink()
    first_commands = (first / "command.txt").read_text()
    assert main(["sweep", "--resume", str(swept)]) == 0
    resumed = _rows(swept)
    assert sorted(Path(r["run_dir"]) for r in resumed) == [first, second]
    assert (first / "command.txt").read_text() == first_commands  # kept, not run again
    commands = (second / "command.txt").read_text().splitlines()
    assert len(commands) == 2 and f"--ckpt_path={second}/checkpoints/last.ckpt" in commands[1]
    assert (second / "summary.json").is_file()

    # A run stopped before its first checkpoint starts again from nothing.
    rows = [r for r in resumed if Path(r["run_dir"]) == first]
    with (swept / run_layout.RESULTS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for path in (second / "checkpoints").iterdir():
        path.unlink()
    assert main(["sweep", "--resume", str(swept)]) == 0
    assert len((second / "command.txt").read_text().splitlines()) == 1
    assert len(_rows(swept)) == 2


def test_resume_refuses_what_it_cannot_continue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swept = tmp_path / "sweep"
    swept.mkdir()
    (swept / run_layout.SWEEP_YAML).write_text(SWEEP_FILE.read_text())
    (swept / run_layout.SWEEP_JSON).write_text('{"extra": []}')
    cases = [
        (["--resume", str(tmp_path / "nope")], "no such sweep directory"),
        (["--resume", str(tmp_path)], "not a sweep directory"),
        (["--resume", str(swept), "--trainer.max_epochs=3"], "give no others"),
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


@pytest.mark.slow
def test_a_published_sweep_keeps_its_runs_and_shows_as_a_grid(swept: Path, tmp_path: Path) -> None:
    dest = publish(swept, "tiny-1ep", tmp_path / "results")
    assert dest == tmp_path / "results" / "cnn_fer2013_clean" / "tiny-1ep"
    assert {"results.csv", "results.md", "sweep.yaml", "sweep.json"} <= {
        p.name for p in dest.iterdir()
    }
    for row in _rows(dest):
        run = dest / Path(row["run_dir"]).name
        names = {p.name for p in run.iterdir()}
        assert {"summary.json", "metrics.csv", "config.yaml", "predictions.npz"} <= names
        assert not any(n.endswith(".png") for n in names) and "checkpoints" not in names

    text = render(tmp_path / "results")
    assert "Sweep `tiny` of `cnn_fer2013_clean`" in text
    assert "2 of 2 runs with `" in text and "1 epochs each" in text
    assert "| optimizer \\ optimizer.lr | 0.01 |" in text
    best = _rows(dest)[0]
    grid_row = f"| {best['optimizer'].rsplit('.', 1)[-1]} | **"
    line = next(line for line in text.splitlines() if line.startswith(grid_row))
    assert f"{100 * float(best['test/acc']):.2f} %" in line
    assert "The paper's best: AMSGrad with lr 0.01 (65.00 % test)." in text


# -------------------------------------------------------------- the committed sweeps
@pytest.mark.parametrize(
    "sweep", load_sweeps(COMMITTED), ids=lambda s: str(s.path.relative_to(COMMITTED))
)
def test_committed_sweep_lines_equal_their_runs(sweep) -> None:  # noqa: ANN001
    from fer_lightning.commands.sweep import row_of

    assert len(sweep.rows) == len(sweep.sweep.combos)
    for row in sweep.rows:
        combo = {name: row[name] for name in sweep.sweep.parameters}
        again = row_of(sweep.sweep, combo, sweep.run(row))
        for key in (sweep.sweep.metric, "test/acc", "epochs", "fit_seconds"):
            assert float(row[key]) == pytest.approx(float(again[key])), (row["run_dir"], key)
