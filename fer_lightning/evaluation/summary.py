"""``summary.json``: the one-line facts of a run that the papers' comparison tables need."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import fer_lightning
from fer_lightning.run.layout import SUMMARY_JSON

_NOT_RESULTS = ":(top,exclude)results"


def git_commit(path: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, has uncommitted changes) of the checkout holding ``path`` (default: this
    package's source); (None, None) when it is not in a git checkout (an installed package
    inside an ignored folder of one is not) or git is missing.

    Uncommitted changes are edits to tracked files anywhere but ``results/``, and new files not
    yet added under ``path`` or in the checkout's ``experiments/`` (a new experiment YAML is
    code the commit lacks). What ``results/`` holds are the records of earlier runs, published
    there by this package, not code a run depends on."""
    where = Path(path or Path(fer_lightning.__file__).parent)
    commands = (
        ["git", "rev-parse", "HEAD"],
        # The code must be in the checkout, not installed into an ignored folder of one.
        ["git", "ls-files", "--error-unmatch", "--", "."],
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", _NOT_RESULTS],
        ["git", "ls-files", "--others", "--exclude-standard", "--", ".", ":(top)experiments"],
    )
    outputs = []
    try:
        for command in commands:
            done = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                return (None, None) if len(outputs) < 2 else (outputs[0], None)
            outputs.append(done.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None
    commit, _, changed, untracked = outputs
    return commit, bool(changed or untracked)


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    Path(path).write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n")
    return Path(path)


def read_summary(run_dir: Path) -> dict[str, Any]:
    from fer_lightning.errors import FERUserError

    path = Path(run_dir) / SUMMARY_JSON
    if not path.is_file():
        raise FERUserError(
            f"{run_dir} has no {SUMMARY_JSON}; 'fer-lightning report {run_dir}' writes it"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise FERUserError(f"{path} is not valid JSON ({err})") from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
