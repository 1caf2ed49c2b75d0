"""FER2013 in both of its real forms: the Kaggle ``fer2013.csv`` and the image-folder release.

Both are decoded once into uint8 arrays with each image's ``Usage`` (Training / PublicTest /
PrivateTest) and cached; the split protocol then picks train / val / test from them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from fer_lightning.data.base import FERDataModule, ListedSplit, Listing, Split
from fer_lightning.data.cache import cached_arrays, source_key
from fer_lightning.data.images import decode_all, file_kinds, list_class_folders
from fer_lightning.data.labels import FER7
from fer_lightning.data.pixels import BLANK_STD, is_blank, pixel_hashes
from fer_lightning.data.splits import stratified_split
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)

SIDE = 48
USAGES = ("Training", "PublicTest", "PrivateTest")
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")

#: Split protocols: where validation and test come from.
#: - official: val = PublicTest, test = PrivateTest (3,589 each).
#: - full_test: val carved from Training (``val_fraction``), test = PublicTest + PrivateTest
#:   (7,178, the protocol of qutub2023 and bodapati2024).
#: - holdout: val carved from Training (``val_fraction``, 0.2 in trinh2023), test = PrivateTest.
SplitProtocol = Literal["official", "full_test", "holdout"]


# ------------------------------------------------------------------------------ csv form
def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Decode the Kaggle csv (``emotion,pixels,Usage``) into images, labels and usage codes."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    usage: list[int] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataError(f"{path} is empty") from None
        missing = [c for c in ("emotion", "pixels", "Usage") if c not in header]
        if missing:
            raise DataError(f"{path}: header {header} lacks column(s) {', '.join(missing)}")
        ie, ip, iu = header.index("emotion"), header.index("pixels"), header.index("Usage")
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path} line {line}: expected {len(header)} fields, got {len(row)}"
                )
            try:
                label = int(row[ie])
            except ValueError:
                raise DataError(
                    f"{path} line {line}: emotion '{row[ie]}' is not an integer label"
                ) from None
            if not 0 <= label < len(FER7):
                raise DataError(f"{path} line {line}: emotion {label} is outside 0-{len(FER7) - 1}")
            u = row[iu].strip()
            if u not in USAGES:
                raise DataError(
                    f"{path} line {line}: Usage '{u}' is not one of {', '.join(USAGES)}"
                )
            fields = row[ip].split()
            if len(fields) != SIDE * SIDE:
                raise DataError(
                    f"{path} line {line}: expected {SIDE * SIDE} pixel values, got {len(fields)}"
                )
            try:
                pixels = np.array(fields, dtype=np.int64)
            except ValueError:
                raise DataError(f"{path} line {line}: pixels are not all integers") from None
            if pixels.min() < 0 or pixels.max() > 255:
                raise DataError(f"{path} line {line}: pixel values must be within 0-255")
            images.append(pixels.astype(np.uint8).reshape(SIDE, SIDE))
            labels.append(label)
            usage.append(USAGES.index(u))
    if not images:
        raise DataError(f"{path} has a header but no rows")
    return {
        "images": np.stack(images),
        "labels": np.array(labels, dtype=np.int64),
        "usage": np.array(usage, dtype=np.int8),
    }


# ---------------------------------------------------------------------------- folder form
def _usage_of(path: str, split_dir: str) -> int:
    """Usage code from the file-name prefix; -1 for a test image without one."""
    prefix = os.path.basename(path).split("_", 1)[0]
    if split_dir == "train":
        if prefix in ("PublicTest", "PrivateTest"):
            raise DataError(f"{path}: a {prefix} image inside train/")
        return 0
    if prefix == "Training":
        raise DataError(f"{path}: a Training image inside test/")
    return USAGES.index(prefix) if prefix in USAGES else -1


def list_folder_images(root: Path) -> tuple[list[tuple[str, int, int]], list[Path]]:
    """``(path, label, usage)`` of every image under ``train/<class>/`` and ``test/<class>/``,
    and the files skipped because they are not images."""
    items: list[tuple[str, int, int]] = []
    skipped: list[Path] = []
    for split_dir in ("train", "test"):
        base = root / split_dir
        if not base.is_dir():
            raise DataError(
                f"{root} has no {split_dir}/ folder (expected {split_dir}/<class>/*.jpg)"
            )
        found, not_images = list_class_folders(base, FER7)
        items += [(path, label, _usage_of(path, split_dir)) for path, label in found]
        skipped += not_images
    return items, skipped


def read_folders(root: Path, items: list[tuple[str, int, int]]) -> dict[str, np.ndarray]:
    """Decode the listed images (threads: PIL releases the GIL while decoding)."""
    return {
        "images": decode_all([p for p, _, _ in items], "L", (SIDE, SIDE), "FER2013"),
        "labels": np.array([lbl for _, lbl, _ in items], dtype=np.int64),
        "usage": np.array([u for _, _, u in items], dtype=np.int8),
    }


# ---------------------------------------------------------------------------- datamodule
class FER2013DataModule(FERDataModule):
    """FER2013 from ``<root>/fer2013/fer2013.csv`` or ``<root>/fer2013/{train,test}/<class>/``."""

    name = "fer2013"
    class_names = FER7
    folder = "fer2013"
    title = "FER2013"
    layout = "train/<class>/*.jpg and test/<class>/*.jpg, or fer2013.csv"

    def __init__(
        self,
        *args,
        split: SplitProtocol = "official",
        source: Literal["auto", "csv", "folder"] = "auto",
        remove_blank: bool = False,
        remove_test_duplicates: bool = False,
        **kwargs,
    ) -> None:
        """
        Args:
            split: ``official`` (val PublicTest, test PrivateTest), ``full_test`` (val carved
                from train, test PublicTest + PrivateTest = 7,178) or ``holdout`` (val carved
                from train, test PrivateTest).
            source: ``csv``, ``folder``, or ``auto`` (the csv if present, else the folders).
            remove_blank: drop blank and near-constant images (pixel std below
                ``fer_lightning.data.pixels.BLANK_STD``) from every split, as bodapati2024.
            remove_test_duplicates: drop test images whose decoded pixels equal those of a
                Training image. What either option drops is logged and written to
                ``<run dir>/data_cleaning.json``.
            *args, **kwargs: see :class:`FERDataModule`.
        """
        super().__init__(*args, **kwargs)
        self.split = split
        self.source = source
        self.remove_blank = remove_blank
        self.remove_test_duplicates = remove_test_duplicates
        self.skipped: list[Path] = []
        #: A name per decoded image (relative file path, or csv row), in array order.
        self.sources: list[str] = []
        #: Whether the images came from files (the folder form) rather than csv rows.
        self.source_files = False
        #: What the cleaning options dropped: ``{"<reason>/<split>": [names]}``.
        self.dropped: dict[str, list[str]] = {}

    def layout_problem(self, root: Path) -> str | None:
        if not root.is_dir():
            return f"{root} does not exist"
        csv_path = self._find_csv(root) if self.source in ("auto", "csv") else None
        if self.source == "csv" and csv_path is None:
            return f"{root} has no {' or '.join(CSV_NAMES)} (data.source is 'csv')"
        lacking = [f"{d}/" for d in ("train", "test") if not (root / d).is_dir()]
        if csv_path is None and lacking:
            no_csv = "" if self.source == "folder" else f" and no {CSV_NAMES[0]}"
            return f"{root} has no {' or '.join(lacking)} folder{no_csv}"
        return None

    def _find_csv(self, root: Path) -> Path | None:
        return next((root / n for n in CSV_NAMES if (root / n).is_file()), None)

    def read_all(self, root: Path) -> dict[str, np.ndarray]:
        """All images with labels and usage codes, decoded once and cached."""
        problem = self.layout_problem(root)
        if problem:
            raise self.not_found(problem)
        csv_path = self._find_csv(root) if self.source in ("auto", "csv") else None
        if csv_path is not None:
            key = source_key([csv_path], root)
            arrays = cached_arrays(
                "fer2013-csv", key, lambda: read_csv(csv_path), keys=("images", "labels", "usage")
            )
            self.sources = [f"{csv_path.name} row {i + 1}" for i in range(len(arrays["labels"]))]
            self.source_files = False
            return arrays
        items, self.skipped = list_folder_images(root)
        if self.skipped:
            log.warning(
                "FER2013: skipped %d non-image entries under %s (e.g. %s)",
                len(self.skipped),
                root,
                self.skipped[0],
            )
        if not items:
            raise DataError(f"{root}: no images found under train/<class>/ or test/<class>/")
        key = source_key([p for p, _, _ in items], root)
        prefix = len(os.fspath(root).rstrip(os.sep)) + 1
        self.sources = [p[prefix:].replace(os.sep, "/") for p, _, _ in items]
        self.source_files = True
        return cached_arrays(
            "fer2013-folder",
            key,
            lambda: read_folders(root, items),
            keys=("images", "labels", "usage"),
            length=len(items),
        )

    def listing(self) -> Listing:
        """Training, PublicTest and PrivateTest (and ``test``: test images of the folder form
        without either prefix), named by file or csv row."""
        root = self.root
        arrays = self.read_all(root)
        usage = arrays["usage"]
        splits = {}
        for code, name in [(0, USAGES[0]), (1, USAGES[1]), (2, USAGES[2]), (-1, "test")]:
            index = np.flatnonzero(usage == code)
            if len(index):
                names = [self.sources[i] for i in index]
                splits[name] = ListedSplit(arrays["images"][index], arrays["labels"][index], names)
        if self.source_files:
            files = file_kinds([root / s for s in self.sources])
        else:
            files = {f"{SIDE}x{SIDE} L (csv pixels)": len(usage)}
        return Listing(splits, files)

    @property
    def val_from_train(self) -> bool:
        return self.split != "official"  # official: validation is PublicTest

    def load_splits(self, root: Path) -> dict[str, Split]:
        arrays = self.read_all(root)
        data = Split(arrays["images"], arrays["labels"])
        usage = arrays["usage"]
        by_usage = {u: np.flatnonzero(usage == i) for i, u in enumerate(USAGES)}
        unmarked = np.flatnonzero(usage == -1)
        train = by_usage["Training"]
        if len(train) == 0:
            raise DataError(f"{root}: no Training images found; every protocol needs them")

        def need(*names: str) -> np.ndarray:
            if len(unmarked):
                raise DataError(
                    f"{root}: {len(unmarked)} test images lack a PublicTest_/PrivateTest_ prefix, "
                    f"so split '{self.split}' cannot tell them apart"
                    + ("" if self.split == "full_test" else "; use --data.split=full_test")
                )
            for name in names:
                if len(by_usage[name]) == 0:
                    raise DataError(
                        f"{root}: no {name} images found; split '{self.split}' needs them"
                    )
            return np.concatenate([by_usage[n] for n in names])

        if self.split == "official":
            val = need("PublicTest")
            test = need("PrivateTest")
        else:
            keep, held = stratified_split(data.labels[train], self.val_fraction, self.split_seed)
            val = train[held]
            train = train[keep]
            if self.split == "full_test":
                test = np.concatenate([by_usage["PublicTest"], by_usage["PrivateTest"], unmarked])
                if len(test) == 0:
                    raise DataError(f"{root}: no test images found; split 'full_test' needs them")
                test = np.sort(test)
            else:
                test = need("PrivateTest")
        index = {"train": train, "val": val, "test": test}
        if self.remove_blank or self.remove_test_duplicates:
            index = self._clean(data, index, by_usage["Training"])
        return {name: data.subset(idx) for name, idx in index.items()}

    def _clean(
        self, data: Split, index: dict[str, np.ndarray], training: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Drop blank images and / or test duplicates of Training images (bodapati2024)."""
        self.dropped = {}
        if self.remove_blank:
            blank = is_blank(data.images, BLANK_STD)
            for name, idx in index.items():
                self.dropped[f"blank/{name}"] = [self.sources[i] for i in idx[blank[idx]]]
                index[name] = idx[~blank[idx]]
        if self.remove_test_duplicates:
            seen = set(pixel_hashes(data.images[training]).tolist())
            test = index["test"]
            dup = np.array([h in seen for h in pixel_hashes(data.images[test]).tolist()], bool)
            self.dropped["duplicate_of_training/test"] = [self.sources[i] for i in test[dup]]
            index["test"] = test[~dup]
        for reason, names in self.dropped.items():
            log.info(
                "FER2013 cleaning dropped %d %s images%s",
                len(names),
                reason,
                f" (e.g. {', '.join(names[:3])})" if names else "",
            )
        self._write_dropped()
        return index

    def _write_dropped(self) -> None:
        """Write what the cleaning dropped into the run directory, when there is one."""
        trainer = getattr(self, "trainer", None)
        run_dir = getattr(trainer, "default_root_dir", None) if trainer is not None else None
        if not run_dir or not getattr(trainer, "is_global_zero", True):
            return
        path = Path(run_dir) / "data_cleaning.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        counts = {reason: len(names) for reason, names in self.dropped.items()}
        path.write_text(json.dumps({"counts": counts, "dropped": self.dropped}, indent=1))
        log.info("FER2013 cleaning: the dropped images are listed in %s", path)
