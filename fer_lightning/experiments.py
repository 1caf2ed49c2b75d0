"""Experiments are YAML files (LightningCLI configs) in ``experiments/``; this finds them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import yaml

from fer_lightning.errors import FERUserError

ENV = "FER_EXPERIMENTS_DIR"


def experiments_dir() -> Path:
    """``$FER_EXPERIMENTS_DIR``, else ``./experiments``, else the one next to the package."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    local = Path("experiments")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent.parent / "experiments"


def list_experiments() -> dict[str, Path]:
    folder = experiments_dir()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


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
    listing = ", ".join(known) or f"(none in {experiments_dir()})"
    raise FERUserError(f"unknown experiment '{name}'; known: {listing}")


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
