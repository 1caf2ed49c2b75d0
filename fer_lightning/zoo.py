"""The model zoo: every published result in ``results/`` whose weights are kept, by name.

A zoo model is named after its results folder, ``<experiment>/<run>`` (a cross-validation
fold: ``<experiment>/<run>/fold<k>``). Its weights are the folder's ``model.safetensors`` (a
bundle, :mod:`fer_lightning.inference.bundled`), or the shipped model
(``fer_lightning/pretrained/``) where the folder's result was made with the checkpoint the
shipped model was bundled from. Its record, ``model.json`` beside the result, is written by
``fer-lightning models --write`` from the weights, the result's ``summary.json`` and, where the
model was calibrated, its ``calibration.json``: class names, input, temperature, accuracies,
provenance and the SHA-256 of the weights, checked each time the weights are used.

``test``, ``validate``, ``recognize``, ``export``, ``explain``, ``robustness`` and ``ensemble``
take a zoo name wherever they take a checkpoint. This module is light (no torch): the
``fer-lightning`` entry point resolves names before anything heavy is imported.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_lightning.errors import FERUserError
from fer_lightning.inference.bundle_info import default_path, read_metadata
from fer_lightning.run import layout

#: The repository's results folder (timm-style, beside the code).
ZOO_DIR = Path(__file__).resolve().parent.parent / "results"
WEIGHTS = "model.safetensors"
RECORD = "model.json"
CALIBRATION = "calibration.json"
SUMMARY = layout.SUMMARY_JSON
#: The zoo's size budget: all of results/, weights included (docs/evaluation.md says it).
BUDGET_BYTES = 100_000_000


@dataclass(frozen=True)
class ZooModel:
    name: str
    folder: Path
    record: dict[str, Any]

    @property
    def weights(self) -> Path:
        return (ZOO_DIR.parent / self.record["weights"]).resolve()

    @property
    def config(self) -> Path:
        return layout.config_of(self.folder)

    @property
    def temperature(self) -> float | None:
        return self.record.get("temperature")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _name_of(folder: Path, root: Path) -> str:
    return folder.relative_to(root).as_posix()


def result_folders(root: Path | None = None) -> list[Path]:
    """Every published single result (a folder with summary.json and config.yaml)."""
    root = root or ZOO_DIR
    return sorted(
        p.parent
        for p in root.rglob(SUMMARY)
        if layout.config_of(p.parent).is_file() and "runs" not in p.parent.relative_to(root).parts
    )


def weights_of(folder: Path) -> Path | None:
    """The weights a result was made with, where they are kept: its own bundle, or the shipped
    model or a sibling result's bundle when the result names the checkpoint that bundle was
    made from (a ten-crop test of the same checkpoint, say)."""
    if (folder / WEIGHTS).is_file():
        return folder / WEIGHTS
    summary = json.loads((folder / SUMMARY).read_text())
    if not summary.get("checkpoint"):
        return None
    checkpoint = Path(summary["checkpoint"])
    candidates = [default_path(), *sorted(folder.parent.glob(f"*/{WEIGHTS}"))]
    for weights in (c for c in candidates if c.is_file()):
        provenance = read_metadata(weights)["provenance"]
        run, _, ckpt = (provenance.get("checkpoint") or "").partition("/")
        same_run = checkpoint.name == ckpt and checkpoint.parent.parent.name == run
        if same_run and summary.get("experiment") == provenance.get("experiment"):
            return weights
    return None


def make_record(folder: Path, root: Path | None = None) -> dict[str, Any] | None:
    """The record of the result in ``folder`` (None when its weights are not kept)."""
    root = root or ZOO_DIR
    weights = weights_of(folder)
    if weights is None:
        return None
    meta = read_metadata(weights)
    summary = json.loads((folder / SUMMARY).read_text())
    if summary.get("dataset") != meta["provenance"].get("dataset"):
        return None  # a cross-dataset test of a model trained elsewhere: a result, not a model
    calibration = folder / CALIBRATION
    calibrated = json.loads(calibration.read_text()) if calibration.is_file() else {}
    hparams, data, provenance = meta["hparams"], meta["data"], meta["provenance"]
    return {
        "name": _name_of(folder, root),
        "weights": weights.resolve().relative_to(root.resolve().parent).as_posix(),
        "sha256": sha256(weights),
        "bytes": weights.stat().st_size,
        "dtype": _dtype(weights),
        "class_names": list(hparams.get("class_names") or []),
        "backbone": hparams.get("backbone"),
        "head": hparams.get("head"),
        "input": {k: data.get(k) for k in ("image_size", "channels", "color", "mean", "std")},
        "temperature": calibrated.get("temperature") if calibrated.get("used", True) else None,
        "dataset": summary.get("dataset"),
        "split": summary.get("split"),
        "tta": summary.get("tta"),
        "test_images": summary.get("test_images"),
        "test_accuracy": summary.get("test_accuracy"),
        "test_accuracy_no_copies": summary.get("test_accuracy_no_copies"),
        "test_accuracy_no_near_copies": summary.get("test_accuracy_no_near_copies"),
        "test_set": summary.get("test_set"),
        "provenance": {
            "experiment": summary.get("experiment"),
            "seed": summary.get("seed"),
            "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "precision": summary.get("precision"),
            "git_commit": summary.get("git_commit"),
            "checkpoint": provenance.get("checkpoint"),
            "checkpoint_selection": summary.get("checkpoint_selection"),
        },
    }


def _dtype(weights: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(weights), framework="numpy") as fh:
        return (fh.metadata() or {}).get("dtype") or "float32"


def write_records(root: Path | None = None) -> list[Path]:
    """(Re)write ``model.json`` beside every result whose weights are kept."""
    root = root or ZOO_DIR
    written = []
    for folder in result_folders(root):
        record = make_record(folder, root)
        path = folder / RECORD
        if record is None:
            path.unlink(missing_ok=True)
            continue
        path.write_text(json.dumps(record, indent=1) + "\n")
        written.append(path)
    return written


def models(root: Path | None = None) -> dict[str, ZooModel]:
    """Every zoo model by name, from the records in ``root`` (default: :data:`ZOO_DIR`)."""
    root = root or ZOO_DIR
    found = {}
    for path in sorted(root.rglob(RECORD)):
        record = json.loads(path.read_text())
        found[record["name"]] = ZooModel(record["name"], path.parent, record)
    return found


def default() -> ZooModel | None:
    """The shipped model's zoo entry (its single-image result)."""
    shipped = default_path().resolve()
    for model in models().values():
        if model.weights == shipped and model.record.get("tta") in (None, "none"):
            return model
    return None


