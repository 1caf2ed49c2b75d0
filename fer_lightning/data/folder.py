"""Your own images as a dataset: one subfolder per class, or a csv of ``path,label[,group]``.

Class names are matched to the FER class names the package knows (FER2013's seven and the other
datasets' classes such as *contempt*) through the label synonyms, so ``Happiness/`` is *happy*
and a model trained on FER classes lines up with them by name; a name that matches none is
refused unless ``own_classes`` keeps the names as they are. Classes are in the sorted order of
their folder names (csv labels), as torchvision's ``ImageFolder``.

Splits: ``folds`` (the default) is a seeded k-fold, over groups when each image's group is known
(the csv's third column, or ``subject_pattern`` read from the file name, e.g. CK+'s
``S(\\d+)_``) so that nobody is both trained on and tested on, else over each class's images;
``fer-lightning cv`` runs every fold. ``fraction`` holds out ``test_fraction`` and then
``val_fraction`` (of groups, or of each class's images). ``all`` makes every image the test set.
The fold functions are CK+'s (:mod:`fer_lightning.data.splits`): CK+48 laid out as plain class
folders with ``subject_pattern: 'S(\\d+)_'`` gives exactly the CK+ datamodule's folds.

Images of any size and mode (RGB, RGBA, palette, 16-bit) are decoded once, converted to the
model's input (``image_size`` square, ``channels``: 1 gray, 3 RGB) and cached; one log line says
what was converted. In a class folder, files that are not images (by extension) and hidden files
are ignored with a count; a file with an image extension that does not decode is refused.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_lightning.bitdepth import to_8bit
from fer_lightning.data import registry
from fer_lightning.data.base import FERDataModule, ListedSplit, Listing, Split
from fer_lightning.data.cache import cached_arrays, source_key
from fer_lightning.data.images import IMAGE_SUFFIXES, file_kinds
from fer_lightning.data.labels import FER7, canonical
from fer_lightning.data.splits import fold_split, stratified_split, validation_mask
from fer_lightning.errors import DataError, FERUserError
from fer_lightning.paths import data_root

log = logging.getLogger(__name__)

LAYOUT = "one subfolder of images per class (<class>/<image>), or a csv of path,label[,group]"
SUFFIXES = ", ".join(sorted(IMAGE_SUFFIXES))
#: CSV header names (optional; a first row of exactly these is skipped).
HEADER = ("path", "label", "group")


def known_classes() -> list[str]:
    """Every class name the package knows, canonical: FER2013's seven, then the other
    registered datasets' classes (e.g. FER+'s and CK+'s *contempt*)."""
    names = list(FER7)
    for cls in registry.datamodules():
        names += [c for c in map(canonical, cls.class_names) if c not in names]
    return names


