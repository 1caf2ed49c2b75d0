"""Callbacks of every training run that Lightning does not ship in the form the papers or the
fault-tolerance goals need: the training speed, exact resume (seeding), the NaN stop."""

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

from fer_lightning.data.sampling import ResumableLoader
from fer_lightning.errors import FERUserError
from fer_lightning.upstream import restart_train_iterator


class TrainingSpeed(L.Callback):
    """Logs ``train/images_per_sec`` (all processes together, data loading included) and
    ``train/epoch_time_s`` at the end of every training epoch.

    An epoch that a fit resumes in its middle (a checkpoint written on SIGTERM or Ctrl-C) counts
    the seconds and images before the stop, which the checkpoint keeps, plus those after the
    resume; the time the run was stopped is not counted. Lightning calls no
    ``on_train_epoch_start`` for such an epoch, so the clock starts at its first batch.
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._images = 0
        self._carried = (0.0, 0)  # (seconds, images) of this epoch before a resume

    def _elapsed(self) -> float:
        return 0.0 if self._start is None else time.perf_counter() - self._start

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        self._images = 0
        self._carried = (0.0, 0)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._start is None:  # resumed in the middle of the epoch
            seconds, self._images = self._carried
            self._start = time.perf_counter() - seconds

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
        if self._start is None:  # resumed after the epoch's last batch
            seconds, self._images = self._carried
        else:
            seconds = self._elapsed()
        self._start, self._carried = None, (0.0, 0)
        if seconds <= 0 or self._images == 0:
            return
        # The sum of the processes' rates is the run's rate. Reduced here, where every DDP
        # process is, not lazily where a value is first read (rank 0's progress bar): see
        # FERClassifier._log_epoch_metrics.
        reduce = trainer.strategy.reduce
        rate = reduce(torch.tensor(self._images / seconds), reduce_op="sum")
        pl_module.log("train/images_per_sec", rate)
        pl_module.log("train/epoch_time_s", reduce(torch.tensor(seconds), reduce_op="mean"))

    def state_dict(self) -> dict[str, Any]:
        if self._start is None:
            seconds, images = self._carried
        else:
            seconds, images = self._elapsed(), self._images
        return {"epoch_seconds": seconds, "epoch_images": images}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._start = None
        self._carried = (
            float(state_dict.get("epoch_seconds", 0.0)),
            int(state_dict.get("epoch_images", 0)),
        )


# --------------------------------------------------------------------------- reproducibility
def _train_loaders(trainer: L.Trainer) -> list[Any]:
    loaders = trainer.train_dataloader
    if loaders is None:
        return []
    if isinstance(loaders, CombinedLoader):
        loaders = loaders.flattened
    if isinstance(loaders, dict):
        return list(loaders.values())
    return list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]


class EpochSeed(L.Callback):
    """Make every training step's randomness a function of ``(seed, epoch, step)`` alone, so a
    run resumed from any checkpoint, even one written in the middle of an epoch, continues
    exactly as the uninterrupted run would have.

    Lightning seeds once per run and saves no random state in checkpoints. The data side is
    :class:`fer_lightning.data.sampling.EpochSampler`: the epoch's order and each item's
    augmentation seed follow from ``(seed, epoch)``, whichever worker makes the item (so
    workers may persist across epochs), and its loader
    (:class:`~fer_lightning.data.sampling.ResumableLoader`) keeps in Lightning's checkpoints how
    many batches of the epoch were done, which this callback tells it after every batch; a
    resumed run starts the epoch after them. The model side: before every training batch this
    reseeds torch, numpy and ``random`` from ``(seed, epoch, rank, batch)``, so dropout (and
    anything else drawn in the step) does not depend on the steps before it.

    Lightning creates the first epoch's loader iterator while setting up the fit, before it
    sets the sampler's epoch; the iterator is made again at the start of that epoch. Does
    nothing when the run is not seeded (``seed_everything: false``).
    """

    def __init__(self) -> None:
        self._iterator_predates_epoch = False

    @staticmethod
    def _seed(trainer: L.Trainer, *more: int) -> int | None:
        base = os.environ.get("PL_GLOBAL_SEED")
        if base is None:
            return None
        words = [int(base), trainer.current_epoch, trainer.global_rank, *more]
        return int(np.random.SeedSequence(words).generate_state(1)[0])

    def _reseed(self, trainer: L.Trainer, *more: int) -> None:
        seed = self._seed(trainer, *more)
        if seed is None:
            return
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._iterator_predates_epoch = True
        self._reseed(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reseed(trainer)
        if self._iterator_predates_epoch:
            self._iterator_predates_epoch = False
            restart_train_iterator(trainer)  # what Lightning does at later epochs' start

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._reseed(trainer, batch_idx)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        # Checkpoint callbacks run after this one (Lightning orders them last), and a stop on
        # SIGTERM comes after every batch-end hook: both see this batch as done.
        for loader in _train_loaders(trainer):
            if isinstance(loader, ResumableLoader):
                loader.batches_done(trainer.current_epoch, batch_idx + 1)

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
