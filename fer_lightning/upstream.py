"""Every use of Lightning's and jsonargparse's private parts, in one place.

Each function or class here relies on something its library does not promise to keep; the
comment on it says what. ``pyproject.toml`` bounds both libraries to the versions CI tests
(``lightning<3``, ``jsonargparse<4.54``): a newer one is let in once the tests pass on it, and a
test that fails here after an upgrade names the part that changed. What the rest of the package
uses of them is public API.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import lightning as L
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


# ------------------------------------------------------------------------------- LightningCLI
class HookedLightningCLI(LightningCLI):
    """LightningCLI with public hooks where its private methods are the only way in.

    Relies on ``LightningCLI._set_seed`` (seeds, and logs "Seed set to N", before the classes
    are instantiated) and ``LightningCLI._run_subcommand`` (runs the subcommand and its
    ``before_*`` / ``after_*`` hooks), and on ``LightningCLI._get(config, key)``."""

    def _set_seed(self) -> None:
        with quiet_seed_message():  # printed before the settings are checked; see config.yaml
            super()._set_seed()

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except BaseException as err:
            self.on_subcommand_error(err)
            raise

    def on_subcommand_error(self, error: BaseException) -> None:
        """Called with whatever the subcommand (fit, test, ...) raised; raise another error
        to replace it, or return to let it go on."""

    def trainer_settings(self) -> dict[str, Any]:
        """The ``trainer`` settings as instantiated (``config_init``), ``{}`` when none."""
        return self._get(self.config_init, "trainer", default={})


@contextlib.contextmanager
def quiet_seed_message() -> Iterator[None]:
    """Without Lightning's "Seed set to N" line: LightningCLI prints it before any setting is
    checked, so a refused command would print it before its one sentence. The seed is in the
    run's config.yaml. Relies on the logger's name, ``lightning.fabric.utilities.seed``."""
    seed_log = logging.getLogger("lightning.fabric.utilities.seed")
    level = seed_log.level
    seed_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        seed_log.setLevel(level)


# --------------------------------------------------------------------------------- jsonargparse
def subcommand_parsers(parser: Any) -> list[Any]:
    """The parsers of ``parser``'s subcommands (fit, test, ...). Relies on jsonargparse's
    ``_subcommands_action._name_parser_map`` (argparse's own private layout)."""
    subcommands = getattr(parser, "_subcommands_action", None)
    return list(subcommands._name_parser_map.values()) if subcommands is not None else []


def parser_keys(parser: Any) -> list[str]:
    """Every dotted key ``parser`` accepts, its subcommands' included. Relies on argparse's
    ``_actions`` (each with its ``dest``)."""
    keys = [a.dest for a in parser._actions if a.dest and not a.dest.endswith("help")]
    for sub in subcommand_parsers(parser):
        keys += parser_keys(sub)
    return keys


#: jsonargparse's error messages, as :func:`fer_lightning.cli_checks.one_sentence` reads them
#: (their wording is not API: these are what changes first when jsonargparse does).
MESSAGES = {
    "subcommand_option": re.compile(r"Subcommand '\w+' does not accept option '([\w.]+)'"),
    "unrecognized_key": re.compile(r"unrecognized arguments: --([\w.]+)"),
    "unrecognized": re.compile(r"unrecognized arguments: (.*)"),
    "parser_key": re.compile(r'Parser key "([\w.]+)"'),
    "class_option": re.compile(
        r"Problem with given class_path '([\w.]+)':\s*Option '([\w.]+)' is not accepted"
    ),
    "literal": re.compile(r"Expected a typing\.Literal\[([^\]]*)\]"),
    "class": re.compile(r"Expected a <class '([\w.]+)'>"),
    "got": re.compile(r"Got value: (.*)"),
    "given": re.compile(r"Given value: (.*)"),
    "nested": re.compile(r"NestedArg\(key='[^']*', val='(.*)'\)$"),
}
#: The message of a value that is not a class path; of a config file that could not be parsed.
CLASS_PATH_EXPECTED = "Expected a dot import path string"
CONFIG_UNPARSED = "Problems parsing config"


# ------------------------------------------------------------------------------------ Trainer
def restart_train_iterator(trainer: L.Trainer) -> None:
    """Make the training loader's iterator again, as Lightning does at the start of every epoch
    but the first. Relies on ``trainer.fit_loop._data_fetcher``."""
    fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
    if fetcher is not None:
        iter(fetcher)


def trainer_of(module: L.LightningModule) -> L.Trainer | None:
    """The Trainer a module is attached to, or None (``module.trainer`` raises then). Relies on
    ``LightningModule._trainer``."""
    return module._trainer


# ------------------------------------------------------------------------------------ loggers
class AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, which keeps an existing ``metrics.csv`` (a resumed run's) and its
    columns instead of deleting it. Relies on ``ExperimentWriter._check_log_dir_exists`` (called
    once when the writer is made) and its ``metrics_file_path`` / ``metrics_keys``."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as fh:
                self.metrics_keys = next(csv.reader(fh), [])


class RunCSVLogger(CSVLogger):
    """``metrics.csv`` directly in the run directory, appended to on resume
    (:class:`AppendingWriter`).

    Written through at every logging call (Lightning buffers 100 steps), so a run that is
    killed keeps on disk every metric it logged, as its checkpoints do. Relies on
    ``CSVLogger._experiment`` and ``._fs`` (the writer made lazily, on rank zero)."""

    def __init__(self, run_dir: str) -> None:
        super().__init__(save_dir=run_dir, name="", version="", flush_logs_every_n_steps=1)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def failing_parser(error: Exception | None, parser: Any) -> Any:
    """The parser whose arguments failed: the subcommand's (jsonargparse sets
    ``subcommand_parser`` on the error it raises for one), else ``parser``."""
    return getattr(error, "subcommand_parser", None) or parser


def drop_wandb_anonymous(logger: Any) -> None:
    """Lightning's ``WandbLogger`` passes ``anonymous=None`` to ``wandb.init``, and wandb 0.2x
    warns about the setting whatever its value ("The anonymous setting has no effect ...");
    leaving the key out changes nothing else. Relies on ``WandbLogger._wandb_init``."""
    init = getattr(logger, "_wandb_init", None)
    if isinstance(init, dict) and init.get("anonymous") is None:
        init.pop("anonymous", None)
