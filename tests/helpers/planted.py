"""Bugs planted on purpose, for the tests that must see them caught."""

from __future__ import annotations

import lightning as L
import torch
import torch.distributed as dist


class RankZeroCollective(L.Callback):
    """After the first validation, rank 0 alone enters an all_reduce: the other processes never
    join it, which is the shape of the progress-bar deadlock (a collective only rank 0 reaches).
    """

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if dist.is_available() and dist.is_initialized() and trainer.global_rank == 0:
            dist.all_reduce(torch.zeros(1))
