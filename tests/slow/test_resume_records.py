"""What a run records about its time when a scheduler stops it in the middle of an epoch and it
is resumed: the stopped epoch's time and speed cover both parts of it (not the machine's uptime,
nor only the part after the resume), and the stopped fit's wall time is in ``timing.json``."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from fer_lightning.run import record
from tests.helpers.commands import run_cli

BATCH, BATCHES = 8, 4


def _args(data_root: Path) -> list[str]:
    return [
        "fit",
        "--exp=baseline_fer2013",
        f"--data.data_dir={data_root}",
        "--trainer.max_epochs=2",
        f"--trainer.limit_train_batches={BATCHES}",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        f"--data.batch_size={BATCH}",
        "--data.num_workers=0",
        "--test_after_fit=false",
    ]


def _epoch_rows(run: Path) -> dict[int, tuple[float, float]]:
    """epoch -> (train/epoch_time_s, train/images_per_sec) from metrics.csv."""
    rows: dict[int, tuple[float, float]] = {}
    with (run / "metrics.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row.get("train/epoch_time_s"):
                seconds = float(row["train/epoch_time_s"])
                rows[int(row["epoch"])] = (seconds, float(row["train/images_per_sec"]))
    return rows


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_a_run_stopped_mid_epoch_and_resumed_times_the_whole_epoch_and_both_fits(
    fer_folder: Path,
) -> None:
    began = time.monotonic()
    stop = '--trainer.callbacks+={"class_path": "tests.helpers.signals.SigtermAt", '
    stop += '"init_args": {"epoch": 1, "batch": 1}}'
    with pytest.raises(SIGTERMException):
        run_cli([*_args(fer_folder), stop])  # stops after batch 1 of epoch 1
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    assert record.timed_fits(run) == 1  # the stopped fit's time is kept
    assert not record.fit_finished(run)  # what a resumed sweep asks: fit again, not test
    stopped_wall = record.fit_seconds(run)
    assert stopped_wall is not None and stopped_wall > 0
    # The checkpoint keeps the stopped epoch's images and seconds so far: its 2 batches.
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    so_far = last["callbacks"]["TrainingSpeed"]
    assert so_far["epoch_images"] == 2 * BATCH and so_far["epoch_seconds"] > 0

    run_cli([*_args(fer_folder), "--ckpt_path=last"])
    both_fits = time.monotonic() - began

    assert record.timed_fits(run) == 2 and record.untimed_fits(run) == 0
    assert record.fit_finished(run)
    assert record.fit_seconds(run) > stopped_wall
    epochs = _epoch_rows(run)
    assert set(epochs) == {0, 1}
    for seconds, rate in epochs.values():
        assert 0 < seconds < both_fits
        # every image of the epoch, the 2 batches before the stop and the 2 after it
        assert rate * seconds == pytest.approx(BATCH * BATCHES, rel=1e-3)
    assert epochs[1][0] > so_far["epoch_seconds"]  # the seconds before the stop count
