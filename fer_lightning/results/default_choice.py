"""Which zoo model ships as the default (``recognize``, ``export``), decided on validation.

The candidates are the zoo's single-image models of the default's dataset and classes whose
folder holds a robustness evaluation on the validation split (``fer-lightning robustness --ckpt
NAME --stage val --out FOLDER``). The rule reads validation figures only: among the candidates
whose clean validation accuracy is within :data:`TOLERANCE` of the best, the one that loses the
least under its worst of :data:`PERTURBATIONS` (blur, JPEG, the mouth covered: what a webcam
and a hand do to a face). The test accuracy without copied images, the CK+ cross-dataset
accuracy and the calibration are shown beside it for the reader, never used to choose.

A test keeps the shipped model equal to :func:`choose`'s answer, and the default's model card
prints :func:`section`. JSON only: no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_lightning import zoo
from fer_lightning.run import layout

#: The perturbations of the rule (names of ``fer-lightning robustness``).
PERTURBATIONS = ("blur_1", "jpeg_20", "occlude_mouth")
#: How far below the best clean validation accuracy a candidate may be (a fraction).
TOLERANCE = 0.005


@dataclass(frozen=True)
class Candidate:
    name: str
    val_accuracy: float
    #: the largest loss (points as a fraction, positive) under :data:`PERTURBATIONS` on validation
    worst_val_drop: float
    worst_perturbation: str
    test_no_copies: float | None
    ckplus: float | None
    ece: float | None


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _ckplus(model: zoo.ZooModel) -> float | None:
    """The same checkpoint's cross-dataset accuracy on CK+, where published beside it."""
    checkpoint = (_json(model.folder / layout.SUMMARY_JSON) or {}).get("checkpoint")
    for summary_path in sorted(model.folder.parent.glob(f"*/{layout.SUMMARY_JSON}")):
        summary = _json(summary_path) or {}
        cross = summary_path.parent / layout.CROSS_DATASET_JSON
        same = cross.is_file() and summary.get("checkpoint") == checkpoint
        if same and str(summary.get("dataset", "")).lower() == "ckplus":
            return summary.get("test_accuracy")
    return None


def candidate(model: zoo.ZooModel) -> Candidate | None:
    """``model``'s figures, or None when it has no complete validation robustness record."""
    names = layout.robustness_files("val")
    rob = _json(model.folder / names[1])
    if rob is None:
        return None
    rows = {row["name"]: row for row in rob["rows"]}
    if "clean" not in rows or any(p not in rows for p in PERTURBATIONS):
        return None
    worst = min(PERTURBATIONS, key=lambda p: rows[p]["change"])
    calibration = _json(model.folder / "calibration.json") or {}
    return Candidate(
        name=model.name,
        val_accuracy=rows["clean"]["accuracy"],
        worst_val_drop=-rows[worst]["change"],
        worst_perturbation=worst,
        test_no_copies=model.record.get("test_accuracy_no_copies"),
        ckplus=_ckplus(model),
        ece=calibration.get("ece_test_after"),
    )


def candidates(models: dict[str, zoo.ZooModel] | None = None) -> list[Candidate]:
    """The candidates: single-image zoo models with the default's dataset and class names."""
    models = zoo.models() if models is None else models
    shipped = zoo.default()
    if shipped is None:
        return []
    same = [
        m
        for m in models.values()
        if m.record.get("dataset") == shipped.record.get("dataset")
        and m.record.get("class_names") == shipped.record.get("class_names")
        and m.record.get("tta") in (None, "none")
    ]
    return [c for c in map(candidate, same) if c is not None]


def choose(found: list[Candidate]) -> Candidate | None:
    """The rule (module docstring); ties go to the higher validation accuracy, then the name."""
    if not found:
        return None
    best = max(c.val_accuracy for c in found)
    near = [c for c in found if c.val_accuracy >= best - TOLERANCE]
    return min(near, key=lambda c: (c.worst_val_drop, -c.val_accuracy, c.name))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def section(found: list[Candidate]) -> str:
    """The card's "why this model is the default" text and table."""
    chosen = choose(found)
    if chosen is None:
        return "No candidate has a validation robustness record yet."
    rows = [
        "| model | validation accuracy | worst loss on validation | test without copies | "
        "CK+ (cross-dataset) | test ECE after temperature |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for c in sorted(found, key=lambda c: c.name):
        mark = " (default)" if c == chosen else ""
        rows.append(
            f"| `{c.name}`{mark} | {_pct(c.val_accuracy)} | {100 * c.worst_val_drop:.2f} points "
            f"({c.worst_perturbation}) | {_pct(c.test_no_copies)} | {_pct(c.ckplus)} | "
            f"{_pct(c.ece)} |"
        )
    return (
        f"Chosen on validation only: among the candidates within {100 * TOLERANCE:g} points of "
        "the best clean validation accuracy, the one whose worst loss under "
        f"{', '.join(PERTURBATIONS)} on the validation images is smallest. The candidates are "
        "the zoo's single-image models of the same dataset and classes with a validation "
        "robustness record; the test, cross-dataset and calibration columns are for the "
        "reader and took no part in the choice.\n\n" + "\n".join(rows)
    )
