"""The training sampler: an order and augmentation seeds that depend on ``(seed, epoch)`` only,
and that can start an epoch after the batches a run had already done.

Why: a run interrupted in the middle of an epoch (Ctrl-C, SIGTERM, a preempted job) must resume
at the batch it stopped at and see the same images, augmented the same way, as a run that was
never interrupted. Torch's ``RandomSampler`` draws its order from the global generator when the
loader is iterated, and albumentations draws from a per-worker generator, so both depend on how
the run got there (how many workers, whether they persisted, where the run was resumed).

Here the epoch's order is a function of ``(seed, epoch)``, and every drawn item carries its own
augmentation seed, a function of ``(seed, epoch, place in the epoch's order)``: a worker
reseeds the augmentation from it (:class:`fer_lightning.data.dataset.ArrayDataset`) whatever
worker it is and however long it has lived, so DataLoader workers may persist across epochs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class Draw(NamedTuple):
    """One item of a training epoch: the dataset index and the seed of its augmentation."""

    index: int
    seed: int


def _seeds(seed: int, epoch: int, count: int) -> tuple[torch.Generator, np.ndarray]:
    """A torch generator for the epoch's order and ``count`` per-item seeds, all from
    ``(seed, epoch)``."""
    sequence = np.random.SeedSequence([seed, epoch])
    order_seed, items = sequence.spawn(2)
    generator = torch.Generator()
    generator.manual_seed(int(order_seed.generate_state(1, np.uint64)[0]))
    return generator, items.generate_state(max(count, 1), np.uint32)


class EpochSampler(DistributedSampler):
    """Shuffles (or, with ``weights``, draws with replacement) the training set by
    ``(seed, epoch)``, gives this process its share, and yields :class:`Draw` items.

    A ``DistributedSampler`` so that Lightning uses it as it is under DDP (it shards itself like
    one: the order is padded to a multiple of the number of processes, and process ``r`` takes
    every ``r``-th item, so all processes have the same number of batches). Lightning calls
    :meth:`set_epoch` at the start of every epoch.

    :meth:`resume` makes the iteration of one epoch start after its first items (the batches a
    resumed run had already done); the loader keeps that position in checkpoints through
    :class:`ResumableLoader`.
    """

    def __init__(
        self,
        dataset: Dataset,
        seed: int,
        num_replicas: int = 1,
        rank: int = 0,
        weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        #: ``(epoch, items of this process already done)`` to start that epoch after.
        self._start: tuple[int, int] = (0, 0)

    def resume(self, epoch: int, done: int) -> None:
        """Start epoch ``epoch`` after this process's first ``done`` items."""
        self._start = (epoch, done)

    def _order(self) -> tuple[list[int], np.ndarray]:
        n = len(self.dataset)  # type: ignore[arg-type]
        generator, seeds = _seeds(self.seed, self.epoch, self.total_size)
        if self.weights is None:
            order = torch.randperm(n, generator=generator).tolist()
        else:
            order = torch.multinomial(self.weights, n, replacement=True, generator=generator)
            order = order.tolist()
        order += order[: self.total_size - n]  # pad, as DistributedSampler
        return order, seeds

    def __iter__(self) -> Iterator[Draw]:  # type: ignore[override]
        order, seeds = self._order()
        places = range(self.rank, self.total_size, self.num_replicas)
        start_epoch, done = self._start
        skip = done if start_epoch == self.epoch else 0
        for place in places[skip:]:
            yield Draw(order[place], int(seeds[place]))

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "seed": self.seed}


class ResumableLoader(DataLoader):
    """A DataLoader whose position in the epoch goes into Lightning's checkpoints.

    Lightning saves ``state_dict()`` of a training loader that has one, and gives it back
    through ``load_state_dict()`` when it resumes in the middle of an epoch (its fit loop's
    support for stateful loaders). The position is the number of batches the training loop has
    finished, which the loader itself cannot know (Lightning and the workers fetch ahead):
    :class:`fer_lightning.callbacks.EpochSeed` reports it after every training batch through
    :meth:`batches_done`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._done = (0, 0)  # (epoch, batches finished in it)

    def batches_done(self, epoch: int, batches: int) -> None:
        self._done = (epoch, batches)

    def state_dict(self) -> dict[str, Any]:
        epoch, batches = self._done
        sampler = self.sampler
        return {
            "epoch": epoch,
            "batches_done": batches,
            "batch_size": self.batch_size,
            "sampler": sampler.state_dict() if isinstance(sampler, EpochSampler) else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sampler = self.sampler
        if not isinstance(sampler, EpochSampler) or state.get("sampler") is None:
            return
        if state.get("batch_size") != self.batch_size or state["sampler"]["seed"] != sampler.seed:
            rank_zero_warn(
                "resuming with another batch size or seed than the checkpoint's: the "
                "interrupted epoch's order cannot be continued, its remaining batches are "
                "drawn from the new order"
            )
            return
        epoch, batches = int(state["epoch"]), int(state["batches_done"])
        self._done = (epoch, batches)
        sampler.set_epoch(epoch)
        sampler.resume(epoch, batches * int(self.batch_size or 1))
