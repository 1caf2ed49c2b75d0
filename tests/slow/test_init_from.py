"""``model.init_from``: a fit starts from a FER model's weights (a zoo name, a checkpoint or a
bundle); the head's class rows follow the classes' meaning, the input convolution follows the
channels, a misfit is one sentence, and the run's record names the source and its SHA-256.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_init_from.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import lightning as L
import pytest
import torch
import yaml

from fer_lightning import zoo
from fer_lightning.inference.bundled import load_any
from tests.helpers.commands import SMALL, run_cli
from tests.helpers.fakedata import write_fer2013_folder


class FirstState(L.Callback):
    """The classifier's state when training starts (after ``setup``, before any step)."""

    state: ClassVar[dict[str, torch.Tensor]] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        FirstState.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


@pytest.mark.slow
def test_a_fit_from_a_zoo_name_starts_from_its_weights_and_records_them(tmp_path: Path) -> None:
    """What a user runs: ``fit --model.init_from=<zoo name>``, here the shipped model on a
    generated FER2013 (its 7 classes keep every row): when training starts the classifier
    holds the zoo weights, and summary.json / report.md name them with their SHA-256."""
    data = write_fer2013_folder(tmp_path / "data").parent
    name = "ours_fer2013/official-60ep"
    extra = tmp_path / "callbacks.yaml"
    callback = {"class_path": f"{__name__}.FirstState"}
    extra.write_text(yaml.safe_dump({"trainer": {"callbacks": [callback]}}))
    run_cli(
        [
            "fit",
            "--exp=ours_fer2013",
            f"--config={extra}",
            f"--data.data_dir={data}",
            f"--run_dir={tmp_path / 'run'}",
            f"--model.init_from={name}",
            "--trainer.max_epochs=1",
            *SMALL,
        ]
    )
    model = zoo.get(name)
    source = load_any(model.weights).model.state_dict()
    for key, value in source.items():
        if key != "loss_weight":
            assert torch.equal(FirstState.state[key], value), key
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["init_from"]["model"] == name
    assert summary["init_from"]["sha256"] == model.record["sha256"]
    assert summary["init_from"]["classes_new"] == []
    assert f"initialised from `{name}`" in (tmp_path / "run" / "report.md").read_text()
