"""Choosing an ensemble on the validation split (``fer-lightning ensemble --choose-on-validation``).

Each candidate (a zoo model or a run directory with a checkpoint) is run over the validation
split of its own data (its result's ``config.yaml``, built as ``fit`` builds it) with the
test-time augmentation of its result (a ten-crop result: ten crops), and its softmax outputs
are cached in ``<cache>/ensemble_validation/`` under the weights' SHA-256 and the data and TTA
settings (:func:`validation_predictions`). The candidates must share the validation images and
labels (in any order, :func:`same_validation_set`).

The ensemble is chosen by greedy forward selection with replacement (Caruana et al., "Ensemble
selection from libraries of models", ICML 2004; :func:`greedy_selection`, :data:`RULE`): only
validation probabilities go in, so the test split plays no part in the choice. A candidate
added twice weighs twice in the mean; with few candidates this also visits every single model
and every pair the first steps can reach, and it scales to a growing zoo where an exhaustive
search over weighted subsets would not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.errors import FERUserError

#: Bump when the cached validation outputs would be computed differently.
CACHE_VERSION = 1
CACHE_FOLDER = "ensemble_validation"
DEFAULT_STEPS = 10
#: How the ensemble is chosen, as summary.json and the docs say it.
RULE = (
    "greedy forward selection with replacement (Caruana et al. 2004) on the validation split: "
    "starting from no model, each step adds the candidate (one already in the ensemble "
    "included) whose addition gives the highest validation accuracy of the mean softmax "
    "(ties: fewer distinct members, then lower validation NLL, then the order the candidates "
    "were given); of the steps, the one with the highest validation accuracy is kept (ties: "
    "fewer models averaged, then lower validation NLL); a candidate added k times weighs k in "
    "the mean. The test split is not read for the choice."
)
#: Loader-only data settings: they do not change a validation image or its label.
LOADER_SETTINGS = ("batch_size", "num_workers", "pin_memory", "weighted_sampler", "augment")


# ------------------------------------------------------------------------------ selection
def accuracy_nll(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy of the argmax and mean negative log-likelihood of ``labels`` under ``probs``."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    right = probs.argmax(axis=1) == labels
    p_true = np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)
    return float(right.mean()), float(-np.log(p_true).mean())


@dataclass(frozen=True)
class Step:
    """Step ``step`` (1-based) added candidate ``added``; ``counts[i]``: times candidate i is
    in the ensemble after it; ``tried``: (accuracy, NLL) with each candidate added instead."""

    step: int
    added: int
    counts: tuple[int, ...]
    accuracy: float
    nll: float
    tried: tuple[tuple[float, float], ...]

    @property
    def distinct(self) -> int:
        return sum(1 for c in self.counts if c)


@dataclass(frozen=True)
class Selection:
    singles: tuple[tuple[float, float], ...]  # each candidate alone: (accuracy, NLL)
    steps: tuple[Step, ...]
    chosen: int  # index into steps

    @property
    def best(self) -> Step:
        return self.steps[self.chosen]

    @property
    def members(self) -> list[int]:
        """The chosen candidates (indices), most weight first, then in the order given."""
        counts = self.best.counts
        return sorted((i for i, c in enumerate(counts) if c), key=lambda i: (-counts[i], i))


def greedy_selection(
    val_probs: Sequence[np.ndarray], labels: np.ndarray, steps: int = DEFAULT_STEPS
) -> Selection:
    """Greedy forward selection with replacement over the candidates' validation
    probabilities (each ``(N, K)``, in the order of ``labels``); :data:`RULE`."""
    if not val_probs:
        raise ValueError("no candidates")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    probs = [np.asarray(p, dtype=np.float64) for p in val_probs]
    labels = np.asarray(labels, dtype=np.int64)
    for p in probs:
        if p.shape != probs[0].shape or len(p) != len(labels):
            raise ValueError(f"probabilities of shape {p.shape} for {len(labels)} labels")
    singles = tuple(accuracy_nll(p, labels) for p in probs)
    total = np.zeros_like(probs[0])
    counts = [0] * len(probs)
    done: list[Step] = []
    for step in range(1, steps + 1):
        tried = tuple(accuracy_nll((total + p) / step, labels) for p in probs)

        def key(i: int, tried: tuple[tuple[float, float], ...] = tried) -> tuple:
            distinct = sum(1 for j, c in enumerate(counts) if c or j == i)
            return (-tried[i][0], distinct, tried[i][1], i)

        added = min(range(len(probs)), key=key)
        counts[added] += 1
        total += probs[added]
        done.append(Step(step, added, tuple(counts), *tried[added], tried))
    chosen = min(range(len(done)), key=lambda k: (-done[k].accuracy, done[k].step, done[k].nll))
    return Selection(singles, tuple(done), chosen)


def weights_text(counts: Sequence[int], names: Sequence[str]) -> str:
    """``a x2 + b`` for the counts of candidates ``names``."""
    parts = [f"{n}{f' x{c}' if c > 1 else ''}" for n, c in zip(names, counts, strict=True) if c]
    return " + ".join(parts)


def selection_markdown(selection: Selection, names: Sequence[str], images: int) -> str:
    """The validation tables: each candidate alone, then each step (the kept one in bold)."""
    lines = [
        f"Validation split ({images:,} images), each candidate alone:",
        "",
        "| candidate | validation accuracy | validation NLL |",
        "|---|---:|---:|",
    ]
    for name, (acc, nll) in zip(names, selection.singles, strict=True):
        lines.append(f"| `{name}` | {100 * acc:.2f} % | {nll:.4f} |")
    lines += [
        "",
        "Greedy forward selection with replacement (mean softmax; a candidate added k times "
        "weighs k):",
        "",
        "| step | added | ensemble | validation accuracy | validation NLL |",
        "|---:|---|---|---:|---:|",
    ]
    for k, step in enumerate(selection.steps):
        mark = "**" if k == selection.chosen else ""
        lines.append(
            f"| {step.step} | `{names[step.added]}` | {weights_text(step.counts, names)} | "
            f"{mark}{100 * step.accuracy:.2f} %{mark} | {step.nll:.4f} |"
        )
    lines += ["", f"Kept: step {selection.best.step} (bold)."]
    return "\n".join(lines) + "\n"


def selection_record(
    selection: Selection,
    names: Sequence[str],
    validation_set: str,
    images: int,
    tta: Sequence[str],
) -> dict[str, Any]:
    """What summary.json records of the choice."""
    return {
        "rule": RULE,
        "validation_set": validation_set,
        "validation_images": images,
        "candidates": [
            {"run": name, "tta": t, "val_accuracy": acc, "val_nll": nll}
            for name, t, (acc, nll) in zip(names, tta, selection.singles, strict=True)
        ],
        "steps": [
            {
                "step": s.step,
                "added": names[s.added],
                "weights": {n: c for n, c in zip(names, s.counts, strict=True) if c},
                "val_accuracy": s.accuracy,
                "val_nll": s.nll,
                "tried": {
                    n: {"val_accuracy": a, "val_nll": v}
                    for n, (a, v) in zip(names, s.tried, strict=True)
                },
            }
            for s in selection.steps
        ],
        "chosen_step": selection.best.step,
        "val_accuracy": selection.best.accuracy,
        "val_nll": selection.best.nll,
        "weights": {names[i]: selection.best.counts[i] for i in selection.members},
    }


# ------------------------------------------------------------------------------ candidates
@dataclass(frozen=True)
class Candidate:
    """A model to choose from: ``run`` holds its published test report (summary.json,
    predictions.npz) and ``config.yaml``; ``weights`` its checkpoint or bundle."""

    arg: str
    run: Path
    weights: Path
    sha256: str
    config: Path
    tta: str


def candidate(arg: str | Path) -> Candidate:
    """A zoo name, a zoo result folder or a run directory with ``checkpoints/best-*.ckpt``."""
    from fer_lightning import run_layout, zoo
    from fer_lightning.evaluation.summary import read_summary

    path = Path(arg)
    model = None
    if path.is_dir():
        here = path.resolve()
        model = next((m for m in zoo.models().values() if m.folder.resolve() == here), None)
        if model is not None:
            model = zoo.get(model.name)  # its weights checked against the record
    elif zoo.looks_like_name(str(arg)):
        model = zoo.get(str(arg))
        path = model.folder
        if path.is_relative_to(Path.cwd()):  # as the user would write it
            path = path.relative_to(Path.cwd())
    else:
        raise FERUserError(f"candidate {arg}: not a run directory or a zoo model")
    tta = read_summary(path).get("tta") or "none"
    if model is not None:
        weights, digest, config = model.weights, model.record["sha256"], model.config
    else:
        weights = run_layout.best_checkpoint(path)
        digest, config = zoo.sha256(weights), run_layout.run_config(path)
    return Candidate(str(arg), path, weights, digest, config, tta)


def same_validation_set(found: Sequence[tuple[str, str]]) -> None:
    """Raise, in one sentence, unless every (candidate, validation-set id) pair has the same id."""
    first, first_id = found[0]
    for name, other in found[1:]:
        if other != first_id:
            raise FERUserError(
                f"{name} and {first} have different validation sets (validation sets {other} "
                f"and {first_id}), so no ensemble of them can be chosen on validation data"
            )


def _settings(cand: Candidate, datamodule: Any) -> dict[str, Any]:
    """The data and TTA settings the validation outputs depend on (the cache key with the
    weights' SHA-256)."""
    from fer_lightning.experiments import load_config

    data = load_config(cand.config).get("data") or {}
    init = {k: v for k, v in (data.get("init_args") or {}).items() if k not in LOADER_SETTINGS}
    init.pop("data_dir", None)  # the folder it resolves to is below
    return {
        "version": CACHE_VERSION,
        "datamodule": data.get("class_path"),
        "init_args": init,
        "root": str(Path(datamodule.root).resolve()),
        "tta": cand.tta,
        "tta_crop_size": datamodule.tta_crop_size if cand.tta == "ten_crop" else None,
    }


def cache_path(cand: Candidate, settings: dict[str, Any], split: str = "val") -> Path:
    from fer_lightning.paths import cache_dir

    text = json.dumps({**settings, "split": split}, sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return cache_dir() / CACHE_FOLDER / f"{cand.sha256[:20]}-{key}.npz"


def validation_predictions(
    cand: Candidate, batch_size: int = 256, split: str = "val"
) -> tuple[Any, str, bool]:
    """(:class:`Predictions` of ``cand`` on the ``split`` of its own data with its result's
    TTA, with image ids; the split's id (images and labels in any order); whether it came from
    the cache). ``split="test"`` exists to check the outputs against a published report."""
    from fer_lightning.build import build
    from fer_lightning.data import copies
    from fer_lightning.evaluation.predictions import Predictions

    overrides = [
        "--ckpt_path=null",
        "--run_dir=null",
        "--model.pretrained=false",
        f"--data.tta={cand.tta}",
    ]
    datamodule = build(cand.config, overrides, subcommand="validate").datamodule
    settings = _settings(cand, datamodule)
    path = cache_path(cand, settings, split)
    if path.is_file():
        with np.load(path) as held:
            preds = Predictions(
                held["probs"],
                held["targets"],
                [str(n) for n in held["class_names"]],
                held["image_ids"],
            )
        return preds, copies.test_set_id(preds.image_ids, preds.targets), True
    datamodule.setup("validate" if split == "val" else "test")
    data = datamodule.splits[split]
    probs = _softmax(cand, datamodule, split, batch_size)
    preds = Predictions(probs, data.labels, list(datamodule.class_names))
    preds.image_ids = copies.image_ids(data.images)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        probs=preds.probs,
        targets=preds.targets,
        class_names=np.array(preds.class_names, dtype=str),
        image_ids=preds.image_ids,
        settings=np.array(json.dumps(settings, sort_keys=True, default=str)),
        weights=np.array(str(cand.weights)),
    )
    tmp.replace(path)
    return preds, copies.test_set_id(preds.image_ids, preds.targets), False


def _softmax(cand: Candidate, datamodule: Any, split: str, batch_size: int) -> np.ndarray:
    """The softmax outputs of ``cand``'s model on ``split`` through the datamodule's own
    evaluation pipeline, ten crops averaged (the model's 5-D forward) where its TTA says so."""
    import torch
    from torch.utils.data import DataLoader

    from fer_lightning.data.labels import canonical
    from fer_lightning.data.tta import TenCropDataset
    from fer_lightning.inference.bundled import load_any

    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = load_any(cand.weights, device)
    data_classes = list(datamodule.class_names)
    if [canonical(c) for c in loaded.class_names] != [canonical(c) for c in data_classes]:
        raise FERUserError(
            f"the model {cand.weights} has classes {', '.join(loaded.class_names)} but its data "
            f"has {', '.join(data_classes)}: an ensemble needs the same classes in the same order"
        )
    dataset = datamodule.dataset(split, train=False)
    if cand.tta == "ten_crop" and not isinstance(dataset, TenCropDataset):
        dataset = TenCropDataset(dataset, datamodule.tta_crop_size, datamodule.image_size)
    out = []
    with torch.inference_mode():
        for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0):
            logits = loaded.model(x.to(device)).float()
            if not torch.isfinite(logits).all():
                raise FERUserError(f"the model {cand.weights} gave non-finite outputs")
            out.append(logits.softmax(-1).cpu().numpy())
    return np.concatenate(out)
