"""Dataset audit: class counts per split, blank images, exact duplicates, image files seen.

Works on the decoded uint8 arrays the datamodules cache, so auditing the full FER2013 takes
seconds. Duplicates are exact: two images are duplicates when their decoded pixels are equal
(a hash of the pixel bytes). Blank images are found by the standard deviation of their
pixels: *constant* (every pixel equal) and *near-constant* (std below ``BLANK_STD``).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fer_lightning.errors import DataError

#: Pixel standard deviation (0-255 scale) below which an image counts as near-constant. On the
#: real FER2013 the constant images are all black and the two near-constant ones have std 0.65
#: and 4.1 (no face); the least uniform real face found has std 9.1.
BLANK_STD = 5.0


@dataclass
class AuditSplit:
    """One split as the audit sees it: images, labels and a name per image (file or row)."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str]


# ------------------------------------------------------------------------- building blocks
def pixel_std(images: np.ndarray) -> np.ndarray:
    """Standard deviation of each image's pixels (all channels)."""
    flat = images.reshape(len(images), -1)
    out = np.empty(len(images), dtype=np.float64)
    for start in range(0, len(images), 4096):  # bounded float memory
        out[start : start + 4096] = flat[start : start + 4096].astype(np.float32).std(axis=1)
    return out


def blank_masks(images: np.ndarray, threshold: float = BLANK_STD) -> tuple[np.ndarray, np.ndarray]:
    """(constant, near_constant) boolean masks; near-constant excludes constant images."""
    flat = images.reshape(len(images), -1)
    constant = (flat == flat[:, :1]).all(axis=1)
    near = (pixel_std(images) < threshold) & ~constant
    return constant, near


def is_blank(images: np.ndarray, threshold: float = BLANK_STD) -> np.ndarray:
    """Constant or near-constant images (what ``remove_blank`` drops)."""
    constant, near = blank_masks(images, threshold)
    return constant | near


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """A 128-bit hash of each image's decoded pixels (and shape), as a fixed-width bytes array."""
    shape = repr(images.shape[1:]).encode()
    digests = [hashlib.blake2b(shape + img.tobytes(), digest_size=16).digest() for img in images]
    return np.array(digests, dtype="S16")


