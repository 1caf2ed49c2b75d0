"""Faults: a NaN loss stops the run cleanly; RESUME=1 continues the latest run and its W&B id."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import lightning as L
import pytest
import torch

from fer_lightning.main import main
from tests.helpers.commands import run_cli
from tests.helpers.paths import REPO


def _fit(data_root: Path, *extra: str) -> list[str]:
    return [
        "fit",
        "--exp",
        "baseline_fer2013",
        f"--data.data_dir={data_root}",
        "--data.batch_size=8",  # 42 training images: 6 batches per epoch
        "--data.num_workers=0",
        "--trainer.enable_progress_bar=false",
        *extra,
    ]


def _runs() -> list[Path]:
    return sorted((Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir())


class NaNLogitsAt(L.Callback):
    """Makes the model's output NaN for one training batch (epoch 1, batch 2), as a diverging
    run would; the weights themselves stay finite."""

    at = (1, 2)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if (trainer.current_epoch, batch_idx) == self.at:
            handle = pl_module.head.register_forward_hook(
                lambda module, inputs, output: output * float("nan")
            )
            self._remove = handle.remove

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        if hasattr(self, "_remove"):
            self._remove()


class NaNLogitsAtFirstStep(NaNLogitsAt):
    at = (0, 0)


def test_nan_loss_stops_with_one_message_and_keeps_the_last_good_checkpoint(
    fer_folder: Path, capsys: pytest.CaptureFixture
) -> None:
    rc = main(
        _fit(fer_folder, "--trainer.max_epochs=3", f"--trainer.callbacks+={__name__}.NaNLogitsAt")
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    (run,) = _runs()
    last = run / "checkpoints" / "last.ckpt"
    assert err[-1].startswith("fer-lightning: error: training stopped: the loss became NaN")
    assert "at epoch 1, step 8 (batch 2 of the epoch)" in err[-1]
    assert f"the last good checkpoint is {last}" in err[-1]
    saved = torch.load(last, weights_only=False)
    assert (saved["epoch"], saved["global_step"]) == (0, 6), "last.ckpt is still epoch 0's"
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())
    assert not (run / "confusion_matrix_test.csv").exists(), "a stopped run is not tested"


def test_nan_loss_before_any_checkpoint_says_so(
    fer_folder: Path, capsys: pytest.CaptureFixture
) -> None:
    rc = main(
        _fit(
            fer_folder,
            "--trainer.max_epochs=1",
            f"--trainer.callbacks+={__name__}.NaNLogitsAtFirstStep",
        )
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2
    assert "the loss became NaN at epoch 0, step 0 (batch 0 of the epoch)" in err
    assert "no checkpoint was saved yet" in err


def test_resume_continues_the_latest_run_and_its_wandb_id(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    args = _fit(fer_folder, "--trainer.limit_train_batches=2", "--test_after_fit=false")
    first = run_cli([*args, "--trainer.max_epochs=1"])
    run_id = (first.run_dir / "wandb_id").read_text()
    resumed = run_cli([*args, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert _runs() == [first.run_dir] and resumed.run_dir == first.run_dir
    assert (first.run_dir / "wandb_id").read_text() == run_id
    offline = sorted((first.run_dir / "wandb").glob("offline-run-*"))
    # offline-run-<date>_<time>-<id>[-N]: W&B appends -N when both started in the same second
    assert len(offline) == 2 and all(p.name.split("-")[3] == run_id for p in offline), (
        "the resumed W&B run continues under the same id"
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_train_resume_1_means_ckpt_path_last() -> None:
    def command(*assignments: str) -> str:
        out = subprocess.run(
            ["make", "-n", "train", "EXP=baseline_fer2013", *assignments],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return next(line for line in out.splitlines() if "fer-lightning fit" in line)

    assert command("RESUME=1").split()[1:] == [
        "fit",
        "--exp",
        "baseline_fer2013",
        "--ckpt_path",
        "last",
    ]
    assert "--ckpt_path" not in command()
    assert "--ckpt_path" not in command("RESUME=")
