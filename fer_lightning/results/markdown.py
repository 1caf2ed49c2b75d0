"""Markdown cells shared by the generated tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fer_lightning.evaluation.summary import format_duration
from fer_lightning.run import record


def markdown_row(cells: list[str]) -> str:
    """One table row; a ``|`` inside a cell is escaped."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def pct(value: float) -> str:
    """An accuracy (0-1) as a percentage with two decimals."""
    return f"{100 * value:.2f} %"


def training_time(runs: Sequence[Path], what: str = "") -> str:
    """The runs' fit wall time added up, followed by ``what``; "at least" when some fit stopped
    before recording its time (killed, or stopped before fits recorded their time on SIGTERM,
    Ctrl-C or an error; then resumed or not)."""
    walls = [w for w in (record.fit_seconds(r) for r in runs) if w is not None]
    untimed = sum(record.untimed_fits(r) for r in runs)
    if not untimed:
        return format_duration(sum(walls) if walls else None) + what
    stopped = f"{untimed} stopped fit{'s' if untimed > 1 else ''} not timed"
    if not walls:
        return f"n/a{what}, {stopped}"
    return f"at least {format_duration(sum(walls))}{what}, {stopped}"
