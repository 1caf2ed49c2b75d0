"""The training sampler (order and augmentation by (seed, epoch), resumable mid-epoch, sharded
under DDP), per-item augmentation seeds, persistent workers and the ``auto`` worker count.

Here: the fast tests; the others are in ``tests/slow/test_sampling.py``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.base import auto_num_workers
from fer_lightning.data.dataset import ArrayDataset
from fer_lightning.data.sampling import Draw, EpochSampler, ResumableLoader
from fer_lightning.data.transforms import build_pipeline
from fer_lightning.errors import FERUserError


def _indices(sampler: EpochSampler) -> list[int]:
    return [draw.index for draw in sampler]


def test_order_depends_on_seed_and_epoch_only() -> None:
    data = list(range(50))
    a, b = EpochSampler(data, seed=3), EpochSampler(data, seed=3)
    torch.manual_seed(0)
    first = list(a)
    torch.manual_seed(1)  # the global generator plays no part
    assert list(b) == first
    assert sorted(d.index for d in first) == data
    a.set_epoch(1)
    assert _indices(a) != [d.index for d in first]
    assert _indices(EpochSampler(data, seed=4)) != [d.index for d in first]
    assert len({d.seed for d in first}) == 50  # every item its own augmentation seed


def test_resume_skips_the_items_done_in_that_epoch_only() -> None:
    data = list(range(20))
    full = EpochSampler(data, seed=0)
    full.set_epoch(2)
    expected = list(full)
    resumed = EpochSampler(data, seed=0)
    resumed.resume(epoch=2, done=8)
    resumed.set_epoch(2)
    assert list(resumed) == expected[8:]
    resumed.set_epoch(3)
    full.set_epoch(3)
    assert list(resumed) == list(full)


def test_shards_are_disjoint_equal_and_cover_the_epoch() -> None:
    data = list(range(23))
    shards = [_indices(EpochSampler(data, seed=5, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in shards] == [8, 8, 8]  # padded, as DistributedSampler
    assert set().union(*shards) == set(data)
    single = _indices(EpochSampler(data, seed=5))
    assert shards[0] == (single + single[:1])[0::3]


def test_weighted_draws_follow_the_weights() -> None:
    weights = torch.tensor([0.0] * 10 + [1.0] * 10)
    drawn = _indices(EpochSampler(list(range(20)), seed=0, weights=weights))
    assert len(drawn) == 20 and min(drawn) >= 10


def test_augmentation_of_an_item_does_not_depend_on_what_came_before() -> None:
    """What lets workers persist: a long-lived worker makes item (index, seed) as a fresh
    one would."""
    images = np.random.default_rng(0).integers(0, 256, size=(4, 48, 48), dtype=np.uint8)
    labels = np.zeros(4, dtype=np.int64)

    def dataset() -> ArrayDataset:
        pipeline = build_pipeline(
            image_size=48, mean=0.5, std=0.25, augment="qutub2023_single", train=True, seed=0
        )
        return ArrayDataset(images, labels, pipeline)

    fresh, used = dataset(), dataset()
    for i in range(3):
        used[Draw(i, 100 + i)]
    used.transform.set_random_seed(9)  # as a worker_init_fn might
    x, _ = used[Draw(1, 7)]
    assert torch.equal(x, fresh[Draw(1, 7)][0])
    assert not torch.equal(x, fresh[Draw(1, 8)][0])  # the seed does change it


def test_train_loader_is_resumable_with_persistent_workers(fer_folder: Path) -> None:
    dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=4, num_workers=1)
    loader = dm.train_dataloader()
    assert isinstance(loader, ResumableLoader) and loader.persistent_workers
    assert isinstance(loader.sampler, EpochSampler)
    first = [y.tolist() for _, y in loader]
    loader.batches_done(0, 3)
    state = loader.state_dict()
    again = FER2013DataModule(data_dir=str(fer_folder), batch_size=4, num_workers=0)
    resumed = again.train_dataloader()
    resumed.sampler.seed = loader.sampler.seed  # an unseeded run draws its seed
    resumed.load_state_dict(state)
    assert [y.tolist() for _, y in resumed] == first[3:]
    assert not dm.test_dataloader().persistent_workers  # used once


def test_auto_workers_leave_a_core_to_each_training_process(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(2)), raising=False)
    assert auto_num_workers() == 1
    assert FER2013DataModule(data_dir=str(fer_folder), num_workers="auto").workers() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert auto_num_workers() == 15
    assert auto_num_workers(4) == 3
    assert FER2013DataModule(data_dir=str(fer_folder), num_workers=0).workers() == 0
    with pytest.raises(FERUserError, match="data.num_workers must be a whole number"):
        FER2013DataModule(data_dir=str(fer_folder), num_workers=-1).workers()
