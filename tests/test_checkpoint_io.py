"""Checkpoints are written atomically: a full disk leaves the earlier checkpoint whole, no file
under a checkpoint's name half-written, and one sentence naming the folder and the space."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

from fer_lightning import checkpoint_io
from fer_lightning.checkpoint_io import AtomicCheckpointIO
from fer_lightning.errors import FERUserError


def test_a_full_disk_keeps_the_earlier_checkpoint_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_io.os, "fsync", full)
    with pytest.raises(FERUserError, match="no space left on the device of .*checkpoints") as err:
        io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, path)
    assert "a checkpoint needs about" in str(err.value)
    assert path.read_bytes() == before, "the earlier last.ckpt is intact"
    assert os.listdir(path.parent) == ["last.ckpt"], "no temporary file left behind"
    assert torch.load(path, weights_only=True)["step"] == 1


def test_other_write_errors_are_not_taken_for_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(checkpoint_io.os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output error"):
        AtomicCheckpointIO().save_checkpoint({"step": 1}, tmp_path / "x.ckpt")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow  # a fit of one step
def test_fit_writes_its_checkpoints_atomically(fer_folder: Path) -> None:
    from tests.helpers.commands import run_cli

    cli = run_cli(
        [
            "fit",
            "--exp=baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--data.num_workers=0",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1",
            "--test_after_fit=false",
        ]
    )
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    names = sorted(p.name for p in (cli.run_dir / "checkpoints").iterdir())
    assert names == ["best-epoch000.ckpt", "last.ckpt"]
