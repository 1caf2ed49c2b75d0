"""Every experiment in experiments/: it parses, builds with the paper's parameter count where the
paper gives one, and runs one training and one validation step on a tiny generated dataset in
its own layout (FER2013 folders, RAF-DB basic, CK+48) and at its own input size.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_experiments.py``."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import torch
import yaml

from fer_lightning import experiments
from fer_lightning.data import registry
from fer_lightning.results.papers import RESULTS
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_ckplus, write_dataset

EXPERIMENTS = experiments.list_experiments()

#: Parameter counts our models have where they differ from the paper's (papers.py has the
#: paper's) or where the paper gives none.
OUR_PARAMETERS = {
    "baseline_fer2013": 1_672_287,  # qutub2023 reports 1,672,775 (see BaselineCNN)
    "vgg13_ferplus_majority": 8_757_704,  # the paper's layers (it gives no count)
    "vgg13_ferplus_crossentropy": 8_757_704,
}
#: The exact parameter count of each experiment that has one: the paper's, else ours.
PARAMETERS = {
    n: r.parameters for n, r in RESULTS.items() if r.parameters is not None
} | OUR_PARAMETERS

#: The dataset of each datamodule class path; the data root below holds each in its layout.
DATASETS = {f"fer_lightning.data.{cls.__name__}": cls.name for cls in registry.datamodules()}

TINY = [
    "--model.pretrained=false",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=1",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
    "--data.batch_size=2",
    "--data.num_workers=0",
    "--test_after_fit=false",
]

DURATIONS: dict[str, float] = {}


def config(name: str) -> dict:
    return yaml.safe_load(EXPERIMENTS[name].read_text())


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data root holding a tiny copy of every registered dataset, in its own layout."""
    root = tmp_path_factory.mktemp("data")
    for name in registry.names():
        write_dataset(name, root)
    # enough subjects for the 10 subject folds of the CK+ transfer experiments
    write_ckplus(root, subjects=12)
    return root


@pytest.mark.slow  # every experiment, the 224 px ones included
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_trains_and_validates_one_step(
    name: str, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    data_class = config(name)["data"]["class_path"]
    assert data_class in DATASETS, f"{name}: {data_class} is no registered dataset"
    start = time.perf_counter()
    cli = run_cli(["fit", "--exp", name, f"--data.data_dir={data_root}", *TINY])
    DURATIONS[name] = time.perf_counter() - start

    model, trainer = cli.model, cli.trainer
    if name in PARAMETERS:
        assert model.num_parameters() == PARAMETERS[name]
    assert trainer.global_step == 1  # one optimizer step
    assert trainer.fit_loop.epoch_loop.val_loop.batch_progress.total.completed == 1
    assert math.isfinite(float(trainer.callback_metrics["train/loss_epoch"]))
    assert math.isfinite(float(trainer.callback_metrics["val/loss"]))
    size = cli.datamodule.image_size
    assert model.hparams.image_size == size == config(name)["data"]["init_args"]["image_size"]
    # The optimizer holds exactly the trainable parameters (frozen ones are dropped).
    (optimizer,) = trainer.optimizers
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in model.parameters() if p.requires_grad}
    with torch.no_grad():
        x = torch.zeros(2, cli.datamodule.channels, size, size)
        assert model.eval()(x).shape == (2, cli.datamodule.num_classes)
