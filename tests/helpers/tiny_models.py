"""Tiny trained checkpoints for the recognize / export / loading tests: a couple of training
steps of a real experiment on generated data, through the ``fit`` command users run."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lightning.models import FERClassifier
from tests.helpers.commands import TINY_EPOCH, run_cli
from tests.helpers.fakedata import write_fer2013_folder


def fit_tiny(root: Path, experiment: str = "baseline_fer2013", *extra: str) -> Path:
    """The best checkpoint of one short epoch of ``experiment``; its run is ``root/run``."""
    write_fer2013_folder(root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_CACHE_DIR", str(root / "cache"))
        mp.setenv("WANDB_MODE", "disabled")
        cli = run_cli(
            [
                "fit",
                "--exp",
                experiment,
                f"--data.data_dir={root / 'data'}",
                f"--run_dir={root / 'run'}",
                *TINY_EPOCH,
                "--trainer.enable_model_summary=false",
                "--test_after_fit=false",
                *extra,
            ]
        )
    best = Path(cli.trainer.checkpoint_callback.best_model_path)
    assert best.is_file(), best
    return best


#: A two-block baseline_cnn: small enough to build by the dozen in a test.
SMALL_NET = {"widths": [8, 16], "convs_per_block": 1}


def small_classifier(
    names: tuple[str, ...], in_chans: int = 1, widths: list[int] | None = None
) -> FERClassifier:
    """An untrained :data:`SMALL_NET` classifier with an MLP head for the classes ``names``."""
    return FERClassifier(
        backbone="baseline_cnn",
        backbone_kwargs={**SMALL_NET, "widths": widths or SMALL_NET["widths"]},
        head="mlp",
        head_kwargs={"hidden": [12]},
        num_classes=len(names),
        class_names=list(names),
        in_chans=in_chans,
    )
