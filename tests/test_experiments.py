"""Every experiment in experiments/: it parses, builds with the paper's parameter count where the
paper gives one, and runs one training and one validation step on a tiny generated dataset in
its own layout (FER2013 folders, RAF-DB basic, CK+48) and at its own input size."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
import torch
import yaml

from fer_lightning import experiments
from fer_lightning.data import registry
from fer_lightning.results.papers import PAPERS, RESULTS
from fer_lightning.results.tables import own_experiments
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


def test_every_experiment_of_the_protocols_exists() -> None:
    """The experiments table of protocols.md, braces expanded."""
    expected = {"baseline_fer2013", "googlenet_fer2013", "resnet50v2_fer2013", "vit_b16_fer2013"}
    expected |= {"cnn_ckplus", "cnn_fer2013_clean"}
    for arch in ("efficientnet_b0", "resnet18", "vgg16", "vgg19"):
        expected |= {f"{arch}_fer2013", f"{arch}_rafdb"}
    expected |= {f"{a}_ckplus" for a in ("vgg16", "inception_v3", "mobilenet_v2", "densenet121")}
    expected |= {
        f"{a}_fer2013_{r}"
        for a in ("vgg16", "resnet50")
        for r in ("scratch", "transfer", "finetune")
    }
    assert expected <= set(EXPERIMENTS), sorted(expected - set(EXPERIMENTS))


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_description_names_source_and_paper_result(name: str) -> None:
    """A paper's experiment names the paper and its result; one of ours says ``ours:`` (and
    gets its own results table)."""
    description = experiments.describe(EXPERIMENTS[name])
    if name not in RESULTS:  # no paper's number to reproduce
        assert description.startswith("ours: ") and name in own_experiments(), description
        return
    assert description.split()[0].rstrip(",") in PAPERS, description
    assert "paper:" in description and "%" in description, description


#: ``(paper: [val ]60.85 %[ test][, n=7,178][; 1,672,775 params])`` at the end of the line.
PAPER_LINE = re.compile(
    r"\(paper: (?P<val>val )?(?P<acc>[\d.]+) %(?: test)?(?:, n=(?P<n>[\d,]+))?"
    r"(?:[;,] (?P<params>[\d,]+) params)?\)$"
)


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_the_yaml_paper_line_agrees_with_papers_py(name: str) -> None:
    """The paper and accuracy an experiment's first line quotes, and its test-set size and
    parameter count where it quotes them, are results/papers.py's."""
    line = experiments.describe(EXPERIMENTS[name])
    found = PAPER_LINE.search(line)
    assert found, f"{name}: no '(paper: ...)' at the end of {line!r}"
    result = RESULTS[name]

    def number(text: str | None) -> int | None:
        return int(text.replace(",", "")) if text else None

    assert line.split()[0] == result.paper, line
    assert float(found["acc"]) == result.accuracy, line
    assert bool(found["val"]) == (PAPERS[result.paper].split == "validation"), line
    if found["n"]:
        assert number(found["n"]) == result.test_images, line
    if found["params"]:
        assert number(found["params"]) == result.parameters, line


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


@pytest.mark.parametrize(
    ("name", "threshold"),
    [(f"{a}_fer2013_{r}", 0.75 if r == "transfer" else 0.67) for a in ("vgg16", "resnet50")
     for r in ("scratch", "transfer", "finetune")],
)  # fmt: skip
def test_jahangir2024_stops_at_its_val_accuracy_threshold(name: str, threshold: float) -> None:
    """EarlyStopping's stopping_threshold on val/acc; the LR halves after 2 flat epochs."""
    cfg = config(name)
    assert cfg["early_stopping"]["stopping_threshold"] == threshold
    assert cfg["early_stopping"]["patience"] >= cfg["trainer"]["max_epochs"] == 100
    assert cfg["lr_scheduler"]["init_args"] == {"monitor": "val/loss", "factor": 0.5, "patience": 2}
    assert cfg["optimizer"]["init_args"]["lr"] == 0.0001
    assert cfg["data"]["init_args"]["batch_size"] == 32
