"""``fer-lightning experiments``: list the experiments with their one-line descriptions."""

from __future__ import annotations

from fer_lightning import experiments


def main(argv: list[str]) -> int:
    known = experiments.list_experiments()
    width = max((len(n) for n in known), default=0)
    for name, path in known.items():
        print(f"{name:<{width}}  {experiments.describe(path)}")
    return 0
