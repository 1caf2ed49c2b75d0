"""Every callback of a ``fer-lightning`` Trainer, declared in one place.

:data:`CONFIGURABLE` are the callbacks every fit / validate / test / predict has, each under its
own option key (``--early_stopping.patience=5``, an experiment YAML's ``early_stopping:``), with
this package's defaults; :func:`always_on` are those with nothing to configure. An experiment
adds its own under ``trainer.callbacks`` (the training regimes,
``fer_lightning.models.regimes.Transfer`` / ``Finetune``). The Trainer gets, in this order: the
YAML's ``trainer.callbacks``, :func:`always_on`, then :data:`CONFIGURABLE` (LightningCLI appends
those) and the config snapshot (:class:`fer_lightning.run.snapshot.KeepFirstConfig`).

The modules: ``training`` (speed, exact resume, the NaN stop), ``stopping`` (the last step
validated), ``interrupt`` (SIGTERM / Ctrl-C: save, say how to resume), ``report`` (the test
report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
)

from fer_lightning.callbacks.interrupt import GracefulStop
from fer_lightning.callbacks.report import EvaluationReport
from fer_lightning.callbacks.stopping import ValidateLastStep
from fer_lightning.callbacks.training import EpochSeed, FiniteLoss, TrainingDiverged, TrainingSpeed
from fer_lightning.run import layout

__all__ = [
    "CONFIGURABLE",
    "Configurable",
    "EpochSeed",
    "EvaluationReport",
    "FiniteLoss",
    "GracefulStop",
    "TrainingDiverged",
    "TrainingSpeed",
    "ValidateLastStep",
    "always_on",
]


@dataclass(frozen=True)
class Configurable:
    #: The option key (``--<key>.<argument>``, the YAML's ``<key>:``).
    key: str
    callback: type[L.Callback]
    #: This package's defaults of its arguments.
    defaults: dict[str, Any] = field(default_factory=dict)


CONFIGURABLE: tuple[Configurable, ...] = (
    # The best checkpoint by validation accuracy...
    Configurable(
        "checkpoint",
        ModelCheckpoint,
        {
            "monitor": "val/acc",
            "mode": "max",
            "filename": layout.BEST_FILENAME,
            "auto_insert_metric_name": False,
            "enable_version_counter": False,
        },
    ),
    # ...and last.ckpt after every validation, improved or not (Lightning's save_last only
    # refreshes it when the monitored checkpoint is saved), for --ckpt_path last.
    Configurable(
        "last_checkpoint",
        ModelCheckpoint,
        {
            "monitor": None,
            "save_top_k": 1,
            "filename": layout.LAST_FILENAME,
            "enable_version_counter": False,
        },
    ),
    Configurable(
        "early_stopping", EarlyStopping, {"monitor": "val/acc", "mode": "max", "patience": 10}
    ),
    Configurable("lr_monitor", LearningRateMonitor),
    Configurable("training_speed", TrainingSpeed),
    Configurable("epoch_seed", EpochSeed),  # exact resume
    Configurable("finite_loss", FiniteLoss),  # stop at a NaN/inf loss
    # The last training step is validated and checkpointed, whatever ended training.
    Configurable("validate_last_step", ValidateLastStep),
)


def add_configurable(parser: Any) -> None:
    """Each of :data:`CONFIGURABLE` as its option group of LightningCLI's ``parser``."""
    for item in CONFIGURABLE:
        parser.add_lightning_class_args(item.callback, item.key)
        if item.defaults:
            parser.set_defaults({f"{item.key}.{k}": v for k, v in item.defaults.items()})


def always_on(experiment: str | None, progress_bar: bool) -> list[L.Callback]:
    """The callbacks with nothing to configure: the progress bar (unless turned off), the test
    report (every test, fit's final one included, writes report.md, the PNGs and
    summary.json) and the graceful stop (SIGTERM, Ctrl-C: save, say how to resume)."""
    bar: list[L.Callback] = [RichProgressBar(leave=True)] if progress_bar else []
    return [*bar, EvaluationReport(experiment), GracefulStop(experiment)]
