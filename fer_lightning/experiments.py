"""Experiments are YAML files (LightningCLI configs) in ``experiments/``; this finds them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import yaml

from fer_lightning.errors import FERUserError

ENV = "FER_EXPERIMENTS_DIR"


PACKAGED = Path(__file__).resolve().parent.parent / "experiments"


def experiment_dirs() -> list[Path]:
    """Where experiments are looked for, later folders first in a clash of names:
    ``$FER_EXPERIMENTS_DIR`` alone when set; else the packaged ``experiments/`` and then
    ``./experiments`` (a user's own, which add to the packaged ones and may replace one by
    giving its name, but never hide the others)."""
    if os.environ.get(ENV):
        return [Path(os.environ[ENV])]
    local = Path("experiments")
    if local.is_dir() and local.resolve() != PACKAGED.resolve():
        return [PACKAGED, local]
    return [PACKAGED]


def experiments_dir() -> Path:
    """The folder a new experiment of the user's goes to: the last of :func:`experiment_dirs`."""
    return experiment_dirs()[-1]


def list_experiments() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in experiment_dirs():
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.yaml"))})
    return dict(sorted(found.items()))


def describe(path: Path) -> str:
    """The experiment's one-line description: its first ``#`` comment line."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def resolve(name: str) -> Path:
    """The YAML of experiment ``name`` (a name from ``experiments/`` or a path to a YAML)."""
    known = list_experiments()
    if name in known:
        return known[name]
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return Path(name)
    where = " and ".join(str(d) for d in experiment_dirs())
    listing = ", ".join(known) or "none"
    raise FERUserError(f"unknown experiment '{name}' (looked in {where}); known: {listing}")


def expand(args: list[str]) -> tuple[list[str], str | None]:
    """``--exp NAME`` / ``--exp=NAME`` -> ``--config experiments/NAME.yaml``, and the name (the
    first one given; a YAML path given as NAME is named by its file). An unknown name is a user
    error found without LightningCLI."""
    out: list[str] = []
    name: str | None = None
    it = iter(args)
    for arg in it:
        if arg == "--exp":
            value = next(it, None)
            if value is None:
                raise FERUserError(
                    "--exp needs an experiment name (see 'fer-lightning experiments')"
                )
        elif arg.startswith("--exp="):
            value = arg.split("=", 1)[1]
        else:
            out.append(arg)
            continue
        path = resolve(value)
        out += ["--config", str(path)]
        name = name or (path.stem if value.endswith((".yaml", ".yml")) else value)
    return out, name


def load_config(path: Path) -> dict[str, Any]:
    """An experiment YAML (or a run's ``config.yaml``) as a dict, for the subcommands that read
    settings without LightningCLI; an unreadable or malformed file is a user error naming it."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise FERUserError(f"{path}: cannot read the config ({err})") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise FERUserError(f"{path}: not a YAML mapping of config keys")
    return config


def import_class(class_path: str, where: Path | str) -> type:
    """The class a config's ``class_path`` names, e.g. ``fer_lightning.data.CKPlusDataModule``."""
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise FERUserError(f"{where}: class_path '{class_path}' cannot be imported") from None
