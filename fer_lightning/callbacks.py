"""Callbacks Lightning does not ship in the form the papers or the fault-tolerance goals need."""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader

from fer_lightning.errors import FERUserError


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
        # Each process logs its own rate; the sum over processes is the run's rate.
        rate = torch.tensor(self._images / seconds)
        pl_module.log("train/images_per_sec", rate, sync_dist=True, reduce_fx="sum")
        pl_module.log("train/epoch_time_s", torch.tensor(seconds), sync_dist=True)


# --------------------------------------------------------------------------- reproducibility
def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed for training epoch ``epoch`` on process ``rank`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def _train_datasets(trainer: L.Trainer) -> list[Any]:
    loaders = trainer.train_dataloader
    if loaders is None:
        return []
    if isinstance(loaders, CombinedLoader):
        loaders = loaders.flattened
    loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
    return [getattr(loader, "dataset", None) for loader in loaders]


def _albumentations_of(dataset: Any) -> Any:
    """The albumentations pipeline of ``dataset`` or of the dataset it wraps (such as
    TenCropDataset), which keeps its own random state; None if there is none."""
    while dataset is not None:
        transform = getattr(dataset, "transform", None)
        if hasattr(transform, "set_random_seed"):
            return transform
        dataset = getattr(dataset, "dataset", None)
    return None


class EpochSeed(L.Callback):
    """Derive every training epoch's randomness from ``(seed, epoch, rank)`` alone.

    Lightning seeds once per run and saves no random state in checkpoints, so a run resumed
    from ``last.ckpt`` would otherwise shuffle, augment and drop out differently from the run it
    continues. At the start of each training epoch this reseeds torch, numpy and ``random`` and
    the main-process augmentation pipeline. What the epoch then draws follows from that seed:
    the sampler's shuffle and the DataLoader workers' base seed are drawn from torch's
    generator when the loader is iterated (after this hook; the first epoch of a fit gets a new
    iterator for that), each worker reseeds its albumentations pipeline from its torch seed
    (``seed_worker_transform``), and dropout draws from the reseeded generator. Lightning's
    ``DistributedSampler`` shuffles by ``(seed, epoch)`` itself. So an epoch repeats exactly
    whether or not the run was interrupted before it, with any number of workers.

    Resuming is exact from checkpoints written at the end of an epoch (``last.ckpt`` after
    each validation); a checkpoint from the middle of an epoch (``val_check_interval`` < 1)
    restarts that epoch's data order. Does nothing when the run is not seeded
    (``seed_everything: false``).
    """

    def __init__(self) -> None:
        self._iterator_predates_epoch = False

    def _reseed(self, trainer: L.Trainer) -> None:
        base = os.environ.get("PL_GLOBAL_SEED")
        if base is None:
            return
        seed = epoch_seed(int(base), trainer.current_epoch, trainer.global_rank)
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        for dataset in _train_datasets(trainer):
            transform = _albumentations_of(dataset)
            if transform is not None:
                transform.set_random_seed(seed)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning creates the first epoch's loader iterator (drawing the workers' base seed)
        # while setting up the fit, before any epoch hook; later epochs create it after
        # on_train_epoch_start. That first epoch is epoch 0 of a new run but epoch k of a
        # resumed one, so it must be made again after reseeding (below).
        self._iterator_predates_epoch = True
        self._reseed(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reseed(trainer)
        if self._iterator_predates_epoch:
            self._iterator_predates_epoch = False
            fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
            if fetcher is not None:
                iter(fetcher)  # what Lightning itself does at the start of later epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._iterator_predates_epoch = False


# ------------------------------------------------------------------------------- faults
class TrainingDiverged(FERUserError):
    """The training loss became NaN or infinite."""


def _last_good_checkpoint(trainer: L.Trainer) -> Path | None:
    paths = []
    for callback in trainer.checkpoint_callbacks:
        for name in ("last_model_path", "best_model_path"):
            value = getattr(callback, name, "")
            if value and Path(value).is_file():
                paths.append(Path(value))
    return max(paths, key=lambda p: p.stat().st_mtime_ns) if paths else None


class FiniteLoss(L.Callback):
    """Stop training at the first NaN or infinite loss, before it reaches the weights.

    The check runs before the backward pass, so neither the weights in memory nor any
    checkpoint (``last.ckpt`` is only written after validation) see the bad step. Under DDP
    the processes agree on the decision, so all of them stop together instead of one waiting
    for the others' gradients. The error names the epoch, the step and the last checkpoint.
    """

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        value = loss.detach().float().cpu().reshape(-1)[0].item()
        if math.isnan(value):
            what = "NaN"
        elif math.isinf(value):
            what = "infinite"
        else:
            what = "NaN or infinite on another process"
        last = _last_good_checkpoint(trainer)
        keep = f"the last good checkpoint is {last}" if last else "no checkpoint was saved yet"
        raise TrainingDiverged(
            f"training stopped: the loss became {what} at epoch {trainer.current_epoch}, "
            f"step {trainer.global_step} (batch {trainer.fit_loop.epoch_loop.batch_idx} of the "
            f"epoch), before it reached the weights; {keep} (lower the learning rate, then "
            "resume with --ckpt_path last)"
        )
