"""The quick first run (``make quick``) and the start-up noise it no longer shows."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from lightning.pytorch.utilities.model_summary import ModelSummary
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from fer_lightning.models.classifier import FERClassifier
from fer_lightning.quiet import hide_lightning_tips
from tests.helpers.paths import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("quick", "fer-lightning fit --exp baseline_fer2013 --trainer.max_epochs=1"),
        ("gpu-check", "python -m fer_lightning.bench.gpu_check"),
    ],
)
def test_make_targets(target: str, expected: str) -> None:
    done = subprocess.run(
        ["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert expected in done.stdout


def test_lightning_tips_are_hidden(caplog: pytest.LogCaptureFixture) -> None:
    hide_lightning_tips()
    with caplog.at_level(logging.INFO):
        rank_zero_info("💡 Tip: For seamless cloud uploads and versioning, try litmodels")
        rank_zero_info("GPU available: False, used: False")
    assert "Tip" not in caplog.text and "GPU available" in caplog.text


def test_model_summary_counts_flops() -> None:
    model = FERClassifier(backbone="baseline_cnn", head="mlp", image_size=48, in_chans=1)
    summary = ModelSummary(model, max_depth=1)
    assert summary.total_flops > 10**8  # the baseline CNN: about 0.17 GFLOP a forward pass


def test_wandb_is_not_handed_the_deprecated_anonymous_setting(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import WandbLogger

    from fer_lightning.upstream import drop_wandb_anonymous

    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    assert "anonymous" in logger._wandb_init  # what makes wandb warn
    drop_wandb_anonymous(logger)
    assert "anonymous" not in logger._wandb_init and logger._wandb_init["dir"] == str(tmp_path)
