"""The run directory layout (``fer_lightning.run.layout``): names, same-second runs, lookups.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_run_layout.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fer_lightning.run import layout


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every stamp is the same second."""
    monkeypatch.setattr(layout, "stamp", lambda: "20250101-120000")
    return "20250101-120000"


def _root() -> Path:
    return Path(os.environ["FER_RUNS_DIR"])


@pytest.mark.slow  # a fit of one step
def test_a_fit_whose_directory_another_fit_took_meanwhile_gets_the_next_name(
    frozen: str, fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two fits started in the same second: the second names the same directory, the first
    creates it before the second does. The second must not take it for its own (a resume)."""
    from tests.helpers.commands import run_cli

    named = layout.new_run_dir

    def named_then_taken(experiment: str, kind: str | None = None) -> Path:
        path = named(experiment, kind)
        path.mkdir(parents=True)  # the other fit, started in the same second, created it
        (path / layout.COMMAND_TXT).write_text("the other fit\n")
        return path

    monkeypatch.setattr(layout, "new_run_dir", named_then_taken)
    cli = run_cli(
        [
            "fit",
            "--exp=baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--data.batch_size=8",
            "--data.num_workers=0",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1",
            "--test_after_fit=false",
            "--trainer.enable_progress_bar=false",
        ]
    )
    other = _root() / "baseline_fer2013" / frozen
    assert cli.run_dir == other.with_name(f"{frozen}-1")
    assert os.listdir(other) == [layout.COMMAND_TXT], "the other fit's folder is untouched"
    assert (other / layout.COMMAND_TXT).read_text() == "the other fit\n"
    assert layout.last_checkpoint(cli.run_dir).is_file()
    assert Path(cli.trainer.log_dir) == cli.run_dir
