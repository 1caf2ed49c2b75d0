"""What the fast and the slow sweep tests share (tests/cli/test_sweep.py,
tests/slow/test_sweep.py): the optimizer sweep's file and its results.csv read and cut short."""

from __future__ import annotations

import csv
from pathlib import Path

from fer_lightning.run import layout
from tests.helpers.paths import REPO

SWEEP_FILE = REPO / "experiments/sweeps/cnn_fer2013_optim.yaml"


def read_rows(out: Path) -> list[dict[str, str]]:
    """The rows of a sweep folder's results.csv."""
    with (out / layout.RESULTS_CSV).open(newline="") as fh:
        return list(csv.DictReader(fh))


def keep_rows(out: Path, keep: list[dict[str, str]]) -> None:
    """Rewrite results.csv with only ``keep``, as if the sweep had stopped after them."""
    with (out / layout.RESULTS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(keep[0]))
        writer.writeheader()
        writer.writerows(keep)
