"""Sweeps: the grid of the sweep file, one normal run per combination, a table read from the
runs' files; a stopped sweep resumes where it stopped; a finished one is published into
results/ with its runs and shown as a grid under its paper's table.

Here: the tests that train for more than a few seconds; the others are in
``tests/cli/test_sweep.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from fer_lightning.main import main
from fer_lightning.results.publish import publish
from fer_lightning.results.tables import render
from fer_lightning.run import layout, record
from tests.helpers.commands import SMALL
from tests.helpers.sweeps import SWEEP_FILE, keep_rows, read_rows


# ------------------------------------------------------------------------- a real sweep
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
def test_a_sweep_runs_each_combination_and_tabulates_its_runs_files(swept: Path) -> None:
    record = json.loads((swept / layout.SWEEP_JSON).read_text())
    assert "--trainer.max_epochs=1" in record["extra"]
    assert (swept / layout.SWEEP_YAML).is_file()
    assert (swept / "command.txt").read_text().startswith("fer-lightning sweep ")
    rows = read_rows(swept)
    assert sorted(Path(r["run_dir"]).name for r in rows) == [
        "00-optimizer=Adam,lr=0.01",
        "01-optimizer=AMSGrad,lr=0.01",
    ]
    accs = [float(r["val/acc"]) for r in rows]
    assert accs == sorted(accs, reverse=True)  # best first, as in results.md
    table = (swept / "results.md").read_text()
    assert "| optimizer | optimizer.lr | val/acc |" in table
    assert "| torch.optim.Adam | 0.01 | " in table  # the value as written, not 0.0100
    for row in rows:  # seconds to a tenth, metrics to 4 places
        assert f"| {float(row['val/acc']):.4f} | " in table
        assert f" | {float(row['fit_seconds']):.1f} | " in table
    for row in rows:
        run = Path(row["run_dir"])
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["optimizer"]["class_path"] == row["optimizer"]
        assert config["optimizer"]["init_args"]["lr"] == 0.01
        summary = json.loads((run / "summary.json").read_text())
        assert float(row["test/acc"]) == pytest.approx(summary["test_accuracy"])
        assert int(row["epochs"]) == summary["epochs"] == 1
        assert float(row["fit_seconds"]) > 0


@pytest.mark.slow
def test_a_stopped_sweep_resumes_each_run_where_it_stopped(
    swept: Path, capsys: pytest.CaptureFixture
) -> None:
    first, second = sorted(Path(r["run_dir"]) for r in read_rows(swept))
    first_row = [r for r in read_rows(swept) if Path(r["run_dir"]) == first]
    first_commands = (first / "command.txt").read_text()

    def resume(fresh: bool = False) -> list[str]:
        before = sorted(p.name for p in second.rglob("*"))
        capsys.readouterr()
        assert main(["sweep", "--resume", str(swept), "--dry-run"]) == 0
        planned = capsys.readouterr().out.splitlines()  # what is left to do, nothing touched
        if fresh:  # stopped before its first checkpoint: removed, then a new run
            assert (
                planned.pop(1) == f"# starts again (no checkpoint), removing what it left: {second}"
            )
        assert planned[0] == f"# kept: {first}" and len(planned) == 2
        assert sorted(p.name for p in second.rglob("*")) == before
        assert main(["sweep", "--resume", str(swept)]) == 0
        assert sorted(Path(r["run_dir"]) for r in read_rows(swept)) == [first, second]
        assert (first / "command.txt").read_text() == first_commands  # kept, not run again
        assert (second / "summary.json").is_file()
        commands = (second / "command.txt").read_text().splitlines()
        assert commands[-1] == planned[1]  # the dry run said what the resume did
        return commands

    # Stopped while training (no timing.json: fit never ended): fit resumes from last.ckpt.
    keep_rows(swept, first_row)
    (second / "summary.json").unlink()
    (second / "timing.json").unlink()
    commands = resume()
    assert commands[-1].startswith("fer-lightning fit ")
    assert f"--ckpt_path={second}/checkpoints/last.ckpt" in commands[-1]
    last_line = (swept / "command.txt").read_text().splitlines()[-1]
    assert last_line == f"fer-lightning sweep --resume {swept}"

    # Stopped while training by SIGTERM or Ctrl-C: that fit's time is recorded, as not finished
    # (tests/slow/test_resume_records.py); the fit resumes from last.ckpt all the same.
    keep_rows(swept, first_row)
    (second / "summary.json").unlink()
    (second / "timing.json").unlink()
    record.add_fit_time(second, 5.0, finished=False)
    commands = resume()
    assert commands[-1].startswith("fer-lightning fit ")
    assert f"--ckpt_path={second}/checkpoints/last.ckpt" in commands[-1]

    # Trained, stopped before its report: only its test runs, on the checkpoint it chose.
    keep_rows(swept, first_row)
    (second / "summary.json").unlink()
    commands = resume()
    assert commands[-1].startswith("fer-lightning test ") and "best-epoch000.ckpt" in commands[-1]

    # Stopped before its first checkpoint: it starts again from nothing.
    keep_rows(swept, first_row)
    for path in [second / "summary.json", second / "timing.json"]:
        path.unlink()
    for path in (second / "checkpoints").iterdir():
        path.unlink()
    assert len(resume(fresh=True)) == 1


@pytest.mark.slow
def test_a_diverged_run_is_a_result_and_the_sweep_goes_on(
    fer_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fer_lightning.callbacks import FiniteLoss, TrainingDiverged

    calls = []

    def diverge_once(self, trainer, pl_module, loss) -> None:  # noqa: ANN001
        calls.append(1)
        if len(calls) == 2:  # the first run's second step
            raise TrainingDiverged("training stopped: the loss became NaN (test)")

    monkeypatch.setattr(FiniteLoss, "on_before_backward", diverge_once)
    sweep = yaml.safe_load(SWEEP_FILE.read_text())
    sweep["name"] = "nan"
    sweep["parameters"] = {"optimizer.lr": {"values": [0.1, 0.01]}}
    path = tmp_path / "nan.yaml"
    path.write_text(yaml.safe_dump(sweep))
    args = [f"--data.data_dir={fer_folder}", *SMALL, "--trainer.max_epochs=1"]
    assert main(["sweep", str(path), *args]) == 0
    (out,) = (Path(os.environ["FER_RUNS_DIR"]) / "sweeps" / "nan").iterdir()
    rows = read_rows(out)
    assert [r["stopped"] for r in rows] == ["", "diverged"]  # diverged last, never chosen
    diverged = Path(rows[1]["run_dir"])
    assert "became NaN" in (diverged / layout.DIVERGED_TXT).read_text()
    assert main(["sweep", "--resume", str(out)]) == 0  # nothing left to run
    assert len((diverged / "command.txt").read_text().splitlines()) == 1
    dest = publish(out, "nan", tmp_path / "results")
    assert (dest / diverged.name / layout.DIVERGED_TXT).is_file()
    assert "| 0.1 | diverged (" in render(tmp_path / "results")


@pytest.mark.slow
def test_a_published_sweep_keeps_its_runs_and_shows_as_a_grid(swept: Path, tmp_path: Path) -> None:
    dest = publish(swept, "tiny-1ep", tmp_path / "results")
    assert dest == tmp_path / "results" / "cnn_fer2013_clean" / "tiny-1ep"
    assert {"results.csv", "results.md", "sweep.yaml", "sweep.json"} <= {
        p.name for p in dest.iterdir()
    }
    for row in read_rows(dest):
        run = dest / Path(row["run_dir"]).name
        names = {p.name for p in run.iterdir()}
        assert {"summary.json", "metrics.csv", "config.yaml", "predictions.npz"} <= names
        assert not any(n.endswith(".png") for n in names) and "checkpoints" not in names

    text = render(tmp_path / "results")
    assert "Sweep `tiny` of `cnn_fer2013_clean`" in text
    assert "2 of 2 runs with `" in text and "1 epoch each" in text
    assert "tested on part of the test set" in text  # SMALL limits the test batches
    assert "| optimizer \\ optimizer.lr | 0.01 |" in text
    best = read_rows(dest)[0]
    grid_row = f"| {best['optimizer'].rsplit('.', 1)[-1]} | **"
    line = next(line for line in text.splitlines() if line.startswith(grid_row))
    assert f"{100 * float(best['test/acc']):.2f} %" in line
    assert "The paper's best: AMSGrad with lr 0.01 (65.00 % test)." in text
