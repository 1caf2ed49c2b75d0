"""Whatever ends training (max_steps in the middle of an epoch, max_time, a validation schedule
that does not divide the run), the last step is validated, checkpointed (best and last) and
tested; options that leave nothing to validate or train are refused in one sentence."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch

from fer_lightning.main import main

pytestmark = pytest.mark.slow  # each case trains a stopped run to its end

#: The generated FER2013 has 42 training images: 6 batches of 8 per epoch.
BASE = [
    "fit",
    "--exp",
    "baseline_fer2013",
    "--data.batch_size=8",
    "--data.num_workers=0",
    "--trainer.enable_progress_bar=false",
]


def _run() -> Path:
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    return run


def _validated_steps(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as fh:
        return [int(r["step"]) for r in csv.DictReader(fh) if r.get("val/acc")]


@pytest.mark.parametrize(
    ("options", "steps", "validated_at"),
    [
        # max_steps in the middle of the first epoch (the issue's --trainer.max_steps=30).
        (["--trainer.max_steps=2"], 2, [2]),
        # ... in the middle of the second epoch.
        (["--trainer.max_steps=8"], 8, [6, 8]),
        # Validation every 4 steps, stopped at 6: steps 5-6 are validated too.
        (
            ["--trainer.max_steps=6", "--trainer.val_check_interval=4"]
            + ["--trainer.check_val_every_n_epoch=null"],
            6,
            [4, 6],
        ),
        # Every third epoch, two epochs: the plateau scheduler and the last epoch.
        (["--trainer.max_epochs=2", "--trainer.check_val_every_n_epoch=3"], 12, [12]),
    ],
    ids=["max_steps_mid_epoch", "max_steps_second_epoch", "val_check_interval", "every_3rd_epoch"],
)
def test_stopped_run_validates_checkpoints_and_reports(
    fer_folder: Path, options: list[str], steps: int, validated_at: list[int]
) -> None:
    assert main([*BASE, f"--data.data_dir={fer_folder}", *options]) == 0
    run = _run()
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names[-1] == "last.ckpt" and names[0].startswith("best-epoch"), names
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == steps, "last.ckpt must hold the final weights"
    # metrics.csv logs validation at the step counter before its 0-based increment
    assert [s + 1 for s in _validated_steps(run)] == validated_at
    assert (run / "report.md").is_file() and (run / "summary.json").is_file()


def test_max_time_validates_the_last_step(fer_folder: Path) -> None:
    options = ["--trainer.max_time=00:00:00:01", "--trainer.max_epochs=1000"]
    assert main([*BASE, f"--data.data_dir={fer_folder}", *options]) == 0
    run = _run()
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert _validated_steps(run)[-1] + 1 == last["global_step"]
    assert (run / "report.md").is_file()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--trainer.max_epochs=0", "--trainer.max_epochs=0 trains nothing"),
        ("--trainer.max_steps=0", "--trainer.max_steps=0 trains nothing"),
        ("--trainer.limit_val_batches=0", "--trainer.limit_val_batches=0 turns validation off"),
    ],
)
def test_nothing_to_train_or_validate_is_one_sentence(
    fer_folder: Path, option: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main([*BASE, f"--data.data_dir={fer_folder}", option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"fer-lightning: error: {message}")
    assert "Traceback" not in "\n".join(err)