@dataclass
class Found:
    """What a folder or csv holds: each image's path, class (an index into ``classes``) and
    group (or None), and the class names as written with where each comes from."""

    paths: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] | None = None
    #: Class names as the folders / csv labels spell them, sorted; and where each is
    #: (its folder, or the csv row that first names it), for messages.
    classes: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: The folder paths are relative to (the folder, or the csv's folder).
    base: Path = Path()


def _visible(name: str) -> bool:
    return not name.startswith(".")


def scan_folder(root: Path) -> Found:
    """Every image in ``root/<class>/``, folders and files in name order; files that are not
    images (by extension) and hidden ones are skipped. No class folder, one class folder or
    an empty one is a :class:`DataError`."""
    found = Found(base=root)
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    folders = [e for e in entries if e.is_dir() and _visible(e.name)]
    found.skipped = [e.path for e in entries if not (e.is_dir() and _visible(e.name))]
    if not folders:
        raise DataError(
            f"{root} holds no class folders; put the images in one subfolder per class "
            f"({root / 'happy'}/0001.png, {root / 'sad'}/0002.png, ...) or set --data.data_dir "
            "to a csv of path,label[,group]"
        )
    if len(folders) == 1:
        raise DataError(
            f"{root} holds one class folder ('{folders[0].name}'); a classifier needs at least "
            "two, so add one subfolder of images per class"
        )
    for label, folder in enumerate(folders):
        found.classes.append(folder.name)
        found.where.append(folder.path)
        count = len(found.paths)
        for child in sorted(os.scandir(folder.path), key=lambda e: e.name):
            suffix = os.path.splitext(child.name)[1].lower()
            if suffix in IMAGE_SUFFIXES and _visible(child.name) and child.is_file():
                found.paths.append(child.path)
                found.labels.append(label)
            else:
                found.skipped.append(child.path)
        if len(found.paths) == count:
            raise DataError(
                f"{folder.path}: class folder '{folder.name}' holds no images ({SUFFIXES}); "
                "put its images in it or remove it"
            )
    return found


def read_label_csv(path: Path) -> Found:
    """The rows ``path,label[,group]`` of the csv ``path`` (image paths relative to its
    folder; a header row ``path,label[,group]`` is skipped). A row with a missing or
    non-image file, a repeated file, no label or a group on some rows only is a
    :class:`DataError` naming the row."""
    base = path.parent
    rows: list[tuple[int, str, str, str | None]] = []
    seen: dict[str, int] = {}
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        for row in reader:
            line = reader.line_num
            fields = [f.strip() for f in row]
            if not any(fields):
                continue
            if not rows and [f.lower() for f in fields] in (list(HEADER[:2]), list(HEADER)):
                continue
            if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
                raise DataError(
                    f"{path} row {line}: expected path,label[,group] (an image path relative to "
                    f"{base} and its class), got {','.join(row)!r}"
                )
            file = fields[0]
            if os.path.splitext(file)[1].lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{path} row {line}: {file} is not an image file ({SUFFIXES})")
            if not (base / file).is_file():
                raise DataError(
                    f"{path} row {line}: {file} does not exist (paths are relative to {base})"
                )
            key = os.path.normpath(file)
            if key in seen:
                raise DataError(
                    f"{path} row {line}: {file} is listed again (first on row {seen[key]}); "
                    "list each image once"
                )
            seen[key] = line
            rows.append((line, file, fields[1], fields[2] if len(fields) == 3 else None))
    if not rows:
        raise DataError(f"{path} lists no images; expected rows of path,label[,group]")
    with_group = [r for r in rows if r[3]]
    if with_group and len(with_group) != len(rows):
        odd = next(r for r in rows if bool(r[3]) != bool(rows[0][3]))
        raise DataError(
            f"{path} row {odd[0]}: {'no' if not odd[3] else 'a'} group where row {rows[0][0]} "
            f"{'has one' if rows[0][3] else 'has none'}; give every row a group or none"
        )
    names = sorted({r[2] for r in rows})
    first = {}
    for line, _, label, _ in rows:
        first.setdefault(label, line)
    found = Found(base=base, classes=names, where=[f"{path} row {first[n]}" for n in names])
    found.paths = [str(base / r[1]) for r in rows]
    found.labels = [names.index(r[2]) for r in rows]
    found.groups = [r[3] for r in rows] if with_group else None  # type: ignore[misc]
    return found


def group_ids(groups: list[str]) -> np.ndarray:
    """Groups as integers: the numbers themselves when every group is one (CK+'s subject
    ``005`` is 5, so the folds are CK+'s), else each name's rank in sorted order."""
    if all(g.isdigit() for g in groups):
        return np.array([int(g) for g in groups], dtype=np.int64)
    return np.unique(np.array(groups), return_inverse=True)[1].astype(np.int64)


def decode_as(path: str, mode: str, side: int) -> tuple[np.ndarray, str]:
    """``path`` as a ``side`` x ``side`` uint8 array in PIL ``mode`` (EXIF orientation
    applied, any bit depth scaled to 8 bits, alpha dropped, resized bilinear when its size
    differs), and what it was (``WxH mode``)."""
    try:
        with Image.open(path) as img:
            kind = f"{img.size[0]}x{img.size[1]} {img.mode}"
            img = to_8bit(ImageOps.exif_transpose(img), mode)
            if img.size != (side, side):
                img = img.resize((side, side), Image.Resampling.BILINEAR)
            return np.asarray(img), kind
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(f"{path}: unreadable image ({err})") from None


class FolderDataModule(FERDataModule):
    """Your own images: ``data_dir`` is a folder of class folders, or a csv of
    ``path,label[,group]``."""

    name = "folder"
    #: The classes assumed until the folder is found (configs are built without the data).
    class_names = FER7
    folder = "folder"
    title = "your folder"
    layout = LAYOUT

    def __init__(
        self,
        *args,
        own_classes: bool = False,
        subject_pattern: str | None = None,
        split: Literal["folds", "fraction", "all"] = "folds",
        fold: int = 0,
        num_folds: int = 5,
        test_fraction: float = 0.2,
        **kwargs,
    ) -> None:
        """
        Args:
            data_dir: your folder (``<class>/<image>``) or csv (``path,label[,group]``, image
                paths relative to the csv; a ``path,label[,group]`` header is optional).
            own_classes: keep the class names as written instead of matching them to the FER
                classes (``Happiness`` -> ``happy``); needed for classes the package does not
                know.
            subject_pattern: a regular expression found in each file name whose first group
                (else the whole match) is the image's subject, e.g. ``S(\\d+)_`` for CK+'s
                ``S005_001_00000011.png``: splits then keep each subject on one side. A csv's
                group column does the same.
            split: ``folds`` (k-fold; ``fold`` is the test fold, validation ``val_fraction``
                of the other folds' subjects or images), ``fraction`` (``test_fraction``, then
                ``val_fraction`` of the rest) or ``all`` (every image is the test set, for a
                model trained elsewhere).
            fold, num_folds: the test fold ``0 .. num_folds-1`` of ``folds``; ``fer-lightning
                cv`` runs every fold.
            test_fraction: the test share of ``fraction``.
            *args, **kwargs: see :class:`FERDataModule` (``classes`` keeps some classes).
        """
        if num_folds < 2:
            raise DataError(f"data.num_folds must be at least 2, got {num_folds}")
        if not 0 <= fold < num_folds:
            raise DataError(f"data.fold must be in 0..{num_folds - 1}, got {fold}")
        if split != "folds" and fold != 0:
            raise FERUserError(
                f"data.fold={fold} is for data.split=folds; data.split={split} has one test "
                "set (fer-lightning cv needs data.split=folds)"
            )
        if not 0 < test_fraction < 1:
            raise FERUserError(
                f"data.test_fraction must be a fraction strictly between 0 and 1, got "
                f"{test_fraction!r}"
            )
        self.pattern: re.Pattern[str] | None = None
        if subject_pattern is not None:
            try:
                self.pattern = re.compile(subject_pattern)
            except re.error as err:
                raise FERUserError(
                    f"data.subject_pattern {subject_pattern!r} is not a regular expression ({err})"
                ) from None
        self.own_classes = own_classes
        self.subject_pattern = subject_pattern
        self.split = split
        self.fold = fold
        self.num_folds = num_folds
        self.test_fraction = test_fraction
        self.found: Found | None = None
        #: Each available class's folder or csv row (for messages).
        self.class_where: list[str] = []
        #: Index into ``found.classes`` of each image's available class (-1: left out).
        self._class_of: np.ndarray | None = None
        super().__init__(*args, **kwargs)  # calls available_classes()
        # What inference converts a face to (it reads the checkpoint's data settings): the
        # images are decoded in colour for a 3-channel model, unlike the class's image_mode.
        self.hparams["color"] = "gray" if self.channels == 1 else "rgb"

    # ------------------------------------------------------------------- where and what
    @property
    def root(self) -> Path:
        """``data_dir`` itself (or its ``folder/``, where a data root holds one)."""
        if not self.data_dir:
            return data_root() / self.folder
        base = data_root(self.data_dir)
        nested = base / self.folder
        return nested if nested.is_dir() else base

    def not_found(self, detail: str) -> DataError:
        return DataError(
            f"your images not found: {detail}; set --data.data_dir to a folder holding "
            "one subfolder of images per class (<class>/<image>), or to a csv of "
            "path,label[,group]"
        )

    def layout_problem(self, root: Path) -> str | None:
        if not root.exists():
            return f"{root} does not exist"
        if root.is_file() and root.suffix.lower() != ".csv":
            return f"{root} is a file but not a .csv"
        return None

    def _scan(self) -> Found:
        root = self.root
        problem = self.layout_problem(root)
        if problem:
            raise self.not_found(problem)
        return read_label_csv(root) if root.is_file() else scan_folder(root)

    def available_classes(self) -> tuple[str, ...]:
        """The classes of the folder or csv: matched to the FER names (sorted by how they are
        written), or as written with ``own_classes``. Until the folder exists (a config built
        without its data), ``classes`` or FER2013's seven."""
        if self.layout_problem(self.root):
            self.found = None
            assumed = tuple(self.classes or FER7)
            return assumed if self.own_classes else tuple(map(canonical, assumed))
        found = self.found = self._scan()
        if self.own_classes:
            names = list(found.classes)
            index = list(range(len(names)))
        else:
            names, index = self._matched(found)
        for i, n in enumerate(names):  # two spellings of one class
            if n in names[:i]:
                first, second = index[names.index(n)], index[i]
                raise DataError(
                    f"{found.where[second]}: '{found.classes[second]}' and "
                    f"'{found.classes[first]}' are both the class {n}; put their images "
                    "under one name"
                )
        to_available = np.full(len(found.classes), -1, dtype=np.int64)
        to_available[index] = np.arange(len(index))
        self._class_of = to_available[np.array(found.labels, dtype=np.int64)]
        self.class_where = [found.where[i] for i in index]
        if len(names) < 2:
            raise DataError(
                f"{self.root} holds one class ({names[0] if names else 'none'}) after "
                "data.classes; a classifier needs at least two"
            )
        return tuple(names)

    def _matched(self, found: Found) -> tuple[list[str], list[int]]:
        """The FER names of the classes found and their indices in ``found.classes``; a class
        that matches none is refused unless ``classes`` leaves it out."""
        known = known_classes()
        wanted = None if self.classes is None else {c.strip().lower() for c in self.classes}
        names, index = [], []
        for i, written in enumerate(found.classes):
            name = canonical(written)
            if name in known:
                names.append(name)
                index.append(i)
            elif wanted is None or written.strip().lower() in wanted:
                what = "class folder" if os.path.isdir(found.where[i]) else "label"
                raise DataError(
                    f"{found.where[i]}: {what} '{written}' is none of the FER classes "
                    f"({', '.join(known)}) or their synonyms; set --data.own_classes=true to "
                    "train on your own class names, or rename it to one of those (or leave it "
                    "out of --data.classes)"
                )
            else:
                log.info("%s: '%s' left out (not in data.classes)", found.where[i], written)
        return names, index

    # ------------------------------------------------------------------------ the images
    def _groups(self, found: Found) -> np.ndarray | None:
        """Each image's group: the csv's, else ``subject_pattern``'s match in its file name."""
        if found.groups is not None:
            if self.pattern is not None:
                raise FERUserError(
                    f"{self.root} has a group column and data.subject_pattern is set too; "
                    "give the groups one way (drop --data.subject_pattern)"
                )
            return group_ids(found.groups)
        if self.pattern is None:
            return None
        subjects, missing = [], []
        for path in found.paths:
            match = self.pattern.search(os.path.basename(path))
            if match is None:
                missing.append(path)
                continue
            subjects.append(match.group(1) if self.pattern.groups else match.group(0))
        if missing:
            example = os.path.relpath(missing[0], found.base)
            if len(missing) == len(found.paths):
                raise DataError(
                    f"data.subject_pattern {self.subject_pattern!r} matches no file name (e.g. "
                    f"{example}); give a regular expression found in every file name whose "
                    "first group is the subject, e.g. 'S(\\d+)_' for S005_001_00000011.png"
                )
            raise DataError(
                f"data.subject_pattern {self.subject_pattern!r} finds no subject in {example} "
                f"({len(missing)} of {len(found.paths)} file names); every image needs one for "
                "a split by subject (or drop data.subject_pattern to split images)"
            )
        return group_ids(subjects)

    def _items(self) -> tuple[Found, np.ndarray, np.ndarray | None]:
        """The folder's listing, which of its images belong to an available class, and every
        image's group (None without groups); no image is decoded."""
        if self.found is None:  # the folder did not exist when the datamodule was made
            super().check_location()
            assumed = self.class_names
            self._select_classes()
            if self.class_names != assumed:
                raise DataError(
                    f"{self.root} appeared after the model was made for the classes "
                    f"{', '.join(assumed)}; run the command again"
                )
        assert self.found is not None and self._class_of is not None
        return self.found, np.flatnonzero(self._class_of >= 0), self._groups(self.found)

    def check_location(self) -> None:
        """Also what is wrong with the listing (subjects, images per class), before the run
        starts: only decoding is left for :meth:`setup`."""
        super().check_location()
        _, keep, groups = self._items()
        assert self._class_of is not None
        self._check_counts(self._class_of[keep], None if groups is None else groups[keep])

    def read_all(self) -> dict[str, np.ndarray]:
        """Every image of the available classes, decoded at the model's input size and mode
        (cached), with its label (an available class) and group (-1: none)."""
        found, keep, groups = self._items()
        assert self._class_of is not None
        if found.skipped:
            log.warning(
                "%s: ignored %d files that are not images (e.g. %s); images are %s",
                type(self).__name__,
                len(found.skipped),
                os.path.relpath(found.skipped[0], found.base),
                SUFFIXES,
            )
        paths = [found.paths[i] for i in keep]
        mode, side = ("L" if self.channels == 1 else "RGB"), self.image_size

        def build() -> dict[str, np.ndarray]:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                done = list(pool.map(lambda p: decode_as(p, mode, side), paths, chunksize=64))
            return {
                "images": np.stack([image for image, _ in done]),
                "kinds": np.array([kind for _, kind in done]),
            }

        arrays = cached_arrays(
            f"folder-{mode}{side}",
            source_key(paths, found.base),
            build,
            keys=("images", "kinds"),
            length=len(paths),
        )
        kinds = Counter(arrays["kinds"].tolist()).most_common()
        target = f"{side}x{side} {mode}"
        said = ", ".join(f"{k}: {n}" for k, n in kinds[:4]) + (", ..." if len(kinds) > 4 else "")
        log.info(
            "%s: %d images (%s) %s %s, the model's input (data.image_size=%d, data.channels=%d)",
            type(self).__name__,
            len(paths),
            said,
            "read as" if [k for k, _ in kinds] == [target] else "converted to",
            target,
            side,
            self.channels,
        )
        return {
            "images": arrays["images"],
            "labels": self._class_of[keep],
            "groups": np.full(len(keep), -1) if groups is None else groups[keep],
            "has_groups": np.array(groups is not None),
            "names": np.array([os.path.relpath(p, found.base) for p in paths]),
        }

    def listing(self) -> Listing:
        """One split, ``all``, named by file (relative to the folder or csv)."""
        arrays = self.read_all()
        names = arrays["names"].tolist()
        split = ListedSplit(arrays["images"], arrays["labels"], names)
        assert self.found is not None
        kinds = file_kinds([self.found.base / n for n in names])
        return Listing({"all": split}, kinds, class_names=self.dataset_classes)

    # ------------------------------------------------------------------------- the splits
    def _check_counts(self, labels: np.ndarray, groups: np.ndarray | None) -> None:
        """Each kept class must reach every split it is dealt to: ``num_folds`` subjects (or
        images) for ``folds``, three for ``fraction`` (train, validation, test)."""
        if self.split == "all":
            return
        need = self.num_folds if self.split == "folds" else 3
        unit = "subjects" if groups is not None else "images"
        for label in self.kept_classes():
            mine = labels == label
            count = len(np.unique(groups[mine])) if groups is not None else int(mine.sum())
            if count >= need:
                continue
            name, where = self.dataset_classes[label], self.class_where[label]
            if self.split == "folds":
                raise DataError(
                    f"class '{name}' ({where}) has {count} {unit}, fewer than "
                    f"data.num_folds={self.num_folds}, so some test fold would have none of it; "
                    f"lower --data.num_folds, add {unit}, or leave the class out with "
                    "--data.classes"
                )
            raise DataError(
                f"class '{name}' ({where}) has {count} {unit}, fewer than the 3 that training, "
                f"validation and test need one each; add {unit} or leave the class out with "
                "--data.classes"
            )

    def load_splits(self, root: Path) -> dict[str, Split]:
        arrays = self.read_all()
        groups = arrays["groups"] if bool(arrays["has_groups"]) else None
        data = Split(arrays["images"], arrays["labels"], groups)
        if self.split == "all":
            none = np.zeros(0, dtype=np.int64)
            return {"train": data.subset(none), "val": data.subset(none), "test": data}
        self._check_counts(data.labels, groups)
        if self.split == "folds":
            index = fold_split(
                data.labels, groups, self.fold, self.num_folds, self.val_fraction, self.split_seed
            )
        else:
            index = self._fraction_split(data.labels, groups)
        return {name: data.subset(idx) for name, idx in index.items()}

    def _fraction_split(
        self, labels: np.ndarray, groups: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """``test_fraction`` of the groups (or of each class's images) for test, then
        ``val_fraction`` of the rest for validation, seeded by ``split_seed``."""
        if groups is None:
            rest, test = stratified_split(labels, self.test_fraction, self.split_seed)
        else:
            unique = np.unique(groups)
            if len(unique) < 3:
                raise DataError(
                    f"{self.root}: {len(unique)} subjects cannot fill training, validation and "
                    "test; add subjects or drop data.subject_pattern"
                )
            n_test = min(max(1, round(self.test_fraction * len(unique))), len(unique) - 2)
            chosen = np.random.default_rng(self.split_seed).choice(unique, n_test, replace=False)
            is_test = np.isin(groups, chosen)
            test, rest = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        is_val = validation_mask(
            labels[rest],
            None if groups is None else groups[rest],
            self.val_fraction,
            self.split_seed,
        )
        return {"train": rest[~is_val], "val": rest[is_val], "test": test}
