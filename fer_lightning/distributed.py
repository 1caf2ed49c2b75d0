"""Evaluation under DDP: every image counted exactly once.

Lightning gives each process a ``DistributedSampler``, which pads the split with repeated
images until it divides by the number of processes, so validation and test metrics would count
those images twice (PublicTest has 3,589 images: with 2 GPUs one is counted twice). Lightning's
``UnrepeatedDistributedSampler`` shards without padding (the processes may get one batch more or
less); metrics are synchronised once per epoch (torchmetrics, ``sync_dist``), so uneven shards are
safe, and the result equals a single-process evaluation.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import Dataset

from fer_lightning.errors import FERUserError

#: How long a process waits in one collective (all_reduce, all_gather, barrier) for the others
#: before the run stops, by default. torch's own default is 30 minutes; no step of a FER run
#: keeps the other processes waiting that long (the longest is rank 0 writing the test report).
DEFAULT_TIMEOUT_S = 600


def eval_sampler(trainer: Any, dataset: Dataset) -> UnrepeatedDistributedSampler | None:
    """A sampler giving each process a disjoint share of ``dataset`` when ``trainer`` runs on
    several processes; None (Lightning's default, sequential) otherwise."""
    if trainer is None or getattr(trainer, "world_size", 1) <= 1:
        return None
    return UnrepeatedDistributedSampler(
        dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
    )


def bound_collectives(strategy: Any, seconds: float | None) -> None:
    """Make every collective of ``strategy`` give up after ``seconds`` (default
    :data:`DEFAULT_TIMEOUT_S`) instead of hanging: the processes stop with an error that
    :func:`collective_timeout` turns into one sentence. A timeout the user set on the strategy
    itself is kept.

    Relies on ``DDPStrategy._timeout`` (Lightning 2.x), read when the process group starts,
    which is after the Trainer is built; a strategy given as a string ("ddp", "ddp_spawn")
    or chosen by "auto" has no other way in."""
    if not isinstance(strategy, DDPStrategy):
        return
    if seconds is not None:
        strategy._timeout = timedelta(seconds=seconds)
    elif strategy._timeout in (None, default_pg_timeout):
        strategy._timeout = timedelta(seconds=DEFAULT_TIMEOUT_S)


def collective_timeout(
    err: BaseException, seconds: float | None, strategy: Any
) -> FERUserError | None:
    """The sentence for a collective of a DDP ``strategy`` that waited past its timeout (gloo:
    "Timed out waiting", "Connection closed by peer" when the other process gave up first;
    NCCL: "Watchdog caught collective operation timeout"), else None (a single process's
    "timed out", a DataLoader's say, is not a collective's)."""
    if not isinstance(strategy, DDPStrategy):
        return None
    text = str(err)
    markers = ("Timed out", "timed out", "Connection closed by peer", "Watchdog caught")
    if not isinstance(err, RuntimeError) or not any(m in text for m in markers):
        return None
    limit = int(seconds if seconds is not None else DEFAULT_TIMEOUT_S)
    return FERUserError(
        f"a training process waited more than {limit} s for the others in a collective "
        "operation (all_reduce/all_gather/barrier) and the run stopped: one process is stuck "
        "or died, or the processes reached different collectives; resume from the run's "
        f"last.ckpt with --ckpt_path last, or raise --ddp_timeout (now {limit} s) if one step "
        "legitimately takes longer"
    )


def first_process() -> bool:
    """Whether this process will be global rank 0, known before the Trainer exists (Lightning
    sets its own rank only while building it, and this process must decide beforehand whether
    it creates the run directory). Launchers say it in the environment: ``RANK`` (torchrun),
    ``NODE_RANK``/``LOCAL_RANK`` (Lightning's own launcher on each node, the processes it
    starts), ``SLURM_PROCID`` (srun); nothing set: a single process."""
    env = os.environ
    if env.get("RANK"):
        return int(env["RANK"]) == 0
    if env.get("NODE_RANK") or env.get("LOCAL_RANK"):
        return int(env.get("NODE_RANK") or 0) == 0 and int(env.get("LOCAL_RANK") or 0) == 0
    if env.get("SLURM_PROCID"):
        return int(env["SLURM_PROCID"]) == 0
    return True
