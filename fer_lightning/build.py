"""One path from an experiment to its objects: the settings, model, datamodule and trainer that
``fer-lightning fit --exp NAME OVERRIDES`` would use, made by that command's own LightningCLI
class, so the argument links (classes, channels, input size from the data to the model), the
defaults and the checks cannot differ between training and the commands that only need the
objects (``augment-preview``, ``explain --run``, ``cv``'s folds, the benchmarks).

Nothing runs and no run directory is named or created (unless the overrides give
``--run_dir``): the trainer has no logger, and a missing dataset is only found when the data is
set up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from jsonargparse import Namespace

from fer_lightning import experiments
from fer_lightning.cli import FERLightningCLI, cli_session, make_cli
from fer_lightning.data.base import FERDataModule
from fer_lightning.models.classifier import FERClassifier
from fer_lightning.run.folder import RunFolder


class _BuildCLI(FERLightningCLI):
    """The CLI that makes the objects and runs nothing, without a run directory."""

    def _run_folder(self) -> RunFolder | None:
        run_dir = self._cfg().get("run_dir")
        return RunFolder(Path(run_dir), self.experiment, True, False) if run_dir else None

    def _run_subcommand(self, subcommand: str) -> None:
        pass


class _SettingsCLI(_BuildCLI):
    """The CLI that only parses: no seed is set, no class instantiated."""

    def _set_seed(self) -> None:
        pass

    def before_instantiate_classes(self) -> None:
        pass

    def instantiate_classes(self) -> None:
        pass


@dataclass
class Settings:
    #: The run name: ``--experiment``, else the name of the experiment's YAML.
    name: str
    #: The subcommand's settings: the CLI's defaults, then the YAML, then the overrides.
    config: Namespace


@dataclass
class Built(Settings):
    model: FERClassifier
    datamodule: FERDataModule
    trainer: L.Trainer


def _cli(
    experiment: str | Path, overrides: Sequence[str], subcommand: str, cli_class: type
) -> FERLightningCLI:
    given = ["--config", str(experiment)] if isinstance(experiment, Path) else ["--exp", experiment]
    args, name = experiments.expand([*given, *overrides])
    with cli_session():
        return make_cli([subcommand, *args], cli_class, save_config_callback=None, experiment=name)


def settings(
    experiment: str | Path, overrides: Sequence[str] = (), subcommand: str = "fit"
) -> Settings:
    """What ``fer-lightning SUBCOMMAND`` would be set to by ``experiment`` (a name from
    ``experiments/``, a YAML, or a run's ``config.yaml``) and ``overrides`` (``--key=value``
    as on its command line); nothing is instantiated or seeded. A bad key or value is the
    command's own one-sentence error."""
    cli = _cli(experiment, overrides, subcommand, _SettingsCLI)
    return Settings(cli._experiment_name(), cli._cfg())


def build(experiment: str | Path, overrides: Sequence[str] = (), subcommand: str = "fit") -> Built:
    """The model, datamodule and trainer of ``fer-lightning SUBCOMMAND`` (see
    :func:`settings`), seeded by ``seed_everything`` as the command seeds them; the model has
    the optimizer and scheduler of the config (``configure_optimizers``)."""
    cli = _cli(experiment, overrides, subcommand, _BuildCLI)
    return Built(cli.experiment, cli._cfg(), cli.model, cli.datamodule, cli.trainer)
