"""Checkpoints are written atomically: a full disk leaves the earlier checkpoint whole, no file
under a checkpoint's name half-written, and one sentence naming the folder and the space.

Here: the fast tests; the others are in ``tests/slow/test_checkpoint_io.py``."""

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
