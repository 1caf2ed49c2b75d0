"""Stopping a training run on SIGTERM or Ctrl-C: finish the step, save where the run is, say how
to resume, exit non-zero.

``timeout``, ``docker stop``, ``scancel`` and preemption send SIGTERM. Lightning's signal
connector turns it into a ``SIGTERMException`` after the current training batch (a
``SystemExit`` with status 0, so a killed run would look like a success to a scheduler). Ctrl-C
raises ``KeyboardInterrupt`` wherever the program happens to be, possibly half-way through an
optimizer step. :class:`GracefulStop` routes the first Ctrl-C of a fit through the same path as
SIGTERM (a second one stops at once, without saving), writes ``last.ckpt`` when the stop comes,
and :func:`exit_status` gives the conventional status, 128 + the signal (130, 143).

The checkpoint holds the loops' progress and the training loader's position in the epoch
(:class:`fer_lightning.data.sampling.ResumableLoader`), so ``--ckpt_path last`` continues from
the next batch, with the order and augmentation the run would have had
(:class:`fer_lightning.callbacks.EpochSeed`).
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from fer_lightning.run.layout import last_checkpoint

log = logging.getLogger("fer_lightning")


def exit_status(stop: BaseException) -> int:
    """128 + the signal that stopped the run (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(getattr(stop, "signum", signal.SIGTERM))


class GracefulStop(L.Callback):
    """On SIGTERM or a first Ctrl-C during a fit, save ``<checkpoints>/last.ckpt`` after the
    current training batch and log one line saying how to resume.

    Args:
        experiment: the experiment name, for the ``make train EXP=... RESUME=1`` hint.
    """

    def __init__(self, experiment: str | None = None) -> None:
        self.experiment = experiment
        self.signum: int | None = None
        self._previous_sigint: Any = None

    # ----------------------------------------------------------------- Ctrl-C as SIGTERM
    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # pressed again: stop now
            raise KeyboardInterrupt
        self.signum = signal.SIGINT
        log.info("Ctrl-C: stopping after this training step (press it again to stop at once)")
        signal.raise_signal(signal.SIGTERM)  # Lightning's handler: stop after the batch

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After Lightning registered its SIGTERM handler, which then runs for this SIGTERM;
        # Lightning also restores the SIGINT handler it found when the fit ends.
        self.signum = None
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def _restore(self) -> None:
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    # ---------------------------------------------------------------------------- the stop
    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore()
        if not isinstance(exception, SIGTERMException):
            return
        signum = self.signum or signal.SIGTERM
        exception.signum = signum  # type: ignore[attr-defined]  # for exit_status
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if trainer.state.fn != TrainerFn.FITTING:
            if trainer.is_global_zero:
                log.info("stopped by %s", name)
            return
        loop = trainer.fit_loop.epoch_loop
        where = (
            f"epoch {trainer.current_epoch}, batch {loop.batch_progress.current.completed} of "
            f"{trainer.num_training_batches}"
        )
        if trainer.global_step == 0:
            if trainer.is_global_zero:
                log.info("stopped by %s before the first training step: nothing to resume", name)
            return
        path = self._checkpoint_path(trainer)
        trainer.save_checkpoint(path)  # every process takes part; rank 0 writes
        if trainer.is_global_zero:
            hint = f"make train EXP={self.experiment} RESUME=1, or " if self.experiment else ""
            log.info(
                "stopped by %s at %s; saved %s. Resume: %sthe same command with --ckpt_path %s",
                name,
                where,
                path,
                hint,
                path,
            )

    @staticmethod
    def _checkpoint_path(trainer: L.Trainer) -> Path:
        """``last.ckpt`` beside the run's other checkpoints: what ``--ckpt_path last`` (and
        ``RESUME=1``) picks."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                name = ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION
                return Path(callback.dirpath) / name
        return last_checkpoint(Path(trainer.default_root_dir))
