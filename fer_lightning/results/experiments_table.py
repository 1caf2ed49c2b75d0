"""The experiments, backbones and heads tables of ``docs/experiments.md``, generated from
``experiments/*.yaml``, the backbone and head registries and the papers' numbers.

Nothing here is typed by hand: each row reads the experiment's YAML, builds its model (on the
``meta`` device: shapes only, so an 86M-parameter ViT costs no memory and no initialisation) to
count its parameters, applies its training regime's freezing to count what trains at the start,
and takes the backbone's family, source and weights from :func:`backbone_info`.
``fer-lightning tables`` writes the block between the markers; a test fails when it is stale.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fer_lightning import experiments
from fer_lightning.build import build
from fer_lightning.data.distill import describe as describe_distill
from fer_lightning.data.transforms import trains_on_ten_crops
from fer_lightning.models import FERClassifier, backbone_info, head_info, list_backbones
from fer_lightning.models.describe import describe_averaging, describe_regime, describe_start
from fer_lightning.models.heads import list_heads
from fer_lightning.models.regimes import Transfer
from fer_lightning.results.markdown import markdown_row
from fer_lightning.results.papers import PAPERS, RESULTS

EXPERIMENTS_MD = Path("docs/experiments.md")
BEGIN, END = "<!-- experiments-table:begin -->", "<!-- experiments-table:end -->"

COLUMNS = (
    "experiment",
    "paper's result",
    "data",
    "input",
    "backbone (family: source)",
    "head",
    "initialisation",
    "regime",
    "epochs",
    "batch",
    "parameters (trainable at start)",
    "run",
)


@dataclass
class Experiment:
    """One experiment's settings as its YAML gives them, and its model built from them."""

    name: str
    path: Path
    config: dict[str, Any]
    model: FERClassifier
    #: The regime callback of ``trainer.callbacks`` (``None``: every layer trains).
    regime: Transfer | None

    @property
    def data(self) -> dict[str, Any]:
        return dict((self.config.get("data") or {}).get("init_args") or {})

    @property
    def trainer(self) -> dict[str, Any]:
        return dict(self.config.get("trainer") or {})


def load(name: str, path: Path) -> Experiment:
    """Experiment ``name``'s config (from ``path``, the file ``experiments.resolve(name)``
    gives) and its model, as the benchmarks build it, with the regime's freezing applied."""
    config = experiments.load_config(path)
    # Built here, not through the benchmarks' cached builder: a model made on the meta device
    # must never be handed to a later caller that wants real weights.
    with torch.device("meta"):
        model = build(name, ["--model.pretrained=false"]).model
    regime = None
    for callback in _callbacks(config):
        cls = experiments.import_class(callback["class_path"], path)
        if issubclass(cls, Transfer):
            regime = cls(**(callback.get("init_args") or {}))
            regime.freeze_before_training(model)
    return Experiment(name, path, config, model, regime)


def _callbacks(config: dict[str, Any]) -> list[dict[str, Any]]:
    callbacks = (config.get("trainer") or {}).get("callbacks") or []
    return [c for c in callbacks if isinstance(c, dict) and "class_path" in c]


# ------------------------------------------------------------------------------- cells
def paper_cell(name: str) -> str:
    ref = RESULTS.get(name)
    if ref is None:
        return "—"
    metric = PAPERS[ref.paper].split
    params = f", {ref.parameters:,} params" if ref.parameters else ""
    return f"{ref.paper}: {ref.accuracy:.2f} % {metric}{params}"


def data_cell(exp: Experiment) -> str:
    """The dataset (its datamodule's name) and split (the YAML's, else the class default)."""
    class_path = (exp.config.get("data") or {}).get("class_path", "")
    cls = experiments.import_class(class_path, exp.path)
    split = exp.data.get("split", _default(cls, "split"))
    dataset = cls.__name__.removesuffix("DataModule")
    return f"{dataset} `{split}`" if split else dataset


def _default(cls: type, parameter: str) -> Any:
    param = inspect.signature(cls).parameters.get(parameter)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def backbone_cell(name: str) -> str:
    info = backbone_info(name)
    return f"`{name}` ({info.family}: {info.source})"


