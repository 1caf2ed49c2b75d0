"""Weight averaging through Lightning's own callbacks (``EMAWeightAveraging`` in
``trainer.callbacks``, as ``ours_ckplus_finetune_v5`` uses it): the run validates the averaged
weights, its checkpoint holds them (Lightning keeps the last step's beside them), and every
later load reads the average: ``validate``, ``test``, ``recognize``, ``model.init_from``."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging

from fer_lightning.inference.checkpoint import load_model
from fer_lightning.models import init_from
from fer_lightning.models.describe import EMA_DEFAULT_DECAY, describe_averaging
from fer_lightning.results.experiments_table import regime_cell
from tests.helpers.commands import run_cli
from tests.helpers.tiny_models import fit_tiny

EMA = (
    "--trainer.callbacks=[{class_path: lightning.pytorch.callbacks.EMAWeightAveraging, "
    "init_args: {decay: 0.5}}]"
)


def _logged(run: Path, key: str) -> float:
    """The last value of ``key`` the run wrote to its metrics.csv."""
    with open(run / "metrics.csv", newline="") as f:
        return float([r for r in csv.DictReader(f) if r.get(key)][-1][key])


def test_an_averaged_run_validates_saves_and_loads_the_average(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    best = fit_tiny(tmp_path, "baseline_fer2013", EMA)
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    averaged, current = ckpt["state_dict"], ckpt["current_model_state"]
    floats = [k for k in averaged if averaged[k].is_floating_point()]
    assert any(not torch.equal(averaged[k], current[k]) for k in floats), (
        "two steps with decay 0.5: the average differs from the last step's weights"
    )

    loaded = load_model(best).model.state_dict()  # test, recognize, export
    assert all(torch.equal(loaded[k], averaged[k]) for k in averaged)
    source = init_from.open_source(str(best)).state  # model.init_from
    assert all(torch.equal(source[k], averaged[k]) for k in source)

    # Validating the checkpoint again repeats the loss the run logged for it, so the run's
    # validation (and its checkpoint choice) saw the average too. `validate` would apply the
    # experiment's ten-crop, which fit's validation does not: off here.
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli = run_cli(
        [
            "validate",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={tmp_path / 'data'}",
            f"--run_dir={tmp_path / 'validate'}",
            f"--ckpt_path={best}",
            "--data.tta=none",
            "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false",
            "--data.batch_size=8",
            "--data.num_workers=0",
        ]
    )
    again = float(cli.trainer.callback_metrics["val/loss"])
    assert again == pytest.approx(_logged(tmp_path / "run", "val/loss"), rel=1e-6)


def _with(*callbacks: dict) -> dict:
    return {"trainer": {"callbacks": list(callbacks)}}


def test_the_tables_name_the_averaging() -> None:
    ema = "lightning.pytorch.callbacks.EMAWeightAveraging"
    assert describe_averaging(_with()) is None
    assert describe_averaging(_with({"class_path": ema})) == "EMA of the weights (decay 0.999)"
    default = inspect.signature(EMAWeightAveraging.__init__).parameters["decay"].default
    assert default == EMA_DEFAULT_DECAY  # what a YAML without `decay` gets
    finetune = {
        "class_path": "fer_lightning.models.regimes.Finetune",
        "init_args": {"unfreeze_at_epoch": 0, "lr_ratio": 1.0},
    }
    config = _with(finetune, {"class_path": ema, "init_args": {"decay": 0.99}})
    assert regime_cell(config) == (
        "fine-tune: all layers from the start, backbone at 1 x lr; EMA of the weights (decay 0.99)"
    )


def test_the_test_after_fit_reports_the_saved_average(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fit's own test must describe the checkpoint users load: the average, not the last
    step's weights Lightning's callback keeps beside it for resuming."""
    plain = ["--data.tta=none", "--trainer.limit_test_batches=1"]
    best = fit_tiny(tmp_path, "baseline_fer2013", EMA, "--test_after_fit=true", *plain)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli = run_cli(
        [
            "test",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={tmp_path / 'data'}",
            f"--run_dir={tmp_path / 'test'}",
            f"--ckpt_path={best}",
            *plain,
            "--trainer.enable_progress_bar=false",
            "--data.batch_size=8",
            "--data.num_workers=0",
        ]
    )
    again = float(cli.trainer.callback_metrics["test/loss"])
    assert again == pytest.approx(_logged(tmp_path / "run", "test/loss"), rel=1e-6)
