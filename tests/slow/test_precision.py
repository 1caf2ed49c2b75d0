"""Automatic precision: bf16 where the hardware computes in it, fp32 elsewhere, the choice
logged and recorded; every experiment's model trains in bf16 autocast on a CPU.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_precision.py``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from fer_lightning import precision
from fer_lightning.bench.common import build_model
from fer_lightning.experiments import list_experiments, load_config, resolve
from tests.helpers.commands import run_cli


def experiment_config(name: str) -> dict:
    return load_config(resolve(name))


SMALL = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.limit_test_batches=2",
    "--data.batch_size=8",
    "--data.num_workers=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--wandb_mode=disabled",
]


def _cpu(monkeypatch: pytest.MonkeyPatch, native_bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native_bf16)


def _summary(cli: object) -> dict:
    return json.loads((Path(cli.run_dir) / "summary.json").read_text())  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("native", [True, False])
def test_fit_uses_logs_and_records_the_automatic_precision(
    fer_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native: bool,
) -> None:
    _cpu(monkeypatch, native)
    expected = "bf16-mixed" if native else "32-true"
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        cli = run_cli(["fit", "--exp", "baseline_fer2013", f"--data.data_dir={fer_folder}", *SMALL])
    assert cli.trainer.precision == expected
    assert f"precision: {expected} (automatic: CPU with" in caplog.text
    summary = _summary(cli)
    assert summary["precision"] == expected
    assert 0.0 <= summary["test_accuracy"] <= 1.0  # the metrics and report ran on bf16 logits
    assert f"precision {expected}" in (Path(cli.run_dir) / "report.md").read_text()
    # channels-last is automatic on a CPU
    convs = [m.weight for m in cli.model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)


@pytest.mark.slow
def test_precision_and_channels_last_can_be_overridden(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _cpu(monkeypatch, True)
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        cli = run_cli(
            [
                "fit",
                "--exp",
                "baseline_fer2013",
                f"--data.data_dir={fer_folder}",
                *SMALL,
                "--trainer.precision=32-true",
                "--model.channels_last=false",
            ]
        )
    assert cli.trainer.precision == "32-true"
    assert "precision: 32-true (--trainer.precision)" in caplog.text
    assert _summary(cli)["precision"] == "32-true"
    convs = [m.weight for m in cli.model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert not any(
        w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs
    )


def _one_experiment_per_model() -> list[str]:
    """One experiment for each (backbone, head) the experiments use."""
    seen: dict[tuple[str, str], str] = {}
    for name in list_experiments():
        model = experiment_config(name).get("model") or {}
        seen.setdefault((model.get("backbone", ""), model.get("head", "")), name)
    return sorted(seen.values())


@pytest.mark.slow  # every model of the experiments, the 224 px ones included
@pytest.mark.parametrize("experiment", _one_experiment_per_model())
def test_every_experiment_model_trains_in_bf16_on_cpu(experiment: str) -> None:
    """A forward and backward pass under CPU bf16 autocast (what ``bf16-mixed`` does): finite
    loss, finite gradients for every trainable parameter. Inputs of at most 80 px keep the
    224 px models quick (the layers are the same); InceptionV3's auxiliary classifier needs
    its 299 px."""
    torch.manual_seed(0)
    size = int(experiment_config(experiment)["data"]["init_args"].get("image_size", 48))
    if "inception" not in str(experiment_config(experiment)["model"].get("backbone")):
        size = min(size, 80)
    model = build_model(experiment, image_size=size).train()
    channels = model.hparams.in_chans
    x, y = torch.randn(2, channels, size, size), torch.tensor([0, 3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, aux = model._logits(x)
        loss = F.cross_entropy(logits, y) + sum(F.cross_entropy(a, y) for a in aux)
    assert logits.dtype == torch.bfloat16  # autocast really ran the model in bf16
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
