"""Command lines the tests run: small, quick variants of what users type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: A few batches per epoch, no workers, no progress bar.
SMALL = [
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
    "--data.batch_size=8",
    "--data.num_workers=0",
    "--trainer.enable_progress_bar=false",
]


#: One epoch of two training batches and one validation batch of 8 images, no workers.
TINY_EPOCH = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--data.batch_size=8",
    "--data.num_workers=0",
]


#: One batch of training, validation and test (``fast_dev_run``) of the baseline, no workers.
FAST_DEV = [
    "fit",
    "--exp",
    "baseline_fer2013",
    "--trainer.fast_dev_run=true",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--trainer.enable_progress_bar=false",
]


def fit_args(data_root: Path, *extra: str) -> list[str]:
    """``fit`` of the baseline on a generated dataset, a few batches per epoch."""
    return ["fit", "--exp", "baseline_fer2013", f"--data.data_dir={data_root}", *SMALL, *extra]


def run_cli(args: list[str]) -> Any:
    """``fer-lightning fit|validate|test|predict ARGS`` in this process, ``--exp`` expanded as
    the router (:mod:`fer_lightning.main`) expands it; the LightningCLI object, to inspect."""
    from fer_lightning import cli, experiments

    expanded, name = experiments.expand(args)
    return cli.run_cli(expanded, command=args, experiment=name)