def by_weights(path: Path | None) -> ZooModel | None:
    """The zoo model whose weights are the file ``path`` (None: the shipped model), its
    single-image result first where several results share the weights; None when none is."""
    if path is None:
        return default()
    path = Path(path).resolve()
    found = [m for m in models().values() if m.weights == path]
    found.sort(key=lambda m: m.record.get("tta") not in (None, "none"))
    return found[0] if found else None


def looks_like_name(arg: str) -> bool:
    """Not a file path: no checkpoint suffix and nothing at that path."""
    return not Path(arg).exists() and Path(arg).suffix not in (".ckpt", ".safetensors", ".pt")


def get(name: str) -> ZooModel:
    """The zoo model ``name`` with its weights checked against the record's SHA-256."""
    known = models()
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise FERUserError(
            f"'{name}' is neither a file nor a zoo model{hint}; zoo models: "
            f"{', '.join(known) or 'none'} ('fer-lightning models' lists them)"
        )
    model = known[name]
    if not model.weights.is_file():
        raise FERUserError(f"zoo model {name}: its weights {model.weights} are missing")
    actual = sha256(model.weights)
    if actual != model.record["sha256"]:
        raise FERUserError(
            f"zoo model {name}: {model.weights} has SHA-256 {actual[:16]}…, its record "
            f"{model.folder / RECORD} says {model.record['sha256'][:16]}… (a changed or "
            "corrupt file); restore it with git or run 'fer-lightning models --write' if the "
            "change is meant"
        )
    return model


def resolve(arg: str | Path | None) -> Path | None:
    """A checkpoint argument as a file: a path as given, a zoo name as its checked weights."""
    if arg is None:
        return None
    if looks_like_name(str(arg)):
        return get(str(arg)).weights
    return Path(arg)


def listing() -> str:
    """``fer-lightning models``: one markdown line per zoo model."""
    rows = [
        "| name | dataset | classes | test accuracy | without copies (exact / near) | tta "
        "| weights | size |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]

    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{100 * value:.2f} %"

    shipped = default()
    for name, model in models().items():
        r = model.record
        default_mark = " (default)" if shipped is not None and shipped.name == name else ""
        rows.append(
            f"| `{name}`{default_mark} | {r['dataset']} | {len(r['class_names'])} | "
            f"{pct(r['test_accuracy'])} | {pct(r['test_accuracy_no_copies'])} / "
            f"{pct(r['test_accuracy_no_near_copies'])} | {r['tta']} | {r['dtype']} | "
            f"{r['bytes'] / 1e6:.1f} MB |"
        )
    return "\n".join(rows) + "\n"
