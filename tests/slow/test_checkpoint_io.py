"""Checkpoints are written atomically: a full disk leaves the earlier checkpoint whole, no file
under a checkpoint's name half-written, and one sentence naming the folder and the space.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_checkpoint_io.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lightning.checkpoint_io import AtomicCheckpointIO


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
