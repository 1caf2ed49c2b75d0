"""Callbacks Lightning does not ship in the form the papers report."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch


class TrainingSpeed(L.Callback):
    """Logs ``train/images_per_sec`` (all processes together, data loading included) and
    ``train/epoch_time_s`` at the end of every training epoch."""

    def __init__(self) -> None:
        self._start = 0.0
        self._images = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        self._images = 0

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        self._images += len(x)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seconds = time.perf_counter() - self._start
        if seconds <= 0 or self._images == 0:
            return
        rate = torch.tensor(self._images / seconds * trainer.world_size)
        pl_module.log("train/images_per_sec", rate, on_epoch=True, prog_bar=False)
        pl_module.log("train/epoch_time_s", torch.tensor(seconds), on_epoch=True)
