"""A run stopped in the middle of an epoch and resumed with ``--ckpt_path last`` ends
bit-identical to a run that was never interrupted (CPU, ``deterministic: true``): killed with
SIGKILL (it resumes from the end of the last epoch), or stopped with SIGTERM or Ctrl-C (SIGINT)
in the first epoch (it saves where it is, exits 143 / 130, and resumes from that batch)."""

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

from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_fer2013_folder
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow  # trains, kills and resumes whole runs

#: A callback for the run to be stopped: at (epoch, batch) = $FER_TEST_PAUSE_AT it writes a
#: marker file and waits (until Lightning has seen the SIGTERM, or for SIGKILL), so the test
#: signals it at a known point.
PAUSE_MODULE = textwrap.dedent(
    """
    import os, time
    import lightning as L

    class PauseForKill(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            at = tuple(int(v) for v in os.environ["FER_TEST_PAUSE_AT"].split(","))
            if (trainer.current_epoch, batch_idx) == at:
                open(os.environ["FER_TEST_MARKER"], "w").close()
                deadline = time.monotonic() + 600
                while not trainer.received_sigterm and time.monotonic() < deadline:
                    time.sleep(0.01)
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


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run, once for all tests (no workers: the order and augmentation do
    not depend on them), on the same generated data as ``fer_folder``."""
    base = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_RUNS_DIR", str(base / "runs"))
        patch.setenv("FER_CACHE_DIR", str(base / "cache"))
        patch.setenv("WANDB_MODE", "disabled")
        patch.delenv(INHERITED_RUN_DIR_ENV, raising=False)
        run_cli(_args(write_fer2013_folder(base / "data").parent, 0))
    return _run_dir(base / "runs")


def _stop_mid_run(
    fer_folder: Path,
    tmp_path: Path,
    workers: int,
    signum: int,
    at: tuple[int, int],
    group: bool = False,
) -> tuple[int, str, Path]:
    """Run in a subprocess, send ``signum`` (to its whole process group with ``group``) when
    it reaches (epoch, batch) ``at``; return its exit status, its output and its run
    directory."""
    runs = tmp_path / "runs_b"
    (tmp_path / "helper").mkdir()
    (tmp_path / "helper" / "pause_for_kill.py").write_text(PAUSE_MODULE)
    marker = tmp_path / "paused"
    env = dict(
        os.environ,
        FER_RUNS_DIR=str(runs),
        FER_TEST_MARKER=str(marker),
        FER_TEST_PAUSE_AT=f"{at[0]},{at[1]}",
        PYTHONPATH=os.pathsep.join([str(tmp_path / "helper"), str(REPO)]),
    )
    cmd = [
        sys.executable,
        "-m",
        "fer_lightning",
        *_args(fer_folder, workers),
        "--trainer.callbacks+=pause_for_kill.PauseForKill",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"run ended before the stop point:\n{proc.stdout.read()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"run did not reach epoch {at[0]}, batch {at[1]} within 240 s")
            time.sleep(0.05)
        if group:  # Ctrl-C in a terminal: the main process and its DataLoader workers
            os.killpg(proc.pid, signum)
        else:  # timeout, docker stop, kill: the main process only
            os.kill(proc.pid, signum)
        status = proc.wait(timeout=120)
        output = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    return status, output, _run_dir(runs)


def _resume_and_compare(
    fer_folder: Path, workers: int, stopped: Path, reference: Path, split_epoch: str = ""
) -> None:
    """Resume the latest run with ``--ckpt_path last``; it must end as ``reference`` did.

    Lightning keeps no running epoch means in checkpoints, so the training means of the epoch
    ``split_epoch`` that was stopped in its middle (``train/loss_epoch``) cover the batches
    after the resume only; everything else, validation, test and weights included, is equal.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_RUNS_DIR", str(stopped.parent.parent))
        cli = run_cli([*_args(fer_folder, workers), "--ckpt_path", "last"])
    assert cli.run_dir == stopped and _run_dir(stopped.parent.parent) == stopped

    _assert_same_checkpoint(
        reference / "checkpoints" / "last.ckpt", stopped / "checkpoints" / "last.ckpt"
    )

    def comparable(metrics: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
        return {
            (e, k): v for (e, k), v in metrics.items() if e != split_epoch or k.startswith("val/")
        }

    expected = _epoch_metrics(reference)
    assert {e for e, key in expected if key.startswith("val/")} == {"0", "1"}
    assert comparable(_epoch_metrics(stopped)) == comparable(expected)
    for name in ("confusion_matrix_val.csv", "confusion_matrix_test.csv"):
        assert (stopped / name).read_text() == (reference / name).read_text()


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(
    workers: int, fer_folder: Path, tmp_path: Path, reference: Path
) -> None:
    status, output, killed = _stop_mid_run(fer_folder, tmp_path, workers, signal.SIGKILL, (1, 2))
    assert status == -signal.SIGKILL
    saved = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=False)
    assert (saved["epoch"], saved["global_step"]) == (0, 6), "killed after epoch 0's checkpoint"
    assert not list((killed).glob("confusion_matrix_test.csv")), "the killed run never tested"
    _resume_and_compare(fer_folder, workers, killed, reference)


@pytest.mark.parametrize(
    ("signum", "workers", "status"),
    [(signal.SIGTERM, 0, 143), (signal.SIGINT, 2, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_in_first_epoch_saves_exits_nonzero_and_resumes_bit_identical(
    signum: int, workers: int, status: int, fer_folder: Path, tmp_path: Path, reference: Path
) -> None:
    # Stopped at batch 2 of epoch 0 (of 6): no end-of-epoch checkpoint exists yet.
    group = signum == signal.SIGINT  # Ctrl-C reaches the DataLoader workers too
    code, output, stopped = _stop_mid_run(fer_folder, tmp_path, workers, signum, (0, 2), group)
    assert code == status, output[-3000:]
    saved = torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=False)
    assert (saved["epoch"], saved["global_step"]) == (0, 3), "saved after the batch in progress"
    assert not list(stopped.glob("confusion_matrix_*.csv")), "the stopped run neither validated"
    (line,) = [line for line in output.splitlines() if "Resume:" in line]
    assert "make train EXP=baseline_fer2013 RESUME=1" in line
    assert str(stopped / "checkpoints" / "last.ckpt") in line
    _resume_and_compare(fer_folder, workers, stopped, reference, split_epoch="0")
