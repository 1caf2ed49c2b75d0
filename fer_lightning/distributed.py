"""Evaluation under DDP: every image counted exactly once.

Lightning gives each process a ``DistributedSampler``, which pads the split with repeated
images until it divides by the number of processes, so validation and test metrics would count
those images twice (PublicTest has 3,589 images: with 2 GPUs one is counted twice). Lightning's
``UnrepeatedDistributedSampler`` shards without padding (the processes may get one batch more or
less); metrics are synchronised once per epoch (torchmetrics, ``sync_dist``), so uneven shards are
safe, and the result equals a single-process evaluation.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import Dataset


def eval_sampler(trainer: Any, dataset: Dataset) -> UnrepeatedDistributedSampler | None:
    """A sampler giving each process a disjoint share of ``dataset`` when ``trainer`` runs on
    several processes; None (Lightning's default, sequential) otherwise."""
    if trainer is None or getattr(trainer, "world_size", 1) <= 1:
        return None
    return UnrepeatedDistributedSampler(
        dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
    )
