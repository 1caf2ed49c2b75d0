"""Harness overhead: the same model, batches and steps, under the Lightning Trainer (with this
package's training callbacks) and in a bare PyTorch loop, run in lockstep; images/s of each."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from fer_lightning.bench.common import build_model, built, learning_rate
from fer_lightning.callbacks import EpochSeed, FiniteLoss, TrainingSpeed
from fer_lightning.models.classifier import FERClassifier


def in_memory_loader(experiment: str, steps: int, batch_size: int, seed: int = 0) -> DataLoader:
    """``steps`` batches of normalised random images of the experiment's input shape, with
    labels of its classes."""
    return random_loader(built(experiment).model, steps, batch_size, seed)


def random_loader(model: FERClassifier, steps: int, batch_size: int, seed: int = 0) -> DataLoader:
    """``steps`` batches of normalised random images of ``model``'s input shape and random
    labels of its classes, made once, on the CPU."""
    h = model.hparams
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps * batch_size, h.in_chans, h.image_size, h.image_size, generator=generator)
    y = torch.randint(0, h.num_classes, (steps * batch_size,), generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def _bare_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    """forward, cross-entropy, backward, Adam step: nothing else."""
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def bare_loop(model: torch.nn.Module, loader: DataLoader, lr: float, warmup: int) -> float:
    """Images/s of a bare training loop over ``loader``, after ``warmup`` steps."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    stamps: list[float] = []
    for x, y in loader:
        _bare_step(model, optimizer, x, y)
        stamps.append(time.perf_counter())
    return (len(stamps) - warmup) * (loader.batch_size or 1) / (stamps[-1] - stamps[warmup - 1])


class Lockstep(L.Callback):
    """Runs the bare loop in lockstep with the Trainer: after each Lightning training step,
    one bare step of a twin model on the same batches. On a shared CPU both loops then see the
    same load, step by step; each is timed only while it runs.

    Lightning's time for step ``i`` runs from the end of bare step ``i - 1`` to the end of
    Lightning's step ``i`` (the rest of the previous step's hooks, fetching the batch, the
    step, this step's earlier hooks); the bare time is the bare step itself, fetch included.
    """

    def __init__(self, twin: torch.nn.Module, loader: DataLoader, lr: float) -> None:
        self.twin = twin.train()
        self.optimizer = torch.optim.Adam(twin.parameters(), lr=lr)
        self.batches = iter(loader)
        self.lightning_s: list[float] = []
        self.bare_s: list[float] = []
        self._mark: float | None = None

    def on_train_batch_end(self, *args: Any) -> None:
        start = time.perf_counter()
        if self._mark is not None:
            self.lightning_s.append(start - self._mark)
        x, y = next(self.batches)
        _bare_step(self.twin, self.optimizer, x, y)
        self._mark = time.perf_counter()
        self.bare_s.append(self._mark - start)


def _with_adam(model: FERClassifier, lr: float) -> FERClassifier:
    """The model with Adam at ``lr`` in place of the experiment's optimizer and scheduler: the
    bare loop it is compared with runs Adam."""
    model.configure_optimizers = lambda: torch.optim.Adam(model.parameters(), lr=lr)
    return model


def lockstep_round(experiment: str, loader: DataLoader, warmup: int) -> dict[str, float]:
    """One ``Trainer.fit`` over ``loader`` with the package's training callbacks (finite-loss
    guard, per-epoch seeding, speed log) and the model's metrics and logging, the bare loop
    in lockstep; no progress bar, logger or checkpoint, which cost per epoch, not per step."""
    lr = learning_rate(experiment)
    torch.manual_seed(0)
    model = build_model(experiment)
    torch.manual_seed(0)
    clock = Lockstep(build_model(experiment), loader, lr)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        precision="32-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[clock, FiniteLoss(), EpochSeed(), TrainingSpeed()],
    )
    trainer.fit(_with_adam(model, lr), train_dataloaders=loader)
    images = (loader.batch_size or 1) * len(clock.lightning_s[warmup:])
    bare = sum(clock.bare_s[warmup + 1 :])  # the same steps: lightning_s starts at step 1
    lightning = sum(clock.lightning_s[warmup:])
    return {"bare": images / bare, "lightning": images / lightning}


def measure(
    experiment: str, rounds: int, steps: int, warmup: int, batch_size: int, log: Any = print
) -> dict[str, Any]:
    """``rounds`` lockstep runs; the median of their ratios."""
    loader = in_memory_loader(experiment, steps, batch_size)
    results: list[dict[str, float]] = []
    for i in range(rounds):
        row = lockstep_round(experiment, loader, warmup)
        log(
            f"harness round {i + 1}/{rounds}: bare {row['bare']:.1f} img/s, "
            f"lightning {row['lightning']:.1f} img/s"
        )
        results.append(row)
    ratios = sorted(r["lightning"] / r["bare"] for r in results)
    return {
        "experiment": experiment,
        "method": "lockstep: one bare step after each Lightning step, each timed alone",
        "batch_size": batch_size,
        "steps": steps,
        "warmup_steps": warmup,
        "rounds": results,
        "round_ratios": [round(r["lightning"] / r["bare"], 4) for r in results],
        "bare_images_per_s": round(float(np.median([r["bare"] for r in results])), 2),
        "lightning_images_per_s": round(float(np.median([r["lightning"] for r in results])), 2),
        "ratio": round(ratios[len(ratios) // 2], 4),
        "goal": 0.97,
    }
