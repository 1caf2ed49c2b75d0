"""LightningCLI for ``fer-lightning fit / validate / test / predict``.

:func:`run` is what :mod:`fer_lightning.main` (the one router, which has expanded ``--exp``)
calls; :func:`make_cli` is what :mod:`fer_lightning.build` makes its objects with. A user error
is raised as :class:`~fer_lightning.errors.FERUserError` for the router to print."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

# Lightning's own use of jsonargparse triggers deprecation notices users cannot act on.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning import callbacks, distributed
from fer_lightning.callbacks.report import EvaluationReport, log_checkpoint_artifact
from fer_lightning.callbacks.stopping import plateau_on_validation_epochs
from fer_lightning.checkpoint_io import AtomicCheckpointIO, no_space
from fer_lightning.cli_checks import (
    FERArgumentParser,
    check_ckpt_path,
    set_cli_args,
    user_error_of,
)
from fer_lightning.data.base import FERDataModule
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import crossdataset
from fer_lightning.inference.safe_load import safe_load
from fer_lightning.models.classifier import FERClassifier, check_loss
from fer_lightning.models.regimes import keep_trainable
from fer_lightning.paths import check_name
from fer_lightning.precision import auto_precision
from fer_lightning.precision import describe as describe_precision
from fer_lightning.quiet import hide_lightning_tips
from fer_lightning.run import layout
from fer_lightning.run.folder import RunFolder
from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV
from fer_lightning.run.snapshot import KeepFirstConfig
from fer_lightning.upstream import HookedLightningCLI, RunCSVLogger, drop_wandb_anonymous

log = logging.getLogger("fer_lightning")
hide_lightning_tips()

DESCRIPTION = "fer-lightning: facial expression recognition experiments."


def _check_distill_loss(model: Any, data: Any) -> None:
    """The model's loss against ``data.distill``, from the parsed config (before any run)."""
    init_args = data.get("init_args") if data is not None and hasattr(data, "get") else None
    distill = init_args.get("distill") if init_args is not None else None
    check_loss(model.get("loss") if model is not None else None, distill)


