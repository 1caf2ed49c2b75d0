"""One command's run directory, from its name to its last record: which directory
(``--run_dir``, the launching process's under DDP, the resumed run's, else a new one), checked
before anything is made, claimed when the Trainer is made, removed again when the command fails
with a user error before its data is loaded, its W&B run id kept for a resume, and what it
records of the commands that trained it (:mod:`fer_lightning.run.record`).

Light on purpose (no torch, no Lightning)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.run import layout, record
from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV

#: ``--ckpt_path`` values that name no file.
SPECIAL_CKPT = ("last", "best", "hpc", "registry")


def _earlier_run(ckpt_path: str | None) -> Path | None:
    """The run directory holding ``ckpt_path`` (``<run>/checkpoints/x.ckpt``), if it is one."""
    if not ckpt_path or ckpt_path in SPECIAL_CKPT:
        return None
    run = layout.run_of_checkpoint(ckpt_path)
    if run is not None and Path(ckpt_path).is_file() and layout.config_of(run).exists():
        return run
    return None


class RunFolder:
    """The run directory of one fit / validate / test / predict.

    Args:
        path: the directory, named (and checked) but perhaps not created yet.
        experiment: the run's experiment name.
        explicit: given by ``--run_dir`` (errors name the option).
        fresh: a new directory, claimed under this or a numbered name when it is created.
    """

    def __init__(self, path: Path, experiment: str, explicit: bool, fresh: bool) -> None:
        self.path = path
        self.experiment = experiment
        self.explicit = explicit
        self.fresh = fresh
        layout.check_run_dir(path, explicit=explicit)
        os.environ[INHERITED_RUN_DIR_ENV] = str(path)  # DDP's other processes use this one
        # The directories this command would create: the run's and its missing parents
        # (runs/<experiment>/, runs/).
        self._missing = layout.missing_dirs(path)
        #: What this process created: nothing until it creates the run directory (the other
        #: processes of a multi-node run name it too, and must never remove rank 0's).
        self.created: list[Path] = []

    @classmethod
    def choose(
        cls,
        experiment: str,
        subcommand: str | None,
        run_dir: str | None,
        ckpt_path: str | None,
        check_ckpt: Callable[[str], None],
    ) -> RunFolder:
        """This command's run directory: ``--run_dir``, the one of the process that launched
        this one (DDP), the resumed run's (a fit from a checkpoint of a run, or from ``last``:
        the experiment's latest run, whose ``last.ckpt`` gets ``check_ckpt``), else a new one
        (``<stamp>``, or ``<stamp>-<subcommand>`` outside fit)."""
        if run_dir:
            return cls(Path(run_dir), experiment, explicit=True, fresh=False)
        if os.environ.get(INHERITED_RUN_DIR_ENV):
            return cls(Path(os.environ[INHERITED_RUN_DIR_ENV]), experiment, False, False)
        if subcommand == "fit" and (earlier := _earlier_run(ckpt_path)):
            return cls(earlier, experiment, explicit=False, fresh=False)
        if subcommand == "fit" and ckpt_path == "last":
            found = layout.latest_run(experiment)
            if found is None:
                last = layout.last_checkpoint(Path()).as_posix()
                raise FERUserError(
                    f"--ckpt_path last: no run of '{experiment}' under "
                    f"{layout.runs_root()} has {last} to resume from"
                )
            check_ckpt(str(layout.last_checkpoint(found)))
            return cls(found, experiment, explicit=False, fresh=False)
        kind = None if subcommand == "fit" else subcommand
        path = layout.new_run_dir(experiment, kind)  # named only; claimed by create()
        return cls(path, experiment, explicit=False, fresh=True)

    # ------------------------------------------------------------------------- creating
    def create(self) -> None:
        """A new run directory is claimed atomically (another command may have taken its name
        in the same second: this one then gets ``-1``); an explicit or resumed one may exist.
        The processes DDP launches later inherit the name this one got."""
        if self.fresh:
            self.path = layout.claim_run_dir(self.path)
            os.environ[INHERITED_RUN_DIR_ENV] = str(self.path)
        else:
            layout.make_run_dir(self.path, explicit=self.explicit)
        # perhaps under another name (``-1``: its first name was taken by another command
        # meanwhile, which must not lose it)
        self.created = [self.path, *self._missing[1:]] if self._missing else []

    def clean(self, error: BaseException, data_loaded: bool) -> None:
        """Remove the run directory (and its W&B offline run) that this command created when
        the command fails with a user error before its data is loaded: a bad option or data
        root leaves no half-made run behind. An existing directory (a resumed run) is never
        removed."""
        if data_loaded or not isinstance(error, FERUserError) or not self.created:
            return
        wandb = sys.modules.get("wandb")
        if wandb is not None and getattr(wandb, "run", None) is not None:
            # before its files are removed; without W&B's lines advertising a 'wandb sync' of
            # the folder about to go
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                wandb.finish(exit_code=1)
        shutil.rmtree(self.created[0], ignore_errors=True)  # the run directory
        layout.remove_empty(self.created[1:])  # only if empty: another run may be there

    # ------------------------------------------------------------------------ recording
    def wandb_id(self) -> str | None:
        """The W&B run id of an earlier command on this run, which a resume continues."""
        id_file = self.path / layout.WANDB_ID
        return id_file.read_text().strip() if id_file.exists() else None

    def keep_wandb_id(self, run_id: str) -> None:
        (self.path / layout.WANDB_ID).write_text(run_id)

    def record_command(self, args: list[str]) -> None:
        record.record_command(self.path, args)

    def add_fit_time(self, seconds: float, finished: bool = True) -> None:
        record.add_fit_time(self.path, seconds, finished)
