"""A callback that stops a fit as a scheduler does, at a chosen training batch, in-process."""

from __future__ import annotations

import signal
from typing import Any

import lightning as L


class SigtermAt(L.Callback):
    """Send this process SIGTERM as training batch ``batch`` of epoch ``epoch`` starts:
    Lightning stops after that batch and :class:`fer_lightning.callbacks.GracefulStop` saves
    ``last.ckpt`` in the middle of the epoch, as on ``timeout`` or ``scancel``."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if (trainer.current_epoch, batch_idx) == self.at:
            signal.raise_signal(signal.SIGTERM)
