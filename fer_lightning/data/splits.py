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


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(len(labels))`` whose every prefix is a class-stratified
    sample, for evaluating on the first batches only (``--trainer.limit_val_batches`` and
    its siblings).

    Each class's items, shuffled, are spread evenly over the order (item ``i`` of a class of
    ``n`` at position key ``i / n``), so the first ``m`` items hold about ``m * n / N`` of that
    class; every class's first item has key 0, so any prefix of at least as many items as there
    are classes holds every class. The same labels and seed always give the same order.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keys = np.zeros(len(labels))
    ties = np.zeros(len(labels))
    classes = np.unique(labels)
    for cls, tie in zip(classes, rng.permutation(len(classes)), strict=True):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        keys[idx] = np.arange(len(idx)) / len(idx)
        ties[idx] = tie
    return np.lexsort((ties, keys))
