"""Where data, caches and runs live. Nothing here hard-codes a machine-specific path."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fer_lightning.errors import FERUserError

DATA_ENV = "FER_DATA_DIR"
CACHE_ENV = "FER_CACHE_DIR"
RUNS_ENV = "FER_RUNS_DIR"


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: the explicit value, else ``$FER_DATA_DIR``, else ``./data``."""
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get(DATA_ENV) or "data").expanduser()


def cache_dir() -> Path:
    """Where decoded datasets are cached: ``$FER_CACHE_DIR`` or ``~/.cache/fer-lightning``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fer-lightning"


def runs_root() -> Path:
    """Where run directories are created: ``$FER_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get(RUNS_ENV) or "runs").expanduser()


def check_name(name: str, what: str) -> str:
    """``name`` unchanged if it is a plain name that stays in the folder it is put in (no
    separator, not ``.`` or ``..``, not empty); else one sentence naming ``what`` it is.
    Every name that becomes part of a path (experiment, run, sweep, published result) is
    checked here."""
    text = str(name)
    if text in ("", ".", "..") or any(c in text for c in "/\\\0"):
        raise FERUserError(
            f"{what} '{text}' is not a plain name: a name may not be empty, '.' or '..', or "
            "hold '/' or '\\', since it becomes a folder name (use letters, digits, '-', '_', "
            "'.')"
        )
    return text


def is_one_of(path: Path, others: Iterable[Path]) -> Path | None:
    """The first of ``others`` that is the same file as ``path`` (links and ``..`` resolved),
    if ``path`` exists; else None."""
    if not path.exists():
        return None
    for other in others:
        try:
            if other.exists() and os.path.samefile(path, other):
                return other
        except OSError:
            continue
    return None


def refuse_overwriting(out: Path, inputs: Iterable[Path], option: str) -> None:
    """A command never writes over what it reads: ``out`` (given as ``option``) must not be
    one of its ``inputs``. Checked before anything is opened for writing."""
    same = is_one_of(out, inputs)
    if same is not None:
        raise FERUserError(
            f"{option} {out} is also an input of this command ({same}); writing it would "
            "destroy the input: name another file"
        )
