"""What a run directory records about how it was made, beside Lightning's own files:
``command.txt`` (every command line that trained it, one per line: a resumed run adds one) and
``timing.json`` (wall-clock seconds of fit, added up over resumes)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from fer_lightning.run_layout import COMMAND_TXT, TIMING_JSON


def record_command(run_dir: Path, args: list[str]) -> None:
    """Append ``fer-lightning ARGS`` (the arguments after the program name)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / COMMAND_TXT).open("a") as fh:
        fh.write(shlex.join(["fer-lightning", *args]) + "\n")


def fit_seconds(run_dir: Path) -> float | None:
    """Wall-clock seconds fit took (start-up to the end of training, resumes added up)."""
    path = Path(run_dir) / TIMING_JSON
    try:
        return float(json.loads(path.read_text())["fit_wall_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def add_fit_time(run_dir: Path, seconds: float) -> None:
    total = (fit_seconds(run_dir) or 0.0) + seconds
    (Path(run_dir) / TIMING_JSON).write_text(json.dumps({"fit_wall_s": round(total, 1)}) + "\n")
