"""Start-up: wall seconds of ``fer-lightning --help`` and ``fer-lightning experiments`` (each
a fresh interpreter, as a user runs them), the median of a few runs."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from typing import Any

from fer_lightning.bench.common import median

#: (label, arguments of the command)
COMMANDS: list[tuple[str, list[str]]] = [
    ("fer-lightning --help", ["--help"]),
    ("fer-lightning experiments", ["experiments"]),
    ("fer-lightning fitt (a mistyped subcommand)", ["fitt"]),
]
GOAL_S = 1.5


def seconds(args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``python -m fer_lightning ARGS`` (what the
    installed command runs); on a shared machine the CPU seconds vary less than the wall."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "fer_lightning", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(runs: int = 5, log: Any = print) -> dict[str, Any]:
    rows = []
    for label, args in COMMANDS:
        walls, cpus = zip(*(seconds(args) for _ in range(runs)), strict=True)
        rows.append(
            {
                "command": label,
                "runs_s": [round(t, 3) for t in walls],
                "median_s": round(median(list(walls)), 3),
                "median_cpu_s": round(median(list(cpus)), 3),
            }
        )
        log(
            f"start-up {label}: median {rows[-1]['median_s']:.2f} s "
            f"({rows[-1]['median_cpu_s']:.2f} s CPU)"
        )
    return {"runs": runs, "commands": rows, "goal_s": GOAL_S}
