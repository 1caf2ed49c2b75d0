"""Seeded, stratified splitting."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, min_per_class: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held_out) with ``fraction`` of every class held out, and at
    least ``min_per_class`` of every class that has more than that many items (by default one,
    so that a small dataset still validates on every class).

    The same labels, fraction and seed always give the same split, whatever the global seed.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n = int(round(fraction * len(idx)))
        if len(idx) > min_per_class:
            n = max(n, min_per_class)
        held.append(idx[:n])
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask), held_out
