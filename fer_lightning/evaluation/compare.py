"""One markdown table across runs, with the columns of the papers' comparison tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.predictions import FILENAME as PREDICTIONS_NPZ
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.summary import format_duration, read_summary
from fer_lightning.run.layout import SUMMARY_JSON

#: Why a run has no p-value against the best run: the cell, and the sentence under the table.
NOT_PAIRED = {
    "other test set": "'other test set': scored on different test images than the best run "
    "(its test-set fingerprint in summary.json differs: another split, cleaning or dataset), "
    "so a paired test against it would be meaningless.",
    "no fingerprint": "'no fingerprint': its summary.json (or the best run's) has no "
    "test_fingerprint, written since the paired tests; 'fer-lightning report RUN_DIR' "
    "rewrites it.",
    "no predictions": f"'no predictions': the run directory has no {PREDICTIONS_NPZ}.",
}

COLUMNS = (
    "model",
    "dataset",
    "test accuracy",
    "95 % CI",
    "macro F1",
    "ECE",
    "p vs best",
    "parameters",
    "training time",
    "epochs",
    "experiment",
    "run",
)


def find_runs(paths: list[str | os.PathLike]) -> list[Path]:
    """Run directories: each path is a run directory (with summary.json) or a folder searched
    recursively for them (e.g. ``runs/``)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FERUserError(f"{path} does not exist")
        if (path / SUMMARY_JSON).is_file():
            found.append(path)
            continue
        nested = sorted(p.parent for p in path.rglob(SUMMARY_JSON)) if path.is_dir() else []
        if not nested:
            raise FERUserError(
                f"{path} holds no run with a {SUMMARY_JSON}; "
                f"'fer-lightning report RUN_DIR' writes one"
            )
        found += nested
    return list(dict.fromkeys(found))  # once each, in order


def load_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """One summary per run, with ``run`` added; sorted by test accuracy, best first."""
    rows = []
    for run in runs:
        summary = read_summary(run)
        if not isinstance(summary.get("test_accuracy"), int | float):
            raise FERUserError(f"{run / SUMMARY_JSON} has no numeric test_accuracy")
        rows.append({**summary, "run": str(run)})
    return sorted(rows, key=lambda r: r["test_accuracy"], reverse=True)


def same_test_set(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Raise, in one sentence, unless summaries ``a`` and ``b`` (with ``run``) carry the same
    test set: the same ``test_set`` (images and labels in any order) where both have one,
    else the same test-set fingerprint (in order)."""
    if a.get("test_set") and b.get("test_set"):
        if a["test_set"] != b["test_set"]:
            raise FERUserError(
                f"{a['run']} and {b['run']} were scored on different test sets (test sets "
                f"{a['test_set']} and {b['test_set']}), so they cannot be paired image by image"
            )
        return
    fa, fb = a.get("test_fingerprint"), b.get("test_fingerprint")
    if not fa or not fb:
        which = a["run"] if not fa else b["run"]
        raise FERUserError(
            f"{which} has no test_fingerprint in its {SUMMARY_JSON}, so it cannot be shown to "
            "share the other run's test images; 'fer-lightning report RUN_DIR' rewrites it"
        )
    if fa != fb:
        raise FERUserError(
            f"{a['run']} and {b['run']} were scored on different test sets (test fingerprints "
            f"{fa} and {fb}), so they cannot be paired image by image"
        )


def paired_test(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """McNemar's exact test on the per-image correctness of runs ``a`` and ``b`` (summaries
    with ``run``), which must share a test set (:func:`same_test_set`)."""
    from fer_lightning.evaluation.stats import mcnemar_exact

    same_test_set(a, b)
    pa, pb = paired_predictions([Path(a["run"]), Path(b["run"])])
    return mcnemar_exact(pa.predicted == pa.targets, pb.predicted == pb.targets)


def paired_predictions(runs: list[Path]) -> list[Predictions]:
    """The runs' predictions, each in the first run's image order (runs whose summaries passed
    :func:`same_test_set`): reordered by image id where both know their images, else taken
    in order, which must then give the same labels."""
    first, *others = (Predictions.load(run) for run in runs)
    out = [first]
    for run, preds in zip(runs[1:], others, strict=True):
        if preds.image_ids is not None and first.image_ids is not None:
            try:
                preds = preds.in_order_of(first)
            except ValueError:
                raise FERUserError(
                    f"{run} and {runs[0]} hold predictions of different test images"
                ) from None
        elif not np.array_equal(preds.targets, first.targets):
            raise FERUserError(f"{run} and {runs[0]} have different test labels")
        out.append(preds)
    return out


def with_p_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row (best first) with ``p_vs_best``: McNemar's exact p-value against the first
    row, or ``not_paired``: why there is none (a key of :data:`NOT_PAIRED`)."""
    if not rows:
        return rows
    best = rows[0]
    out = [{**best, "p_vs_best": None, "not_paired": None}]
    for row in rows[1:]:
        p, why = None, None
        both_sets = row.get("test_set") and best.get("test_set")
        if not both_sets and (not row.get("test_fingerprint") or not best.get("test_fingerprint")):
            why = "no fingerprint"
        elif (both_sets and row["test_set"] != best["test_set"]) or (
            not both_sets and row["test_fingerprint"] != best["test_fingerprint"]
        ):
            why = "other test set"
        elif not all((Path(r["run"]) / PREDICTIONS_NPZ).is_file() for r in (row, best)):
            why = "no predictions"
        else:
            p = paired_test(best, row)["p_value"]
        out.append({**row, "p_vs_best": p, "not_paired": why})
    return out