class FERLightningCLI(HookedLightningCLI):
    def __init__(
        self,
        *args,  # noqa: ANN002
        command: list[str] | None = None,
        experiment: str | None = None,
        **kwargs,  # noqa: ANN003
    ) -> None:
        #: The user's arguments (``--exp`` not yet expanded), recorded in the run directory.
        self.command = command or []
        #: The ``--exp`` name the router expanded, if any (``--experiment`` overrides it).
        self.experiment_given = experiment
        self._fit_started: float | None = None
        super().__init__(*args, **kwargs)

    @staticmethod
    def configure_optimizers(lightning_module, optimizer, lr_scheduler=None):  # noqa: ANN001, ANN205
        """LightningCLI's, with only the parameters still trainable once the training-regime
        callbacks (fer_lightning.models.regimes) have frozen theirs, and a plateau scheduler
        stepped on the epochs that validate."""
        keep_trainable(optimizer)
        config = LightningCLI.configure_optimizers(lightning_module, optimizer, lr_scheduler)
        return plateau_on_validation_epochs(lightning_module, config)

    # ------------------------------------------------- bad input: one sentence, no debris
    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:  # noqa: ANN001
        set_cli_args(parser, args)
        super().parse_arguments(parser, args)
        if self.config.get("subcommand"):  # before Lightning itself loads the checkpoint
            subcommand = self.config.subcommand
            config = self.config[subcommand]
            ckpt_path = config.get("ckpt_path")
            if isinstance(ckpt_path, str) and ckpt_path.endswith(".safetensors"):
                from fer_lightning.inference.bundled import as_checkpoint

                config["ckpt_path"] = str(as_checkpoint(Path(ckpt_path)))
            check_ckpt_path(subcommand, config.get("ckpt_path"), config.get("model"))
            if subcommand == "fit":
                from fer_lightning.models.init_from import check_source

                check_source(config.get("model"))
                _check_distill_loss(config.get("model"), config.get("data"))
            if subcommand == "fit" and not config.get("optimizer"):
                configs = ", ".join(str(c) for c in config.get("config") or []) or "the config"
                raise FERUserError(
                    f"fit needs an optimizer and {configs} names none: add an 'optimizer:' key "
                    "(class_path torch.optim.Adam, init_args lr: 0.001) or pass --optimizer=Adam "
                    "--optimizer.lr=0.001"
                )

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except Exception as err:
            user_error = user_error_of(err)
            self._clean(user_error or err, data_loaded=False)
            if user_error is None:
                raise
            raise user_error from None

    def _check_data_location(self) -> None:
        """A wrong data root, before the trainer is made and the run directory created."""
        check_location = getattr(self.datamodule, "check_location", None)
        if check_location is not None:
            check_location()

    def on_subcommand_error(self, err: BaseException) -> None:
        self._record_fit_time(finished=False)  # stopped by SIGTERM, Ctrl-C or an error
        self._clean(err, data_loaded=getattr(self.datamodule, "splits", None) is not None)
        strategy = getattr(getattr(self, "trainer", None), "strategy", None)
        stuck = distributed.collective_timeout(err, self._cfg().get("ddp_timeout"), strategy)
        if stuck is not None:
            raise stuck from None
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise no_space(Path(err.filename).parent if err.filename else self.run_dir) from None

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--experiment",
            type=str | None,
            default=None,
            help="Run name; default: the name of the --config file.",
        )
        parser.add_argument(
            "--run_dir",
            type=str | None,
            default=None,
            help="Run directory; default runs/<experiment>/<timestamp> "
            "(with --ckpt_path last: the latest run of the experiment).",
        )
        parser.add_argument(
            "--wandb_mode",
            type=Literal["offline", "online", "disabled"] | None,
            default=None,
            help="W&B mode; default $WANDB_MODE, else offline.",
        )
        parser.add_argument("--wandb_project", type=str, default="fer-lightning")
        parser.add_argument(
            "--wandb_log_model",
            type=bool | Literal["all"],
            default=False,
            help="Upload checkpoints to W&B as artifacts (WandbLogger's log_model: true = at "
            "the end of training, the best one aliased 'best'; all = as they are saved).",
        )
        parser.add_argument(
            "--ddp_timeout",
            type=float | None,
            default=None,
            help="Seconds a DDP process waits for the others in one collective before the run "
            f"stops with an error (default {distributed.DEFAULT_TIMEOUT_S}; torch's is 1800).",
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, test the best checkpoint on the test split.",
        )
        callbacks.add_configurable(parser)  # checkpoint, early_stopping, ...
        for source, target in [
            ("num_classes", "num_classes"),
            ("class_names", "class_names"),
            ("channels", "in_chans"),
            ("image_size", "image_size"),
        ]:
            parser.link_arguments(f"data.{source}", f"model.{target}", apply_on="instantiate")

    # ------------------------------------------------------------------- run directory
    def _cfg(self):  # noqa: ANN202 - a jsonargparse Namespace
        return self.config[self.subcommand] if self.subcommand else self.config

    def _experiment_name(self) -> str:
        cfg = self._cfg()
        if cfg.get("experiment"):
            return check_name(cfg.experiment, "--experiment (or the config's experiment key)")
        if self.experiment_given:
            return self.experiment_given
        configs = cfg.get("config") or []
        return Path(str(configs[0])).stem if configs else "default"

    def _run_folder(self) -> RunFolder | None:
        """This run's directory (:meth:`RunFolder.choose`)."""
        cfg = self._cfg()
        return RunFolder.choose(
            self.experiment,
            self.subcommand,
            cfg.get("run_dir"),
            cfg.get("ckpt_path"),
            lambda last: check_ckpt_path("fit", last, cfg.get("model")),
        )

    @property
    def run_dir(self) -> Path | None:
        folder = getattr(self, "run_folder", None)
        return folder.path if folder is not None else None

    def before_instantiate_classes(self) -> None:
        self.experiment = self._experiment_name()
        self.run_folder = self._run_folder()

    def _clean(self, error: BaseException, data_loaded: bool) -> None:
        if getattr(self, "run_folder", None) is not None:
            self.run_folder.clean(error, data_loaded)

    def _loggers(self) -> list[Logger]:
        cfg = self._cfg()
        loggers: list[Logger] = [RunCSVLogger(str(self.run_dir))]
        mode = cfg.get("wandb_mode") or os.environ.get("WANDB_MODE") or "offline"
        if mode not in ("offline", "online", "disabled", "dryrun", "run"):
            raise FERUserError(f"WANDB_MODE '{mode}' is not one of offline, online, disabled")
        if mode != "disabled":
            run_id = self.run_folder.wandb_id()
            wandb = WandbLogger(
                project=cfg.get("wandb_project") or "fer-lightning",
                name=f"{self.experiment}/{self.run_dir.name}",
                save_dir=str(self.run_dir),
                offline=mode in ("offline", "dryrun"),
                id=run_id,
                resume="allow" if run_id else None,
                # Lightning refuses log_model offline; after_fit then logs the best itself.
                log_model=cfg.get("wandb_log_model") or False if mode == "online" else False,
                group=self.experiment,
            )
            drop_wandb_anonymous(wandb)
            loggers.append(wandb)
        return loggers

    def instantiate_trainer(self, **kwargs):  # noqa: ANN003, ANN201
        if self.run_dir is not None:  # without a run (fer_lightning.build) nothing is refused
            self._check_data_location()
        trainer_cfg = self.trainer_settings()
        if trainer_cfg.get("precision") is None:  # what the hardware does natively
            kwargs["precision"] = auto_precision(trainer_cfg.get("accelerator"))
            precision_note = describe_precision(kwargs["precision"], trainer_cfg.get("accelerator"))
        else:
            precision_note = f"{trainer_cfg.get('precision')} (--trainer.precision)"
        if trainer_cfg.get("logger") in (None, True) and self.run_dir is None:
            kwargs["logger"] = False  # no run directory to log into (fer_lightning.build)
        elif trainer_cfg.get("logger") in (None, True):
            if distributed.first_process():  # the other processes write nothing of the run
                self.run_folder.create()
            kwargs["logger"] = self._loggers()
        given = trainer_cfg.get("callbacks") or []  # the experiment's own (regimes)
        progress_bar = trainer_cfg.get("enable_progress_bar") is not False
        kwargs["callbacks"] = [
            *(given if isinstance(given, list) else [given]),
            *callbacks.always_on(self.experiment, progress_bar),
        ]
        if not trainer_cfg.get("plugins"):  # a half-written checkpoint never takes a real name
            kwargs["plugins"] = [AtomicCheckpointIO()]
        if self.run_dir is not None:
            kwargs.setdefault("default_root_dir", str(self.run_dir))
        trainer = super().instantiate_trainer(**kwargs)
        distributed.bound_collectives(trainer.strategy, self._cfg().get("ddp_timeout"))
        if rank_zero_only.rank == 0:  # said once the Trainer accepted its settings
            log.info("precision: %s", precision_note)
        return trainer

    # ------------------------------------------------------------------------- hooks
    def _cross_dataset(self) -> None:
        """A checkpoint trained on other classes (e.g. FER2013 tested on CK+): map by name."""
        ckpt = self._cfg().get("ckpt_path")
        if ckpt and Path(ckpt).is_file():
            model = crossdataset.prepare(self.model, self.datamodule, ckpt, self.run_dir)
            if model is not None:  # the weights are loaded; Lightning must not load them again
                self.model = model
                self.config_init[self.subcommand]["ckpt_path"] = None
                for callback in self.trainer.callbacks:
                    if isinstance(callback, EvaluationReport):  # the report still names it
                        callback.note_loaded(ckpt, safe_load(ckpt))

    def _record_command(self) -> None:
        if rank_zero_only.rank == 0:
            self.run_folder.record_command(self.command)

    def before_test(self) -> None:
        self._record_command()  # a test-only run is published too: it says how it was made
        self._cross_dataset()

    before_validate = before_test

    def before_predict(self) -> None:
        self._record_command()

    def before_fit(self) -> None:
        self._fit_started = time.monotonic()
        self._record_command()
        for logger in self.trainer.loggers:
            if isinstance(logger, WandbLogger) and self.trainer.is_global_zero:
                self.run_folder.keep_wandb_id(logger.experiment.id)
        if rank_zero_only.rank == 0:
            log.info("run directory: %s", self.run_dir)
            log.info("parameters: %s", f"{self.model.num_parameters():,}")

    def _record_fit_time(self, finished: bool) -> None:
        """Add the fit's wall time to the run's ``timing.json``, once, however the fit ended, so
        that a run stopped and resumed adds up all of its fits; ``finished``: it was not
        stopped (what a resumed sweep asks)."""
        started, self._fit_started = self._fit_started, None
        if started is None or not self.trainer.is_global_zero:
            return
        try:
            self.run_folder.add_fit_time(time.monotonic() - started, finished)
        except OSError as err:  # e.g. the disk filled up: the error being handled matters more
            if finished:
                raise
            log.warning("could not record the fit's time in %s: %s", self.run_dir, err)

    def after_fit(self) -> None:
        self._record_fit_time(finished=True)  # a stopped fit raises past this (on_subcommand_error)
        if not self._cfg().get("test_after_fit") or self.trainer.interrupted:
            return
        best = next(
            (cb.best_model_path for cb in self.trainer.checkpoint_callbacks if cb.monitor), ""
        )
        # The checkpoint's weights are what is tested. A weight-averaging callback still holding
        # its fit would load the last step's weights (current_model_state) over the average the
        # checkpoint's state_dict holds, so the report would not describe the saved model.
        averaging = [c for c in self.trainer.callbacks if isinstance(c, WeightAveraging)]
        self.trainer.callbacks = [c for c in self.trainer.callbacks if c not in averaging]
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)
        if best and self._cfg().get("wandb_log_model") and self.trainer.is_global_zero:
            log_checkpoint_artifact(self.trainer.loggers, Path(best))


