"""Bad-input cases run through the real command line: :class:`Case` (a command line and what
its one error line must say), :func:`fill` (a case's ``{place}`` names) and :func:`run_driver`
(many cases in one ``cli_driver.py`` process). Shared by the bad-input tests of the CLI, the
folder and FER+ datasets, and the slow check that the driver runs a case as ``python -m``
does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.paths import REPO, TESTS


@dataclass
class Case:
    id: str
    argv: list[str]
    #: Substrings the one error line must hold (the key / file / value, and what is valid).
    says: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: Substrings the error line must not hold.
    never: list[str] = field(default_factory=list)


def fill(text: str, places: dict[str, str]) -> str:
    """``text`` with its ``{place}`` names replaced (other braces, as in YAML, kept)."""
    for name, value in places.items():
        text = text.replace(f"{{{name}}}", value)
    return text


def driver_env(places: dict[str, str]) -> dict[str, str]:
    """The environment of a case: the places' cache, W&B offline (so that a W&B run left
    behind would show) and silent."""
    return {
        **os.environ,
        "FER_CACHE_DIR": places["cache"],
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
    }


def run_driver(cases: Sequence[Case], places: dict[str, str]) -> dict[str, dict]:
    """Every case run once, in one driver process (one fork per case, so torch is imported
    once), each with its own runs folder under ``places["runs"]``: the driver's result (exit
    code, stdout, stderr, ...) by case id."""
    inputs = []
    for case in cases:
        runs = Path(places["runs"]) / case.id.replace(" ", "_").replace("/", "_")
        runs.mkdir(parents=True)
        env = {"FER_RUNS_DIR": str(runs)} | {k: fill(v, places) for k, v in case.env.items()}
        inputs.append({"argv": [fill(a, places) for a in case.argv], "env": env})
    done = subprocess.run(
        [sys.executable, str(TESTS / "helpers" / "cli_driver.py")],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        env=driver_env(places),
        cwd=REPO,
        timeout=600,
        check=True,
    )
    return {case.id: r for case, r in zip(cases, json.loads(done.stdout), strict=True)}
