"""CK+ (extended Cohn-Kanade) in the CK+48 folder form: ``<class>/S###_###_########.png``.

There is no official split. CK+ holds several frames of each sequence and several sequences
of each subject, so a random image split puts the same person (often the same sequence) in
train and test. ``split="subject"`` (the default) is a k-fold over subjects (``S###``): every
subject is in exactly one test fold, and validation holds out whole training subjects too.
``split="random"`` is the stratified, seeded image-level k-fold that almsari2024's numbers come
from (leaky; for comparison only). ``split="all"`` makes every image the test set, for models
trained on another dataset.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np

from fer_lightning.data.base import FERDataModule, ListedSplit, Listing, Split
from fer_lightning.data.cache import cached_arrays, source_key
from fer_lightning.data.images import decode_all, file_kinds, list_class_folders
from fer_lightning.data.splits import fold_split
from fer_lightning.errors import DataError

CKPLUS7: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happy",
    "sadness",
    "surprise",
)
SIDE = 48
#: ``S005_001_00000011.png``: subject 5, sequence 1, frame 11.
NAME = re.compile(r"^S(\d{3})_(\d{3})_(\d{8})$")


def subject_of(path: str) -> int:
    """The subject number of a CK+ file name, or -1 when the name does not parse."""
    match = NAME.match(os.path.splitext(os.path.basename(path))[0])
    return int(match.group(1)) if match else -1


def list_ckplus(root: Path) -> list[tuple[str, int, int]]:
    """``(path, label, subject)`` of every image under ``<class>/`` (subject -1: unparsed)."""
    if not root.is_dir():
        raise DataError(
            f"CK+ not found: {root} does not exist; set FER_DATA_DIR or --data.data_dir to the "
            "folder that holds ckplus/<class>/"
        )
    if not any(entry.is_dir() for entry in os.scandir(root)):
        raise DataError(
            f"{root} holds no CK+ class folders ({', '.join(CKPLUS7)}); set FER_DATA_DIR or "
            "--data.data_dir to the folder that holds ckplus/"
        )
    found, _ = list_class_folders(root, CKPLUS7)  # stray non-image files are ignored
    return [(path, label, subject_of(path)) for path, label in found]


def read_ckplus(root: Path) -> dict[str, np.ndarray]:
    """All images (N, 48, 48) with labels and subject ids, decoded once and cached."""
    items = list_ckplus(root)
    paths = [p for p, _, _ in items]

    def build() -> dict[str, np.ndarray]:
        return {
            "images": decode_all(paths, "L", (SIDE, SIDE), "CK+48"),
            "labels": np.array([lbl for _, lbl, _ in items], dtype=np.int64),
            "subjects": np.array([s for _, _, s in items], dtype=np.int64),
        }

    arrays = cached_arrays(
        "ckplus",
        source_key(paths, root),
        build,
        keys=("images", "labels", "subjects"),
        length=len(items),
    )
    arrays["paths"] = np.array([os.path.relpath(p, root) for p in paths])
    return arrays


class CKPlusDataModule(FERDataModule):
    """CK+48 from ``<root>/ckplus/<class>/`` (48x48 gray), 7 classes including contempt."""

    name = "ckplus"
    class_names = CKPLUS7
    synonyms = {"anger": "angry", "sadness": "sad"}
    folder = "ckplus"
    title = "CK+"
    layout = f"one folder of 48x48 images per class ({', '.join(CKPLUS7)})"

    def __init__(
        self,
        *args,
        split: Literal["subject", "random", "all"] = "subject",
        fold: int = 0,
        num_folds: int = 5,
        **kwargs,
    ) -> None:
        """
        Args:
            split: ``subject`` (k-fold over subjects: nobody is both trained on and tested on)
                or ``random`` (stratified image-level k-fold, as almsari2024; leaks subjects).
                ``all``: every image is the test set (train and validation are empty), for
                testing a model trained on another dataset; ``fold`` is then ignored.
            fold: which fold is the test set, ``0 .. num_folds-1``.
            num_folds: number of folds; ``fer-lightning cv`` runs all of them.
            *args, **kwargs: see :class:`FERDataModule`; validation takes ``val_fraction`` of
                the training subjects (``subject``) or images (``random``), seeded by
                ``split_seed`` like the folds.
        """
        super().__init__(*args, **kwargs)
        if num_folds < 2:
            raise DataError(f"data.num_folds must be at least 2, got {num_folds}")
        if not 0 <= fold < num_folds:
            raise DataError(f"data.fold must be in 0..{num_folds - 1}, got {fold}")
        self.split = split
        self.fold = fold
        self.num_folds = num_folds

    def layout_problem(self, root: Path) -> str | None:
        if not root.is_dir():
            return f"{root} does not exist"
        folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        if not folders:
            return f"{root} holds no class folders"
        if not {name.lower() for name in folders} & set(CKPLUS7):
            return f"{root} holds no CK+ class folder (it holds {', '.join(folders[:5])})"
        return None

    def listing(self) -> Listing:
        """One split, ``all`` (CK+ has no official one), named by file."""
        root = self.root
        arrays = read_ckplus(root)
        names = arrays["paths"].tolist()
        split = ListedSplit(arrays["images"], arrays["labels"], names)
        return Listing({"all": split}, file_kinds([root / n for n in names]))

    def load_splits(self, root: Path) -> dict[str, Split]:
        problem = self.layout_problem(root)
        if problem:
            raise self.not_found(problem)
        arrays = read_ckplus(root)
        data = Split(arrays["images"], arrays["labels"], arrays["subjects"])
        if self.split == "all":
            none = np.zeros(0, dtype=np.int64)
            return {"train": data.subset(none), "val": data.subset(none), "test": data}
        if self.split == "subject":
            unparsed = np.flatnonzero(data.groups < 0)
            if len(unparsed):
                raise DataError(
                    f"{root / arrays['paths'][unparsed[0]]}: file name does not parse as a CK+ "
                    "subject (S###_###_########); split 'subject' needs the subject of every "
                    "image (use --data.split=random otherwise)"
                )
            groups = data.groups
        else:
            groups = None  # image-level: stratified over each class's images
        index = fold_split(
            data.labels, groups, self.fold, self.num_folds, self.val_fraction, self.split_seed
        )
        return {name: data.subset(idx) for name, idx in index.items()}
