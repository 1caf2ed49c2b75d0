"""Dataset audit: class counts per split, blank images, exact duplicates, image files seen.

Works on the decoded uint8 arrays the datamodules cache, as each registered dataset lists them
(:meth:`~fer_lightning.data.base.FERDataModule.listing`), so auditing the full FER2013 takes
seconds. Duplicates are exact: two images are duplicates when their decoded pixels are equal
(a hash of the pixel bytes). Blank images are found by the standard deviation of their
pixels: *constant* (every pixel equal) and *near-constant* (std below ``BLANK_STD``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.data import registry
from fer_lightning.data.base import ListedSplit
from fer_lightning.data.pixels import BLANK_STD, blank_masks, pixel_hashes


def duplicate_groups(hashes: np.ndarray) -> list[np.ndarray]:
    """Indices of every set of two or more items with equal hashes, in first-seen order."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(counts)[:-1]
    groups = [g for g in np.split(order, bounds) if len(g) > 1]
    return sorted(groups, key=lambda g: int(g[0]))


# ----------------------------------------------------------------------------- the audit
def audit_splits(
    splits: dict[str, ListedSplit], class_names: Sequence[str], threshold: float = BLANK_STD
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
def audit_dataset(dataset: str, root: Path, threshold: float = BLANK_STD) -> dict[str, Any]:
    """Load registered ``dataset`` from the data root ``root`` (decoded once, cached) and
    audit it."""
    datamodule = registry.get(dataset)(data_dir=str(root))
    listing = datamodule.listing()
    report = {"dataset": dataset, "root": str(root)}
    report |= audit_splits(listing.splits, listing.class_names or datamodule.class_names, threshold)
    report["image_files"] = listing.files
    report["copies_of_first_split"] = copies_of_first_split(listing.splits)
    extra = datamodule.audit_extra()
    if extra:
        report[dataset] = extra
    return report


def copies_of_first_split(splits: dict[str, ListedSplit]) -> dict[str, Any]:
    """Images of each later split that are exact or near copies of an image of the first (the
    training split as the dataset publishes it): :mod:`fer_lightning.data.copies`."""
    from fer_lightning.data import copies

    names = list(splits)
    if len(names) < 2:
        return {}
    first = splits[names[0]].images
    out: dict[str, Any] = {"of": names[0], "method": copies.METHOD}
    for name in names[1:]:
        out[name] = copies.find_copies(first, splits[name].images).counts()
    return out


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
    found = report.get("copies_of_first_split") or {}
    if found:
        lines.append(
            f"- copies of {found['of']} images ({found['method']}): "
            + "; ".join(
                f"{name} {c['exact']} exact, {c['near']} near"
                for name, c in found.items()
                if isinstance(c, dict)
            )
        )
    if "seconds" in report:
        lines.append(f"- audit time: {report['seconds']:.1f} s")
    extra = report.get(report["dataset"])
    if isinstance(extra, dict) and extra:
        lines += registry.get(report["dataset"]).audit_markdown(extra)
    return "\n".join(lines) + "\n"