def duplicate_groups(hashes: np.ndarray) -> list[np.ndarray]:
    """Indices of every set of two or more items with equal hashes, in first-seen order."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(counts)[:-1]
    groups = [g for g in np.split(order, bounds) if len(g) > 1]
    return sorted(groups, key=lambda g: int(g[0]))


def file_kinds(paths: Sequence[Path]) -> dict[str, int]:
    """How many files have each ``WxH mode format`` (read from the headers, not decoded)."""

    def kind(path: Path) -> str:
        try:
            with Image.open(path) as img:
                return f"{img.size[0]}x{img.size[1]} {img.mode} {img.format}"
        except OSError:
            return "unreadable"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(Counter(pool.map(kind, paths)).most_common())


# ----------------------------------------------------------------------------- the audit
def audit_splits(
    splits: dict[str, AuditSplit], class_names: Sequence[str], threshold: float = BLANK_STD
) -> dict[str, Any]:
    """The audit of already-loaded splits (see the module docstring for the definitions)."""
    names = list(splits)
    report: dict[str, Any] = {"class_names": list(class_names), "splits": {}}
    for name, split in splits.items():
        counts = np.bincount(split.labels, minlength=len(class_names))
        report["splits"][name] = {
            "images": len(split.labels),
            "per_class": {c: int(n) for c, n in zip(class_names, counts, strict=True)},
        }

    # One flat index over all splits.
    images = np.concatenate([s.images for s in splits.values()])
    labels = np.concatenate([s.labels for s in splits.values()])
    split_of = np.concatenate([np.full(len(s.labels), i) for i, s in enumerate(splits.values())])
    item_names = [n for s in splits.values() for n in s.names]

    def describe(i: int) -> dict[str, Any]:
        return {
            "split": names[split_of[i]],
            "name": item_names[i],
            "label": class_names[labels[i]],
        }

    constant, near = blank_masks(images, threshold)
    report["blank"] = {"std_threshold": threshold}
    for key, mask in (("constant", constant), ("near_constant", near)):
        hits = np.flatnonzero(mask)
        report["blank"][key] = {
            "count": len(hits),
            "per_split": {n: int((split_of[hits] == i).sum()) for i, n in enumerate(names)},
            "items": [describe(i) for i in hits],
        }

    blank = constant | near
    groups = duplicate_groups(pixel_hashes(images))
    within = {n: {"groups": 0, "images": 0, "redundant": 0} for n in names}
    across: Counter[str] = Counter()
    # copies[a][b]: images of split a that have an identical image in split b.
    copies = {a: dict.fromkeys((b for b in names if b != a), 0) for a in names}
    cross_groups = cross_later = conflicting = conflicting_images = blank_groups = 0
    listed: list[dict[str, Any]] = []
    for group in groups:
        g_splits = split_of[group]
        if blank[group].any():
            blank_groups += 1
        for i, n in enumerate(names):
            members = int((g_splits == i).sum())
            if members > 1:
                within[n]["groups"] += 1
                within[n]["images"] += members
                within[n]["redundant"] += members - 1
        present = sorted(set(g_splits.tolist()))
        if len(present) > 1:
            cross_groups += 1
            across["+".join(names[i] for i in present)] += 1
            # Images of a later split (e.g. test) that also appear in an earlier one (train).
            cross_later += int((g_splits != present[0]).sum())
            for a in present:
                for b in present:
                    if a != b:
                        copies[names[a]][names[b]] += int((g_splits == a).sum())
        if len(set(labels[group].tolist())) > 1:
            conflicting += 1
            conflicting_images += len(group)
        listed.append({"items": [describe(i) for i in group], "blank": bool(blank[group[0]])})

    report["duplicates"] = {
        "definition": "identical decoded pixels",
        "groups": len(groups),
        "images_in_groups": int(sum(len(g) for g in groups)),
        "groups_of_blank_images": blank_groups,
        "within_split": within,
        "across_splits": {
            "groups": cross_groups,
            "by_splits": dict(sorted(across.items())),
            "images_in_later_split": cross_later,
            "images_with_copy_in": copies,
        },
        "conflicting_labels": {"groups": conflicting, "images": conflicting_images},
        "all_groups": listed,
    }
    return report


# ------------------------------------------------------------------- datasets on disk
def _fer2013(root: Path) -> tuple[dict[str, AuditSplit], tuple[str, ...], dict[str, int]]:
    from fer_lightning.data.fer2013 import SIDE, USAGES, FER2013DataModule

    dm = FER2013DataModule(data_dir=str(root))
    arrays = dm.read_all(dm.root)
    usage = arrays["usage"]
    splits = {}
    for code, name in [(0, USAGES[0]), (1, USAGES[1]), (2, USAGES[2]), (-1, "test")]:
        index = np.flatnonzero(usage == code)
        if len(index):
            names = [dm.sources[i] for i in index]
            splits[name] = AuditSplit(arrays["images"][index], arrays["labels"][index], names)
    if dm.source_files:
        files = file_kinds([dm.root / s for s in dm.sources])
    else:
        files = {f"{SIDE}x{SIDE} L (csv pixels)": len(usage)}
    return splits, dm.class_names, files


def _rafdb(root: Path) -> tuple[dict[str, AuditSplit], tuple[str, ...], dict[str, int]]:
    from fer_lightning.data.rafdb import SPLITS, RAFDBDataModule, read_label_file, read_rafdb

    dm = RAFDBDataModule(data_dir=str(root))
    items = read_label_file(dm.root)
    arrays = read_rafdb(dm.root)
    splits = {}
    for code, name in enumerate(SPLITS):
        index = np.flatnonzero(arrays["split"] == code)
        names = [items[i][0].name for i in index]
        splits[name] = AuditSplit(arrays["images"][index], arrays["labels"][index], names)
    return splits, dm.class_names, file_kinds([p for p, _, _ in items])


def _ckplus(root: Path) -> tuple[dict[str, AuditSplit], tuple[str, ...], dict[str, int]]:
    from fer_lightning.data.ckplus import CKPlusDataModule, read_ckplus

    dm = CKPlusDataModule(data_dir=str(root))
    arrays = read_ckplus(dm.root)
    names = arrays["paths"].tolist()
    split = AuditSplit(arrays["images"], arrays["labels"], names)
    return {"all": split}, dm.class_names, file_kinds([dm.root / n for n in names])


LOADERS: dict[str, Callable[[Path], tuple[dict[str, AuditSplit], tuple[str, ...], dict]]] = {
    "fer2013": _fer2013,
    "rafdb": _rafdb,
    "ckplus": _ckplus,
}


def audit_dataset(dataset: str, root: Path, threshold: float = BLANK_STD) -> dict[str, Any]:
    """Load ``dataset`` from the data root ``root`` (decoded once, cached) and audit it."""
    if dataset not in LOADERS:
        raise DataError(f"unknown dataset '{dataset}'; known: {', '.join(LOADERS)}")
    splits, class_names, files = LOADERS[dataset](root)
    report = {"dataset": dataset, "root": str(root)}
    report |= audit_splits(splits, class_names, threshold)
    report["image_files"] = files
    return report


# --------------------------------------------------------------------------- markdown
def markdown(report: dict[str, Any]) -> str:
    """A short human summary of an audit report."""
    names = list(report["splits"])
    classes = report["class_names"]
    lines = [f"# Audit of {report['dataset']} ({report['root']})", ""]
    lines += ["| class | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for c in classes:
        lines.append(
            f"| {c} | " + " | ".join(str(report["splits"][n]["per_class"][c]) for n in names) + " |"
        )
    lines.append(
        "| **total** | " + " | ".join(f"**{report['splits'][n]['images']}**" for n in names) + " |"
    )
    blank, dup = report["blank"], report["duplicates"]
    per = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())  # noqa: E731
    lines += [
        "",
        f"- image files: {per(report['image_files'])}",
        f"- constant images: {blank['constant']['count']} ({per(blank['constant']['per_split'])})",
        f"- near-constant images (pixel std < {blank['std_threshold']}): "
        f"{blank['near_constant']['count']} ({per(blank['near_constant']['per_split'])})",
        f"- exact duplicate groups (identical decoded pixels): {dup['groups']} holding "
        f"{dup['images_in_groups']} images ({dup['groups_of_blank_images']} of them groups of "
        "blank images)",
        "- within a split: "
        + ", ".join(
            f"{n} {w['groups']} groups / {w['redundant']} redundant images"
            for n, w in dup["within_split"].items()
        ),
        f"- across splits: {dup['across_splits']['groups']} groups "
        f"({per(dup['across_splits']['by_splits']) or 'none'}); "
        f"{dup['across_splits']['images_in_later_split']} images repeat one of an earlier split"
        + "".join(
            f"; {n} of {a} are in {b}"
            for a, row in dup["across_splits"]["images_with_copy_in"].items()
            for b, n in row.items()
            if names.index(b) < names.index(a)
        ),
        f"- duplicates with conflicting labels: {dup['conflicting_labels']['groups']} groups, "
        f"{dup['conflicting_labels']['images']} images",
    ]
    if "seconds" in report:
        lines.append(f"- audit time: {report['seconds']:.1f} s")
    return "\n".join(lines) + "\n"
