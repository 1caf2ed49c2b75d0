"""What a run directory records about how it was made, beside Lightning's own files:
``command.txt`` (every command line that trained it, one per line: a resumed run adds one) and
``timing.json`` (wall-clock seconds of fit, added up over resumes, and how many fits that is).

A fit stopped before it ended (Ctrl-C, SIGTERM, a kill, a diverged loss) records its command but
not its time: :func:`untimed_fits` counts those, so that a total can say it is a lower bound."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from fer_lightning.run.layout import COMMAND_TXT, TIMING_JSON


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


def timed_fits(run_dir: Path) -> int:
    """How many fits ``timing.json`` adds up (files from before it counted them: one)."""
    path = Path(run_dir) / TIMING_JSON
    if fit_seconds(run_dir) is None:
        return 0
    fits = json.loads(path.read_text()).get("fits", 1)
    return fits if isinstance(fits, int) else 1


def untimed_fits(run_dir: Path) -> int:
    """Fits of the run (lines of ``command.txt``) that ended before recording their time."""
    path = Path(run_dir) / COMMAND_TXT
    lines = path.read_text().splitlines() if path.is_file() else []
    fits = sum(line.split(maxsplit=2)[:2] == ["fer-lightning", "fit"] for line in lines)
    return max(fits - timed_fits(run_dir), 0)


def add_fit_time(run_dir: Path, seconds: float) -> None:
    total = (fit_seconds(run_dir) or 0.0) + seconds
    record = {"fit_wall_s": round(total, 1), "fits": timed_fits(run_dir) + 1}
    (Path(run_dir) / TIMING_JSON).write_text(json.dumps(record) + "\n")
