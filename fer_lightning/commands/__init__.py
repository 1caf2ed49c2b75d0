"""Subcommands of ``fer-lightning`` beyond LightningCLI's fit / validate / test / predict.

Each entry maps a subcommand name to ``"module:function"``; the function takes the remaining
arguments (``list[str]``) and returns an exit code. Modules are imported only when their
subcommand runs, so ``fer-lightning fit`` does not pay for them. A user error inside a
subcommand raises :class:`fer_lightning.errors.FERUserError`; ``main`` prints it as one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

SUBCOMMANDS: dict[str, str] = {
    "experiments": "fer_lightning.commands.experiments:main",
    "sweep": "fer_lightning.commands.sweep:main",
    "augment-preview": "fer_lightning.commands.augment_preview:main",
    "report": "fer_lightning.commands.report:main",
    "compare": "fer_lightning.commands.compare:main",
    "audit": "fer_lightning.commands.audit:main",
    "cv": "fer_lightning.commands.cv:main",
    "recognize": "fer_lightning.commands.recognize:main",
    "export": "fer_lightning.commands.export:main",
    "publish": "fer_lightning.commands.publish:main",
    "tables": "fer_lightning.commands.tables:main",
    "bundle": "fer_lightning.commands.bundle:main",
    "ensemble": "fer_lightning.commands.ensemble:main",
    "seeds": "fer_lightning.commands.seeds:main",
    "explain": "fer_lightning.commands.explain:main",
    "models": "fer_lightning.commands.models:main",
    "robustness": "fer_lightning.commands.robustness:main",
    "calibrate": "fer_lightning.commands.calibrate:main",
    "card": "fer_lightning.commands.card:main",
}


def resolve(name: str) -> Callable[[list[str]], int] | None:
    """The entry point of subcommand ``name``, or None when it is a LightningCLI one."""
    target = SUBCOMMANDS.get(name)
    if target is None:
        return None
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)
