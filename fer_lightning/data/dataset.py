"""An in-memory dataset of decoded uint8 images."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from typing import Any

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset

from fer_lightning.data.sampling import Draw


def _parts(transform: Any) -> Iterator[Any]:
    yield transform
    for child in getattr(transform, "transforms", None) or []:
        yield from _parts(child)


def reseed(transform: A.Compose, seed: int) -> None:
    """Reseed an albumentations pipeline in place, cheaply (about 20 us; albumentations'
    ``set_random_seed`` builds new generators for every transform, about 140 us).

    On first use every transform of the pipeline is given the same numpy and Python
    generators; each call then resets their state from ``seed``.
    """
    shared = getattr(transform, "_fer_shared_rngs", None)
    if shared is None or transform.random_generator is not shared[0]:  # new, or reseeded since
        shared = (np.random.Generator(np.random.PCG64(0)), random.Random(0))
        for part in _parts(transform):
            part.random_generator, part.py_random = shared
        transform._fer_shared_rngs = shared
    generator, py_random = shared
    sequence = np.random.SeedSequence(seed)
    generator.bit_generator.state = np.random.PCG64(sequence).state
    py_random.seed(int(sequence.generate_state(1)[0]))


class ArrayDataset(Dataset):
    """Images kept decoded in memory as uint8 ``(N, H, W)`` or ``(N, H, W, C)``.

    ``transform`` is an albumentations pipeline ending in a tensor; ``channels`` replicates a
    grayscale image to 3 channels (for ImageNet backbones) after the transform. Indexed by a
    :class:`~fer_lightning.data.sampling.Draw` (the training sampler's items), the transform is
    first reseeded from the draw's seed, so an item's augmentation does not depend on which
    worker makes it or on what that worker made before.

    ``labels`` are integer class indices (N,), or float targets (N, classes) such as a vote
    distribution, yielded as they are; with ``sample`` an integer label is drawn from each
    item's distribution every time the item is loaded instead, seeded by the draw (by the
    index for a plain integer), so an epoch's labels are reproducible.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        transform: A.Compose,
        channels: int = 1,
        sample: bool = False,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        soft = np.asarray(labels).ndim == 2
        if sample and not soft:
            raise ValueError("sampling labels needs a distribution (N, classes) per item")
        self.images = images
        self.labels = torch.as_tensor(labels, dtype=torch.float32 if soft else torch.long)
        self.transform = transform
        self.channels = channels
        self.sample = sample

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int | Draw) -> tuple[torch.Tensor, torch.Tensor]:
        label_seed: list[int] = [int(index), 0] if not isinstance(index, Draw) else []
        if isinstance(index, Draw):
            reseed(self.transform, index.seed)
            label_seed = [index.seed, 1]
            index = index.index
        image = self.transform(image=self.images[index])["image"]
        if image.ndim == 2:
            image = image.unsqueeze(0)
        if image.shape[0] != self.channels:
            if image.shape[0] == 1:
                image = image.expand(self.channels, -1, -1)
            elif self.channels == 1:
                image = image.mean(dim=0, keepdim=True)
        if self.sample:
            return image.contiguous(), self._draw_label(index, label_seed)
        return image.contiguous(), self.labels[index]

    def _draw_label(self, index: int, seed: list[int]) -> torch.Tensor:
        """A label drawn from item ``index``'s distribution with a generator seeded by
        ``seed`` (FER+'s probability mode: a new draw in each epoch, the same on a rerun)."""
        p = self.labels[index].double().numpy()
        label = np.random.default_rng(seed).choice(len(p), p=p / p.sum())
        return torch.tensor(label, dtype=torch.long)


def seed_worker_transform(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed the worker's albumentations pipeline, and leave
    Ctrl-C to the main process.

    albumentations keeps its own random state, untouched by ``seed_everything``; deriving it
    from the worker's torch seed (itself derived from the global seed) makes the augmentation
    of items indexed by plain integers reproducible (training items carry their own seed).
    Ctrl-C reaches every process of the terminal's process group: a worker that died of it
    would break the main process's graceful stop (finish the step, save a checkpoint); the main
    process ends its workers itself. (SIGTERM is left alone: Python ends its daemon processes
    with it at exit.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset if info is not None else None
    while dataset is not None and not isinstance(dataset, ArrayDataset):
        dataset = getattr(dataset, "dataset", None)  # a wrapper such as TenCropDataset
    if dataset is not None:
        dataset.transform.set_random_seed(torch.initial_seed() % 2**32)
