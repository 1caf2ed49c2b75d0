"""fp32 against the automatic precision (``fer_lightning.precision``): training images/s of one
experiment's model in fp32 and in bf16 autocast, each with and without channels-last, measured
step by step in turn so a shared CPU's load falls on all alike."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fer_lightning.bench.common import build_model, learning_rate
from fer_lightning.bench.harness import in_memory_loader
from fer_lightning.precision import auto_precision, cpu_has_native_bf16

#: (name, precision, channels_last)
VARIANTS: list[tuple[str, str, bool]] = [
    ("fp32", "32-true", False),
    ("fp32 channels-last", "32-true", True),
    ("bf16", "bf16-mixed", False),
    ("bf16 channels-last", "bf16-mixed", True),
]


def autocast(precision: str, device: str = "cpu") -> contextlib.AbstractContextManager:
    """What Lightning's ``MixedPrecision`` plugin wraps the forward pass in."""
    if precision == "bf16-mixed":
        return torch.autocast(device, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device, dtype=torch.float16)
    return contextlib.nullcontext()


class _Variant:
    def __init__(self, experiment: str, precision: str, channels_last: bool) -> None:
        torch.manual_seed(0)
        self.model = build_model(experiment).train()
        self.precision, self.channels_last = precision, channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate(experiment))
        self.seconds: list[float] = []

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        start = time.perf_counter()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.precision):
            loss = F.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.seconds.append(time.perf_counter() - start)


def measure(
    experiment: str, rounds: int, steps: int, warmup: int, batch_size: int, log: Any = print
) -> dict[str, Any]:
    """Images/s of every variant, the steps of all variants interleaved; per round the ratio of
    each to fp32; the medians over rounds. "automatic" is the variant the package chooses."""
    automatic = auto_precision("cpu")
    loader = in_memory_loader(experiment, steps, batch_size)
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        variants = {name: _Variant(experiment, p, cl) for name, p, cl in VARIANTS}
        order = list(variants.values())
        for i, (x, y) in enumerate(loader):
            for v in order[i % len(order) :] + order[: i % len(order)]:  # rotate who goes first
                v.step(x, y)
        row = {
            name: batch_size * (steps - warmup) / sum(v.seconds[warmup:])
            for name, v in variants.items()
        }
        log(
            f"precision round {r + 1}/{rounds}: "
            + ", ".join(f"{k} {v:.0f}" for k, v in row.items())
        )
        per_round.append(row)
    medians = {name: float(np.median([row[name] for row in per_round])) for name, _, _ in VARIANTS}
    ratios = {
        name: round(float(np.median([row[name] / row["fp32"] for row in per_round])), 3)
        for name, _, _ in VARIANTS
    }
    auto_name = "bf16 channels-last" if automatic == "bf16-mixed" else "fp32"
    return {
        "experiment": experiment,
        "device": "cpu",
        "batch_size": batch_size,
        "steps": steps,
        "warmup_steps": warmup,
        "cpu_native_bf16": cpu_has_native_bf16(),
        "automatic_precision": automatic,
        "automatic_variant": auto_name,
        "rounds": [{k: round(v, 3) for k, v in row.items()} for row in per_round],
        "images_per_s": {k: round(v, 1) for k, v in medians.items()},
        "ratio_to_fp32": ratios,
        "automatic_vs_fp32": ratios[auto_name],
    }
