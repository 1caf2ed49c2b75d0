"""Published records checked against the predictions they were made from, before any table
shows them: a number edited by hand in ``summary.json``, ``cv.json`` or a sweep's
``results.csv`` is refused with one sentence, never written into the README.

Each published run keeps ``predictions.npz`` (every test image's probabilities and label), the
raw output of its test; the accuracy, the number of test images and the macro F1 are computed
from it again, the way the run computed them (:func:`classification_report`), and must agree
with the record to within float rounding.
"""

from __future__ import annotations

import json
import math
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.errors import FERUserError
from fer_lightning.run import layout

#: How far a recorded number may be from the recomputed one: float32 rounding, not an edit.
TOLERANCE = 1e-6


def _disagrees(path: Path, key: str, recorded: Any, computed: float) -> FERUserError:
    return FERUserError(
        f"{path}: {key} is {recorded} but its predictions.npz gives {computed:.10g}; the record "
        "was changed after the run wrote it: publish the run again instead of editing it"
    )


@cache
def recomputed(run: Path) -> dict[str, float]:
    """``test_images``, ``test_accuracy`` and ``macro_f1`` of a run, from its predictions.npz,
    as :func:`~fer_lightning.evaluation.report.classification_report` defines them (the macro
    F1 over the classes present in the targets, 0 for a class never predicted), in numpy: a
    table of many runs is checked in a moment."""
    from fer_lightning.evaluation.predictions import Predictions

    p = Predictions.load(run)
    k = p.probs.shape[1]
    confusion = np.bincount(p.targets * k + p.probs.argmax(1), minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    support, predicted = confusion.sum(1), confusion.sum(0)
    denominator = support + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    present = support > 0
    found = {
        "test_images": int(support.sum()),
        "test_accuracy": float(tp.sum() / max(support.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
    }
    right = p.probs.argmax(1) == p.targets
    for key, copied in (("no_copies", p.exact_copy), ("no_near_copies", p.near_copy)):
        if copied is not None and (~copied).any():
            found[f"test_images_{key}"] = int((~copied).sum())
            found[f"test_accuracy_{key}"] = float(right[~copied].mean())
    return found


def _check(path: Path, key: str, recorded: Any, computed: float) -> None:
    try:
        ok = math.isclose(float(recorded), computed, rel_tol=0, abs_tol=TOLERANCE)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise _disagrees(path, key, recorded, computed)


def verified_summary(run: Path) -> dict[str, Any]:
    """A published run's ``summary.json``, checked against its ``predictions.npz``."""
    path = Path(run) / layout.SUMMARY_JSON
    summary = json.loads(path.read_text())
    if not (Path(run) / layout.PREDICTIONS_NPZ).is_file():
        raise FERUserError(f"{path}: the run has no predictions.npz to check its numbers with")
    for key, value in recomputed(Path(run)).items():
        if key in summary:
            _check(path, key, summary[key], value)
    return summary


def verified_cv(cv_dir: Path) -> dict[str, Any]:
    """A published cross-validation's ``cv.json``: each fold's accuracy as its predictions give
    it, and the mean and standard deviation of those."""
    path = Path(cv_dir) / layout.CV_JSON
    cv = json.loads(path.read_text())
    accs = []
    for fold in cv.get("folds", []):
        fold_dir = layout.fold_dir(Path(cv_dir), int(fold["fold"]))
        computed = recomputed(fold_dir)["test_accuracy"]
        _check(path, f"fold {fold['fold']}'s test_acc", fold.get("test_acc"), computed)
        accs.append(computed)
    if accs:
        mean = statistics.fmean(accs)
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        for key, value in (("test_acc_mean", mean), ("test_acc_std", std)):
            if key in cv:
                _check(path, key, cv[key], value)
    return cv


def verified_sweep_row(results_csv: Path, run: Path, row: dict[str, str]) -> None:
    """A line of a published sweep's ``results.csv``: its test accuracy, when it has one."""
    text = row.get("test/acc")
    if text not in (None, "") and (run / layout.PREDICTIONS_NPZ).is_file():
        _check(results_csv, f"test/acc of {run.name}", text, recomputed(run)["test_accuracy"])
