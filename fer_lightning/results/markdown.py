"""Markdown cells shared by the generated tables."""

from __future__ import annotations


def markdown_row(cells: list[str]) -> str:
    """One table row; a ``|`` inside a cell is escaped."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def pct(value: float) -> str:
    """An accuracy (0-1) as a percentage with two decimals."""
    return f"{100 * value:.2f} %"
