"""Every experiment in experiments/: it parses, builds with the paper's parameter count where the
paper gives one, and runs one training and one validation step on a tiny generated dataset in
its own layout (FER2013 folders, RAF-DB basic, CK+48) and at its own input size.

Here: the fast tests; the others are in ``tests/slow/test_experiments.py``."""

from __future__ import annotations

import re

import pytest
import yaml

from fer_lightning import experiments
from fer_lightning.results.papers import PAPERS, RESULTS
from fer_lightning.results.tables import own_experiments

EXPERIMENTS = experiments.list_experiments()


def config(name: str) -> dict:
    return yaml.safe_load(EXPERIMENTS[name].read_text())


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
