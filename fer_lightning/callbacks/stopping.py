"""Whatever ends training — ``max_epochs``, ``max_steps`` in the middle of an epoch,
``max_time`` — the last training step is validated, so the run keeps a best and a last
checkpoint and early stopping has its metric.

Lightning validates at the end of each ``check_val_every_n_epoch``-th epoch (or every
``val_check_interval`` batches) and at a batch where training is asked to stop
(``trainer.should_stop``). A ``max_steps`` reached in the middle of an epoch is not such a
request, so the run ended unvalidated: ``EarlyStopping`` failed on the missing ``val/acc`` and
no checkpoint was written. Neither was the last stretch validated when ``val_check_interval`` or
``check_val_every_n_epoch`` did not divide the run's length.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from fer_lightning.errors import FERUserError
from fer_lightning.upstream import trainer_of

_UNSET = object()


def _is_limit(value: Any) -> bool:
    return value is not None and value != -1 and value != float("inf")


class ValidateLastStep(L.Callback):
    """At the last training batch of a fit, ask Lightning to stop there (which makes it
    validate) and lift ``check_val_every_n_epoch`` for that epoch if it would skip it.

    Every process takes the same decision: the step and batch counters are the same on all of
    them and ``Timer`` reduces its own decision across processes before this runs.
    """

    def __init__(self) -> None:
        self._every_n_epochs: Any = _UNSET

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and 0 in (trainer.max_epochs, trainer.max_steps):
            option = "max_epochs" if trainer.max_epochs == 0 else "max_steps"
            raise FERUserError(
                f"--trainer.{option}=0 trains nothing; give it a positive value, or evaluate a "
                "checkpoint with 'fer-lightning test --ckpt_path FILE'"
            )
        if stage == "fit" and trainer.limit_val_batches == 0:
            followers = _followers_of_validation(trainer)
            if followers:
                raise FERUserError(
                    "--trainer.limit_val_batches=0 turns validation off, but "
                    f"{' and '.join(followers)} follow validation metrics; validate on fewer "
                    "images instead (e.g. --trainer.limit_val_batches=0.2: a class-stratified "
                    "subset)"
                )
        # After Timer, so that a time limit reached at this batch is seen here.
        callbacks = trainer.callbacks
        timers = [i for i, cb in enumerate(callbacks) if isinstance(cb, Timer)]
        if timers and callbacks.index(self) < timers[-1]:
            callbacks.remove(self)
            callbacks.insert(timers[-1], self)

    @staticmethod
    def last_batch_of_fit(trainer: L.Trainer, batch_idx: int) -> bool:
        if trainer.should_stop:  # e.g. Timer at max_time; Lightning honours it after min_*
            loop = trainer.fit_loop
            return trainer.current_epoch + 1 >= (loop.min_epochs or 0) and (
                trainer.global_step >= (loop.min_steps or 0)
            )
        if _is_limit(trainer.max_steps) and trainer.global_step >= trainer.max_steps:
            return True
        last_of_epoch = batch_idx + 1 >= trainer.num_training_batches
        return (
            last_of_epoch
            and _is_limit(trainer.max_epochs)
            and trainer.current_epoch + 1 >= trainer.max_epochs
        )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not trainer.enable_validation or not self.last_batch_of_fit(trainer, batch_idx):
            return
        trainer.should_stop = True
        every = trainer.check_val_every_n_epoch
        if every is not None and (trainer.current_epoch + 1) % every != 0:
            self._every_n_epochs = every
            trainer.check_val_every_n_epoch = None  # validate this epoch too

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._every_n_epochs is not _UNSET:
            trainer.check_val_every_n_epoch = self._every_n_epochs
            self._every_n_epochs = _UNSET


def _followers_of_validation(trainer: L.Trainer) -> list[str]:
    """What in this fit needs a validation metric: early stopping, the best checkpoint, a
    plateau LR scheduler (as the option names that set their monitors)."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    found = []
    for callback in trainer.callbacks:
        monitor = str(getattr(callback, "monitor", None) or "")
        if not monitor.startswith("val/"):
            continue
        if isinstance(callback, EarlyStopping):
            found.append(f"early stopping (--early_stopping.monitor={monitor})")
        elif isinstance(callback, ModelCheckpoint):
            found.append(f"the best checkpoint (--checkpoint.monitor={monitor})")
    return found


def plateau_on_validation_epochs(lightning_module: L.LightningModule, config: Any) -> Any:
    """``configure_optimizers``' result with a ``ReduceLROnPlateau`` stepped only at the end of
    the epochs that validate (every ``check_val_every_n_epoch``-th): Lightning steps it every
    epoch and fails at the first epoch without its validation metric."""
    trainer = trainer_of(lightning_module)
    every = getattr(trainer, "check_val_every_n_epoch", 1)
    if not isinstance(config, dict) or not isinstance(config.get("lr_scheduler"), dict):
        return config
    scheduler = config["lr_scheduler"]
    if isinstance(scheduler.get("scheduler"), ReduceLROnPlateau) and isinstance(every, int):
        scheduler.setdefault("frequency", every)
    return config
