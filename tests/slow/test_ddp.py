"""Two-process DDP on CPU (gloo), with the settings users get (the progress bar on: it reads the
metrics on rank 0 only, which once made the processes wait in different collectives): the
metrics equal a single-process evaluation of the same weights on the same data, only rank 0
writes the run directory, and a collective that only some processes reach stops the run with
one sentence instead of hanging."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_fer2013_folder
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow  # two training processes

#: 21 validation (PublicTest) and 21 test images: odd, so a padding DistributedSampler would
#: count one image twice with 2 processes; 28 training images.
PER_CLASS = {"Training": 4, "PublicTest": 3, "PrivateTest": 3}
COMMON = [
    "--exp",
    "baseline_fer2013",
    "--data.batch_size=4",
    "--data.num_workers=0",
]

LAUNCHERS = {
    # Lightning's own launcher: `fer-lightning fit --trainer.devices=2 --trainer.strategy=ddp`
    # starts the second process itself (it runs the same command again).
    "lightning": [sys.executable, "-m", "fer_lightning"],
    # An external launcher, as on several nodes (the README's torchrun example).
    "torchrun": [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "fer_lightning",
    ],
}


def _fit(tmp_path: Path, launcher: str, *trainer: str) -> tuple[Path, list[str]]:
    """A small generated FER2013 under ``tmp_path`` and the ``fit`` command of a 2-process
    run on it with ``launcher`` and the given settings (the rest as a user gets them)."""
    root = tmp_path / "data"
    write_fer2013_folder(root, per_class=PER_CLASS)
    cmd = [*LAUNCHERS[launcher], "fit", *COMMON, f"--data.data_dir={root}"]
    return root, [*cmd, "--trainer.accelerator=cpu", "--trainer.strategy=ddp", *trainer]


def _read_confusion(path: Path) -> torch.Tensor:
    with path.open() as fh:
        rows = list(csv.reader(fh))[1:]
    return torch.tensor([[int(v) for v in row[1:]] for row in rows])


def _epoch0(run: Path, key: str) -> float:
    with (run / "metrics.csv").open() as fh:
        return next(float(r[key]) for r in csv.DictReader(fh) if r.get(key) and r["epoch"] == "0")


@pytest.mark.parametrize("launcher", ["lightning", "torchrun"])
def test_two_process_ddp_metrics_equal_single_process(
    launcher: str, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    root, cmd = _fit(tmp_path, launcher, "--trainer.max_epochs=1", "--trainer.devices=2")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Epoch 0/0" in proc.stdout + proc.stderr, "the progress bar was shown"
    _one_run_equal_to_a_single_process(root, tmp_path)


def _one_run_equal_to_a_single_process(root: Path, tmp_path: Path) -> None:
    """What every multi-process run must give: only rank 0 wrote (one run directory, one W&B
    run, one config, one writer of metrics.csv), every test image counted once, and the
    validation metrics of one process evaluating the same weights on the same data."""
    runs = sorted((Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir())
    assert len(runs) == 1, f"expected one run directory, got {runs}"
    run = runs[0]
    assert len(list((run / "wandb").glob("offline-run-*"))) == 1
    assert (run / "config.yaml").exists() and (run / "checkpoints" / "last.ckpt").exists()
    assert (run / "report.md").is_file() and (run / "summary.json").is_file()
    lines = (run / "metrics.csv").read_text().splitlines()
    assert lines.count(lines[0]) == 1, "one header: one writer"

    # Every test image counted once across the two processes (21, odd).
    assert _read_confusion(run / "confusion_matrix_test.csv").sum().item() == 21

    # The same weights evaluated by one process on the same data give the same numbers.
    # (last.ckpt is written right after validation, so it holds the validated weights.)
    single = run_cli(
        [
            "validate",
            *COMMON,
            f"--data.data_dir={root}",
            f"--run_dir={tmp_path / 'single'}",
            "--ckpt_path",
            str(run / "checkpoints" / "last.ckpt"),
        ]
    )
    assert single.trainer.world_size == 1
    ddp_confusion = _read_confusion(run / "confusion_matrix_val.csv")
    assert ddp_confusion.sum().item() == 21
    assert torch.equal(ddp_confusion, single.model.confusion["val"])
    assert _epoch0(run, "val/acc") == single.trainer.callback_metrics["val/acc"].item()
    assert _epoch0(run, "val/f1_macro") == pytest.approx(
        single.trainer.callback_metrics["val/f1_macro"].item(), abs=1e-6
    )
    # The loss is the mean over all images, as one process computes it.
    # (bf16 on other batch compositions: equal to a few parts in a thousand)
    assert _epoch0(run, "val/loss") == pytest.approx(
        single.trainer.callback_metrics["val/loss"].item(), rel=5e-3
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_simulated_give_one_run_equal_to_a_single_process(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two launches of the same command on this machine, as on two nodes (NODE_RANK 0 and 1,
    MASTER_ADDR 127.0.0.1, gloo), with default settings; the second starts a little later, so
    that the two name their run directories in different seconds."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    root, cmd = _fit(
        tmp_path,
        "lightning",
        "--trainer.max_epochs=1",
        "--trainer.devices=1",
        "--trainer.num_nodes=2",
    )
    port = str(_free_port())
    procs = []
    for node in (0, 1):
        env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", NODE_RANK=str(node))
        env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        procs.append(
            subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
        time.sleep(1.5)
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
    _one_run_equal_to_a_single_process(root, tmp_path)


def test_a_collective_only_one_process_reaches_stops_the_run_with_one_sentence(
    tmp_path: Path, cache_dir: Path
) -> None:
    """Rank 0 alone enters an all_reduce after the first validation (tests/helpers/planted.py):
    both processes give up after --ddp_timeout and the run exits non-zero with one sentence."""
    _, cmd = _fit(
        tmp_path,
        "lightning",
        "--trainer.max_epochs=2",
        "--trainer.devices=2",
        # long enough for the second process to start on a loaded 2-core machine
        "--ddp_timeout=45",
        "--trainer.callbacks+=tests.helpers.planted.RankZeroCollective",
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("fer-lightning: error")]
    assert errors and "waited more than 45 s for the others" in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
