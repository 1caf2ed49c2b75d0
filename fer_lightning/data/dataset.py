"""An in-memory dataset of decoded uint8 images."""

from __future__ import annotations

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """Images kept decoded in memory as uint8 ``(N, H, W)`` or ``(N, H, W, C)``.

    ``transform`` is an albumentations pipeline ending in a tensor; ``channels`` replicates a
    grayscale image to 3 channels (for ImageNet backbones) after the transform.
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, transform: A.Compose, channels: int = 1
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.transform = transform
        self.channels = channels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.transform(image=self.images[index])["image"]
        if image.ndim == 2:
            image = image.unsqueeze(0)
        if image.shape[0] != self.channels:
            if image.shape[0] == 1:
                image = image.expand(self.channels, -1, -1)
            elif self.channels == 1:
                image = image.mean(dim=0, keepdim=True)
        return image.contiguous(), self.labels[index]


def seed_worker_transform(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed the worker's albumentations pipeline.

    albumentations keeps its own random state, untouched by ``seed_everything``; deriving it
    from the worker's torch seed (itself derived from the global seed) makes augmentation
    reproducible.
    """
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset if info is not None else None
    while dataset is not None and not isinstance(dataset, ArrayDataset):
        dataset = getattr(dataset, "dataset", None)  # a wrapper such as TenCropDataset
    if dataset is not None:
        dataset.transform.set_random_seed(torch.initial_seed() % 2**32)