def run_cli(args: list[str], **changes: Any) -> FERLightningCLI:
    """Run LightningCLI on ``args``, ``--config`` files named as they are (``--exp`` is the
    router's): what :func:`run` and the commands that run several fits call."""
    with cli_session():
        return make_cli(args, **changes)


def run(
    args: list[str], command: list[str], experiment: str | None, description: str = DESCRIPTION
) -> FERLightningCLI:
    """``fer-lightning fit|validate|test|predict``: ``args`` as :func:`fer_lightning.main`
    expanded them, ``command`` as the user typed it (recorded in the run), ``experiment`` the
    ``--exp`` name."""
    parser_kwargs = {"description": description}
    return run_cli(args, command=command, experiment=experiment, parser_kwargs=parser_kwargs)


@contextlib.contextmanager
def cli_session() -> Iterator[None]:
    """Around one LightningCLI in this process: its run directory is not inherited by the
    next one, its W&B run is closed, and warnings nobody can act on are not shown."""
    inherited = os.environ.get(INHERITED_RUN_DIR_ENV)  # set when DDP relaunched this script
    try:
        with warnings.catch_warnings():
            # main() hands over sys.argv after expanding --exp; that is intended.
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            # Lightning 2.6 calls a torch pytree API torch deprecated; nothing a user can do.
            warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
            yield
    finally:
        if inherited is None:
            os.environ.pop(INHERITED_RUN_DIR_ENV, None)
        _finish_wandb()


def _finish_wandb() -> None:
    """Close this run's W&B run: Lightning leaves it open, and a later run in the same process
    (a notebook, the tests) would otherwise log into it."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def make_cli(
    args: list[str], cli_class: type[FERLightningCLI] = FERLightningCLI, **changes: Any
) -> FERLightningCLI:
    """``cli_class`` (this module's CLI or a subclass of it) on ``args``, with the settings
    every ``fer-lightning`` command shares; ``changes`` replace some of them."""
    settings: dict[str, Any] = {
        "command": args,
        "subclass_mode_data": True,
        "seed_everything_default": 0,
        "save_config_kwargs": {"overwrite": True, "config_filename": layout.CONFIG_YAML},
        "save_config_callback": KeepFirstConfig,
        "parser_class": FERArgumentParser,
        "parser_kwargs": {"description": DESCRIPTION},
    }
    return cli_class(FERClassifier, FERDataModule, args=args, **settings | changes)


if __name__ == "__main__":  # 'python -m fer_lightning.cli ...' (older scripts): the entry point
    import runpy

    runpy.run_module("fer_lightning", run_name="__main__")