def _interval(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{100 * value[0]:.2f}–{100 * value[1]:.2f} %"
    return "n/a"


def _p_cell(row: dict[str, Any], first: bool) -> str:
    if first:
        return "best"
    if row.get("p_vs_best") is not None:
        p = row["p_vs_best"]
        return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"
    return f"n/a ({row['not_paired']})" if row.get("not_paired") else "n/a"


def _cells(row: dict[str, Any], first: bool = False) -> list[str]:
    accuracy = f"{100 * row['test_accuracy']:.2f} %"
    if row.get("tta") not in (None, "none"):
        accuracy += f" ({row['tta'].replace('_', '-')})"
    params = row.get("parameters")
    epochs = row.get("epochs")
    n = row.get("test_images")
    n_text = f"{n:,}" if isinstance(n, int) else "n/a"
    if row.get("partial_test") and isinstance(row.get("test_set_images"), int):
        n_text += f" of {row['test_set_images']:,}, partial"  # --trainer.limit_test_batches
    f1, ece = row.get("macro_f1"), row.get("ece")
    return [
        str(row.get("model") or "n/a"),
        f"{row.get('dataset') or 'n/a'} ({row.get('split') or 'n/a'}, n={n_text})",
        accuracy,
        _interval(row.get("test_accuracy_ci95")),
        f"{f1:.4f}" if isinstance(f1, int | float) else "n/a",
        f"{ece:.4f}" if isinstance(ece, int | float) else "n/a",
        _p_cell(row, first),
        f"{params:,}" if isinstance(params, int) else "n/a",
        format_duration(row.get("training_time_s")),
        str(epochs) if epochs is not None else "n/a",
        str(row.get("experiment") or "n/a"),
        f"`{row['run']}`",
    ]


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    """The table of ``rows`` (best first); p-values against the first row (computed here
    unless :func:`with_p_values` already added them), then a sentence per reason a run has
    none."""
    if rows and "p_vs_best" not in rows[0]:
        rows = with_p_values(rows)
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(_cells(row, i == 0)) + " |" for i, row in enumerate(rows)]
    if len(rows) > 1:
        lines += [
            "",
            "95 % CI: bootstrap interval of the test accuracy. p vs best: McNemar's exact "
            "test (scipy.stats.binomtest) of per-image correctness against the best run, on "
            "the same test images.",
        ]
        reasons = dict.fromkeys(r["not_paired"] for r in rows if r.get("not_paired"))
        lines += [f"No p-value where marked {NOT_PAIRED[why]}" for why in reasons]
    return "\n".join(lines) + "\n"
