"""Input pipeline: augmented images per second the training DataLoader delivers (the
experiment's albumentations preset on its dataset's training images) against the images per
second the experiment's model consumes in training."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from fer_lightning.bench.common import build_model, learning_rate
from fer_lightning.bench.common import datamodule as experiment_datamodule
from fer_lightning.bench.harness import bare_loop, in_memory_loader
from fer_lightning.data.base import FERDataModule, Split
from fer_lightning.data.labels import FER7
from fer_lightning.data.transforms import describe_augment
from fer_lightning.errors import DataError


class SyntheticFER(FERDataModule):
    """Random 48x48 images in FER2013's shape, when the real data is not there."""

    class_names = FER7

    def layout_problem(self, root: Any) -> str | None:
        return None  # nothing to find on disk

    def load_splits(self, root: Any) -> dict[str, Split]:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(8000, 48, 48), dtype=np.uint8)
        labels = rng.integers(0, len(self.class_names), size=8000)
        split = Split(images, labels)
        return {"train": split, "val": split, "test": split}


def datamodule(experiment: str) -> tuple[FERDataModule, str]:
    """The experiment's datamodule on its real dataset if present, else on synthetic images
    (its other data settings kept)."""
    dm = experiment_datamodule(experiment)
    dataset = type(dm).__name__.removesuffix("DataModule")
    try:
        dm.check_location()
    except DataError:
        synthetic = f"{SyntheticFER.__module__}.{SyntheticFER.__name__}"
        dm = experiment_datamodule(experiment, data_class=synthetic)
        return dm, f"synthetic 48x48 images (real {dataset} not found)"
    return dm, f"{dataset} train split"


def _images(x: torch.Tensor) -> int:
    """Images in a batch; ten-crop batches ``(B, 10, C, H, W)`` count every crop."""
    return int(x.shape[0] * x.shape[1]) if x.ndim == 5 else int(x.shape[0])


def loader_rate(dm: FERDataModule, workers: int, samples: int) -> float:
    """Images/s delivered by the training loader with ``workers`` worker processes, over
    ``samples`` samples, once the workers run and their prefetched batches are used up."""
    dm.num_workers = workers
    loader = dm.train_dataloader()
    iterator = iter(loader)
    try:
        for _ in range(2 + workers * (loader.prefetch_factor or 0)):
            next(iterator)
        start, count, seen = time.perf_counter(), 0, 0
        while seen < samples:
            x = next(iterator)[0]
            seen += len(x)
            count += _images(x)
        return count / (time.perf_counter() - start)
    finally:
        del iterator


def measure(
    experiment: str, rounds: int, samples: int, model_steps: int, log: Any = print
) -> dict[str, Any]:
    """Alternates loader (1 worker, the default workers) and model measurements; ten-crop
    presets deliver ten images per sample, and the model trains on each."""
    dm, source = datamodule(experiment)
    dm.setup("fit")
    default_workers = dm.workers()
    batch_size = dm.batch_size
    lr = learning_rate(experiment)
    rows: list[dict[str, float]] = []
    for i in range(rounds):
        row = {
            "one_worker": loader_rate(dm, 1, samples // 2),
            "default_workers": loader_rate(dm, default_workers, samples),
        }
        torch.manual_seed(0)
        model_loader = in_memory_loader(experiment, model_steps, batch_size)
        row["model"] = bare_loop(build_model(experiment), model_loader, lr, warmup=3)
        log(
            f"pipeline {experiment} round {i + 1}/{rounds}: 1 worker {row['one_worker']:.0f}, "
            f"{default_workers} workers {row['default_workers']:.0f}, "
            f"model {row['model']:.0f} img/s"
        )
        rows.append(row)

    def med(key: str) -> float:
        return float(np.median([r[key] for r in rows]))

    return {
        "experiment": experiment,
        "data": source,
        "augment": describe_augment(dm.augment),
        "channels": dm.channels,
        "batch_size": batch_size,
        "default_workers": default_workers,
        "rounds": rows,
        "one_worker_images_per_s": round(med("one_worker"), 1),
        "default_workers_images_per_s": round(med("default_workers"), 1),
        "model_images_per_s": round(med("model"), 1),
        "ratio_one_worker": round(med("one_worker") / med("model"), 2),
        "ratio_default_workers": round(med("default_workers") / med("model"), 2),
        "goal": 3.0,
    }