def initialisation(exp: Experiment) -> str:
    """Where the weights start (the model here is built without weights: they do not change
    its shapes), with the backbone's own pretrained weights named."""
    return describe_start(exp.config, backbone_info(exp.model.hparams.backbone).weights)


def regime_cell(config: dict[str, Any]) -> str:
    """Which layers train (:func:`describe_regime`), Lightning's weight averaging, and the
    teachers of ``data.distill``: the regime column of the experiments and transfer tables."""
    data = (config.get("data") or {}).get("init_args") or {}
    parts = [
        describe_regime(config),
        describe_averaging(config),
        describe_distill(data.get("distill")),
    ]
    return "; ".join(p for p in parts if p)


def batch_cell(exp: Experiment) -> str:
    crops = " x10 crops" if trains_on_ten_crops(exp.data.get("augment", "none")) else ""
    return f"{exp.data.get('batch_size', '?')}{crops}"


def parameters_cell(model: FERClassifier) -> str:
    total, trainable = model.num_parameters(), model.num_parameters(trainable_only=True)
    return f"{total:,}" if trainable == total else f"{total:,} ({trainable:,})"


def experiment_row(exp: Experiment) -> str:
    hp = exp.model.hparams
    return markdown_row(
        [
            f"`{exp.name}`",
            paper_cell(exp.name),
            data_cell(exp),
            f"{hp.image_size}x{hp.image_size}x{hp.in_chans}",
            backbone_cell(hp.backbone),
            f"`{hp.head}`",
            initialisation(exp),
            regime_cell(exp.config),
            str(exp.trainer.get("max_epochs", "?")),
            batch_cell(exp),
            parameters_cell(exp.model),
            f"`make train EXP={exp.name}`",
        ]
    )


# ------------------------------------------------------------------------------ tables
def _used_by(exps: list[Experiment], key: str, name: str) -> str:
    users = [f"`{e.name}`" for e in exps if e.model.hparams[key] == name]
    return ", ".join(users) or "—"


def backbones_table(exps: list[Experiment]) -> list[str]:
    header = ["backbone", "family", "source", "native input", "pretrained weights", "what"]
    lines = [markdown_row([*header, "used by"]), markdown_row(["---"] * 7)]
    for name in list_backbones():
        info = backbone_info(name)
        cells = [f"`{name}`", info.family, info.source]
        cells += [f"{info.image_size}x{info.image_size}x{info.in_chans}", info.weights or "none"]
        lines.append(markdown_row([*cells, info.summary, _used_by(exps, "backbone", name)]))
    return lines


def heads_table(exps: list[Experiment]) -> list[str]:
    lines = [markdown_row(["head", "papers", "what", "used by"]), markdown_row(["---"] * 4)]
    for name in list_heads():
        info = head_info(name)
        cells = [f"`{name}`", info.source, info.summary, _used_by(exps, "head", name)]
        lines.append(markdown_row(cells))
    return lines


def render(known: dict[str, Path] | None = None) -> str:
    """The block between the markers: the experiments table, then the backbones and heads."""
    known = experiments.list_experiments() if known is None else known
    exps = [load(name, path) for name, path in known.items()]
    lines = [
        "Generated by `make tables` from `experiments/*.yaml` and the backbone and head "
        "registries; do not edit by hand. *Parameters*: `FERClassifier.num_parameters()` of the "
        "experiment's model (7 classes); in brackets, what trains at the start where the regime "
        "freezes the backbone. *Batch*: `x10 crops` means every image of the batch is ten "
        "samples.",
        "",
        markdown_row(list(COLUMNS)),
        markdown_row(["---"] * 8 + ["---:", "---", "---:", "---"]),
        *(experiment_row(e) for e in exps),
        "",
        "### Backbones",
        "",
        "`model.backbone` names one of these (`fer_lightning.models.list_backbones()`); "
        "`backbone_info(name)` holds the row. The input channels and size come from the data, "
        "so *native input* is what the network and its weights were made for, not a limit.",
        "",
        *backbones_table(exps),
        "",
        "### Heads",
        "",
        "`model.head` names one of these (`fer_lightning.models.list_heads()`).",
        "",
        *heads_table(exps),
    ]
    return "\n".join(lines) + "\n"
