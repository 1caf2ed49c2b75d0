"""One markdown table across runs, with the columns of the papers' comparison tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.summary import SUMMARY_JSON, format_duration, read_summary

COLUMNS = (
    "model",
    "dataset",
    "test accuracy",
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


def _cells(row: dict[str, Any]) -> list[str]:
    accuracy = f"{100 * row['test_accuracy']:.2f} %"
    if row.get("tta") not in (None, "none"):
        accuracy += f" ({row['tta'].replace('_', '-')})"
    params = row.get("parameters")
    epochs = row.get("epochs")
    n = row.get("test_images")
    n_text = f"{n:,}" if isinstance(n, int) else "n/a"
    if row.get("partial_test") and isinstance(row.get("test_set_images"), int):
        n_text += f" of {row['test_set_images']:,}, partial"  # --trainer.limit_test_batches
    return [
        str(row.get("model") or "n/a"),
        f"{row.get('dataset') or 'n/a'} ({row.get('split') or 'n/a'}, n={n_text})",
        accuracy,
        f"{params:,}" if isinstance(params, int) else "n/a",
        format_duration(row.get("training_time_s")),
        str(epochs) if epochs is not None else "n/a",
        str(row.get("experiment") or "n/a"),
        f"`{row['run']}`",
    ]


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
