"""A run killed with SIGKILL in the middle of an epoch and resumed with ``--ckpt_path last``
ends bit-identical to a run that was never interrupted (CPU, ``deterministic: true``)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from fer_lightning.cli import run_cli

REPO = Path(__file__).resolve().parent.parent

#: A callback for the run to be killed: at (epoch 1, batch 2) it writes a marker file and
#: sleeps, so the test kills it at a known point after epoch 0's last.ckpt was written.
PAUSE_MODULE = textwrap.dedent(
    """
    import os, time
    import lightning as L

    class PauseForKill(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.current_epoch == 1 and batch_idx == 2:
                open(os.environ["FER_TEST_MARKER"], "w").close()
                time.sleep(600)
    """
)


def _args(data_root: Path, workers: int) -> list[str]:
    return [
        "fit",
        "--exp",
        "baseline_fer2013",  # dropout, shuffling and the qutub2023 augmentation: all random
        f"--data.data_dir={data_root}",
        "--data.batch_size=8",  # 42 training images: 6 batches per epoch
        f"--data.num_workers={workers}",
        "--trainer.max_epochs=2",
        "--trainer.deterministic=true",
        "--trainer.enable_progress_bar=false",
        "--trainer.log_every_n_steps=1",
        "--seed_everything=7",
    ]


def _run_dir(runs: Path) -> Path:
    (run,) = sorted((runs / "baseline_fer2013").iterdir())
    return run


#: Depend on wall-clock time, not on the computation.
TIMING = {"train/images_per_sec", "train/epoch_time_s"}


def _epoch_metrics(run: Path) -> dict[tuple[str, str], str]:
    """Every epoch-level value of metrics.csv (validation, test, training epoch means)."""
    values: dict[tuple[str, str], str] = {}
    with (run / "metrics.csv").open() as fh:
        for row in csv.DictReader(fh):
            for key, value in row.items():
                wanted = key.startswith(("val/", "test/")) or key.endswith("_epoch")
                if value and wanted and key not in TIMING:
                    values[(row["epoch"], key)] = value
    return values


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    ca, cb = (torch.load(p, weights_only=False, map_location="cpu") for p in (a, b))
    assert ca["epoch"] == cb["epoch"] and ca["global_step"] == cb["global_step"]
    assert ca["state_dict"].keys() == cb["state_dict"].keys()
    for key, tensor in ca["state_dict"].items():
        assert torch.equal(tensor, cb["state_dict"][key]), f"weights differ at {key}"
    for sa, sb in zip(ca["optimizer_states"], cb["optimizer_states"], strict=True):
        for idx, state in sa["state"].items():
            for name, tensor in state.items():
                assert torch.equal(tensor, sb["state"][idx][name]), f"optimizer {name} differs"


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(
    workers: int, fer_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Uninterrupted reference run.
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs_a"))
    run_cli(_args(fer_folder, workers))
    reference = _run_dir(tmp_path / "runs_a")

    # The same run in a subprocess, killed during epoch 1 ...
    runs_b = tmp_path / "runs_b"
    (tmp_path / "helper").mkdir()
    (tmp_path / "helper" / "pause_for_kill.py").write_text(PAUSE_MODULE)
    marker = tmp_path / "paused"
    env = dict(
        os.environ,
        FER_RUNS_DIR=str(runs_b),
        FER_TEST_MARKER=str(marker),
        PYTHONPATH=os.pathsep.join([str(tmp_path / "helper"), str(REPO)]),
    )
    cmd = [
        sys.executable,
        "-m",
        "fer_lightning.cli",
        *_args(fer_folder, workers),
        "--trainer.callbacks+=pause_for_kill.PauseForKill",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"run ended before the kill point:\n{proc.stdout.read()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("run did not reach epoch 1, batch 2 within 240 s")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    killed = _run_dir(runs_b)
    saved = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=False)
    assert (saved["epoch"], saved["global_step"]) == (0, 6), "killed after epoch 0's checkpoint"
    assert not list((killed).glob("confusion_matrix_test.csv")), "the killed run never tested"

    # ... and resumed: the latest run of the experiment, in its own directory.
    monkeypatch.setenv("FER_RUNS_DIR", str(runs_b))
    cli = run_cli([*_args(fer_folder, workers), "--ckpt_path", "last"])
    assert cli.run_dir == killed and _run_dir(runs_b) == killed

    _assert_same_checkpoint(
        reference / "checkpoints" / "last.ckpt", killed / "checkpoints" / "last.ckpt"
    )
    expected = _epoch_metrics(reference)
    assert {e for e, key in expected if key.startswith("val/")} == {"0", "1"}
    assert _epoch_metrics(killed) == expected
    for name in ("confusion_matrix_val.csv", "confusion_matrix_test.csv"):
        assert (killed / name).read_text() == (reference / name).read_text()
