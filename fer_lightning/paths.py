"""Where data, caches and runs live. Nothing here hard-codes a machine-specific path."""

from __future__ import annotations

import os
from pathlib import Path

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
