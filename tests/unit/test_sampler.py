"""The weighted sampler option of the shared datamodule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import WeightedRandomSampler

from fer_lightning.data.base import FERDataModule, Split
from fer_lightning.data.sampling import EpochSampler


class Imbalanced(FERDataModule):
    """Two classes, 90 / 10 training images."""

    class_names = ("a", "b")

    def load_splits(self, root: Path) -> dict[str, Split]:
        labels = np.array([0] * 90 + [1] * 10)
        images = np.zeros((100, 8, 8), dtype=np.uint8)
        return {name: Split(images, labels) for name in ("train", "val", "test")}


def _drawn_labels(dm: FERDataModule, epoch: int) -> np.ndarray:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # as Lightning does: each epoch its own draw
    return np.concatenate([y.numpy() for _, y in loader])


@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_sampler_balances_training_batches(weighted: bool) -> None:
    dm = Imbalanced(
        image_size=8, augment="none", batch_size=50, num_workers=0, weighted_sampler=weighted
    )
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochSampler)  # draws by (seed, epoch), resumable
    assert (loader.sampler.weights is not None) is weighted
    torch.manual_seed(0)
    share = np.mean(np.concatenate([_drawn_labels(dm, epoch) for epoch in range(20)]) == 1)
    if weighted:
        assert 0.4 < share < 0.6  # 2,000 draws around 0.5
    else:
        assert share == pytest.approx(0.1)  # each epoch is the data once


def test_sampler_weights_come_from_training_class_frequencies() -> None:
    dm = Imbalanced(image_size=8, augment="none", weighted_sampler=True)
    weights = dm.train_sampler().weights
    assert weights[0].item() == pytest.approx(100 / (2 * 90))
    assert weights[-1].item() == pytest.approx(100 / (2 * 10))
    assert dm.val_dataloader().sampler.__class__ is not WeightedRandomSampler
