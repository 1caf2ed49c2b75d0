"""Seeded splitting: stratified fractions, k-fold over groups (e.g. subjects) or over each
class's images, and the validation carved from a fold's training items."""

from __future__ import annotations

import numpy as np

from fer_lightning.errors import DataError


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


def group_folds(groups: np.ndarray, num_folds: int, seed: int) -> np.ndarray:
    """Fold index (0..num_folds-1) of each item such that a group lies in exactly one fold.

    Groups are shuffled (seeded) and dealt to the folds largest first, each to the fold with
    the fewest items so far, so the folds come out close in size.
    """
    unique, sizes = np.unique(groups, return_counts=True)
    if len(unique) < num_folds:
        raise DataError(f"{len(unique)} subjects cannot fill {num_folds} folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    load = np.zeros(num_folds, dtype=np.int64)
    for g in order:
        fold_of_group[g] = int(np.argmin(load))
        load[fold_of_group[g]] += sizes[g]
    return fold_of_group[np.searchsorted(unique, groups)]


def stratified_folds(labels: np.ndarray, num_folds: int, seed: int) -> np.ndarray:
    """Fold index of each item, every class dealt round-robin over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        folds[idx] = (np.arange(len(idx)) + offset) % num_folds
        offset += len(idx)
    return folds


def validation_mask(
    labels: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> np.ndarray:
    """Which items are validation: with ``groups``, a seeded ``fraction`` of the groups (at
    least one, never all), whole; without, a seeded ``fraction`` of each class's items."""
    mask = np.zeros(len(labels), dtype=bool)
    if groups is None:
        mask[stratified_split(labels, fraction, seed)[1]] = True
        return mask
    unique = np.unique(groups)
    n_val = min(max(1, round(fraction * len(unique))), len(unique) - 1)
    rng = np.random.default_rng(seed + 1)
    return np.isin(groups, rng.choice(unique, size=n_val, replace=False))


def fold_split(
    labels: np.ndarray,
    groups: np.ndarray | None,
    fold: int,
    num_folds: int,
    val_fraction: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Item indices of ``train``, ``val`` and ``test`` for fold ``fold`` of a seeded k-fold:
    over ``groups`` when given (:func:`group_folds`: a group is in one split only), else over
    each class's items (:func:`stratified_folds`); validation is :func:`validation_mask` of
    the other folds' items."""
    if groups is not None:
        folds = group_folds(groups, num_folds, seed)
    else:
        folds = stratified_folds(labels, num_folds, seed)
    test = np.flatnonzero(folds == fold)
    rest = np.flatnonzero(folds != fold)
    is_val = validation_mask(
        labels[rest], None if groups is None else groups[rest], val_fraction, seed
    )
    return {"train": rest[~is_val], "val": rest[is_val], "test": test}
