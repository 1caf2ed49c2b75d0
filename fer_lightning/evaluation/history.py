"""Per-epoch values from a run's ``metrics.csv`` (Lightning's CSV logger: one row per logging
call, empty cells for metrics not logged in that row)."""

from __future__ import annotations

import csv
from pathlib import Path

from fer_lightning.run.layout import METRICS_CSV


def read_epoch_metrics(run_dir: Path) -> dict[str, dict[int, float]]:
    """``{metric: {epoch: value}}`` for every metric logged with an epoch number; the last
    value wins (a resumed run appends, so a repeated epoch takes its latest value). Empty when
    the run directory has no metrics.csv."""
    path = Path(run_dir) / METRICS_CSV
    if not path.is_file():
        return {}
    out: dict[str, dict[int, float]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            epoch = row.get("epoch")
            if not epoch:
                continue
            for key, value in row.items():
                if key in ("epoch", "step") or value in ("", None):
                    continue
                try:
                    out.setdefault(key, {})[int(float(epoch))] = float(value)
                except ValueError:
                    continue
    return out


def epochs_trained(history: dict[str, dict[int, float]]) -> int | None:
    """Number of training epochs that ran to the end (with a logged epoch-level train loss)."""
    epochs = history.get("train/loss_epoch") or history.get("train/acc")
    return len(epochs) if epochs else None


def training_seconds(history: dict[str, dict[int, float]]) -> float | None:
    """Wall-clock seconds of all training epochs, validation included (``train/epoch_time_s``
    of the TrainingSpeed callback, summed; it survives resuming)."""
    times = history.get("train/epoch_time_s")
    return float(sum(times.values())) if times else None


def images_per_second(history: dict[str, dict[int, float]]) -> float | None:
    """Mean training throughput over epochs (``train/images_per_sec``)."""
    rates = history.get("train/images_per_sec")
    return float(sum(rates.values()) / len(rates)) if rates else None
