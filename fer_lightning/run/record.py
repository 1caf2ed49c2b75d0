"""What a run directory records about how it was made, beside Lightning's own files:
``command.txt`` (every command line that trained it, one per line: a resumed run adds one) and
``timing.json`` (wall-clock seconds of fit, added up over resumes, and how many fits that is).

A fit that Ctrl-C, SIGTERM or an error stops records its time as it ends. One that is killed
(SIGKILL, a lost machine) records its command but not its time: :func:`untimed_fits` counts
those, so that a total can say it is a lower bound."""

from __future__ import annotations

import json
import os
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


def fit_finished(run_dir: Path) -> bool:
    """Whether the run's latest timed fit ran to its end (``max_epochs``, early stopping), not
    stopped by a signal or an error; files from before the flag timed finished fits only. A
    later fit that was killed (SIGKILL) records nothing, so the flag still describes the one
    before it: a sweep never fits a finished run again."""
    if fit_seconds(run_dir) is None:
        return False
    finished = json.loads((Path(run_dir) / TIMING_JSON).read_text()).get("finished", True)
    return finished is True


def add_fit_time(run_dir: Path, seconds: float, finished: bool = True) -> None:
    """Add one fit's wall time; ``finished``: it ran to its end (see :func:`fit_finished`)."""
    total = (fit_seconds(run_dir) or 0.0) + seconds
    record = {
        "fit_wall_s": round(total, 1),
        "fits": timed_fits(run_dir) + 1,
        "finished": finished,
    }
    # Through a rename: a kill while writing must not lose the fits added up so far.
    path = Path(run_dir) / TIMING_JSON
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record) + "\n")
    os.replace(partial, path)
