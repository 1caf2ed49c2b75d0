"""FER+ (Barsoum et al. 2016): the FER2013 images, each relabelled by 10 annotators.

Two real forms are read:

- the official training layout that microsoft/FERPlus's ``generate_training_data.py`` writes:
  ``FER2013Train|FER2013Valid|FER2013Test/label.csv`` and the PNGs it names (train, val and
  test); each ``label.csv`` line is ``<png>,"(0, 0, 48, 48)",<10 vote counts>``;
- the pair ``fer2013.csv`` (the original FER2013 csv, ``emotion,pixels,Usage``) and
  ``fer2013new.csv`` (``Usage,Image name,<10 vote counts>``), joined by row position: the
  number in an image's file name is not always its row.

The votes are counted in the order of :data:`VOTES` (8 emotions, then *unknown* and *NF*, not a
face). How they become training targets is microsoft/FERPlus ``src/ferplus.py``'s
``_process_data`` (:func:`process_votes`), in one of its four modes (:data:`MODES`); an image
whose result is unknown or NF is dropped in every mode, and validation and test are always the
majority labels of the 8 emotions, as the FER+ training script reads them.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.data.base import FERDataModule, ListedSplit, Listing, Split
from fer_lightning.data.cache import cached_arrays, source_key
from fer_lightning.data.fer2013 import USAGES, read_csv
from fer_lightning.data.images import decode_all, file_kinds
from fer_lightning.data.labels import FER7, canonical
from fer_lightning.errors import DataError, FERUserError

log = logging.getLogger(__name__)

SIDE = 48
#: The vote columns, in the files' order.
VOTES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
#: The 8 classes: the emotions (FER+'s order and names).
FERPLUS8: tuple[str, ...] = VOTES[:8]
UNKNOWN, NF = 8, 9
#: The training modes of microsoft/FERPlus (``train.py -m``).
MODES: tuple[str, ...] = ("majority", "probability", "crossentropy", "multi_target")
#: Split -> folder of the official layout.
FOLDERS: dict[str, str] = {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}
SPLITS: tuple[str, ...] = tuple(FOLDERS)
LABEL_FILE = "label.csv"
CSV_PAIR: tuple[str, str] = ("fer2013.csv", "fer2013new.csv")
#: FER2013 ``Usage`` -> split.
USAGE_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


# ----------------------------------------------------------------------------- the votes
def process_votes(votes: np.ndarray | list[float], mode: str) -> list[float]:
    """The 10-way distribution microsoft/FERPlus ``_process_data`` makes of one image's 10
    vote counts in training ``mode`` (a port, branch for branch).

    First every category with a single vote is set to 0 (outlier removal). ``majority``: the
    category with more than half of the remaining votes, else *unknown*. ``probability`` and
    ``crossentropy``: the categories taken in order of their votes (ties together) until 75 %
    of the votes, at most 3 of them and stopping at unknown / NF; unknown when they hold half
    of the votes or less. ``multi_target``: every category with at least 30 % of the votes;
    unknown when they hold half of the votes or less. The result sums to 1.
    """
    raw = [float(v) for v in votes]
    size = len(raw)
    unknown = [0.0] * size
    unknown[-2] = 1.0
    for i in range(size):
        if raw[i] < 1.0 + sys.float_info.epsilon:
            raw[i] = 0.0
    total = sum(raw)
    emotion = [0.0] * size
    if mode == "majority":
        peak = max(raw)
        if peak > 0.5 * total:
            emotion[int(np.argmax(raw))] = peak
        else:
            emotion = unknown
    elif mode in ("probability", "crossentropy"):
        part = 0.0
        count = 0
        valid = True
        while part < 0.75 * total and count < 3 and valid:
            peak = max(raw)
            for i in range(size):
                if raw[i] == peak:
                    emotion[i] = peak
                    raw[i] = 0
                    part += emotion[i]
                    count += 1
                    if i >= 8:  # unknown or NF shares the largest count
                        valid = False
                        if sum(emotion) > peak:  # emotions came before it
                            emotion[i] = 0
                            count -= 1
                        break
        if sum(emotion) <= 0.5 * total or count > 3:
            emotion = unknown
    elif mode == "multi_target":
        for i in range(size):
            if raw[i] >= 0.3 * total:
                emotion[i] = raw[i]
        if sum(emotion) <= 0.5 * total:
            emotion = unknown
    else:
        raise FERUserError(f"data.mode '{mode}' is not one of {', '.join(MODES)}")
    return [e / sum(emotion) for e in emotion]


@dataclass
class Targets:
    """What one training mode makes of a split's votes."""

    #: Images kept (the result is one of the 8 emotions, not unknown or NF).
    keep: np.ndarray
    #: Integer label of each kept image: the largest share of its distribution.
    labels: np.ndarray
    #: (kept, 8) float targets: the distribution over the 8 emotions (``probability``,
    #: ``crossentropy``), the 0/1 target set (``multi_target``); None for ``majority``.
    targets: np.ndarray | None


def mode_targets(votes: np.ndarray, mode: str) -> Targets:
    """The images ``mode`` keeps out of ``votes`` (N, 10), with their labels and targets, as
    microsoft/FERPlus ``load_folders`` keeps them: an image is kept when the largest share of
    its :func:`process_votes` distribution is one of the 8 emotions; its target is then that
    distribution over the 8 emotions, renormalised."""
    dist = np.array([process_votes(v, mode) for v in votes], dtype=np.float64).reshape(-1, 10)
    winner = dist.argmax(axis=1)
    keep = winner < UNKNOWN
    emotions = dist[keep, :UNKNOWN]
    targets: np.ndarray | None = None
    if mode in ("probability", "crossentropy"):
        targets = (emotions / emotions.sum(axis=1, keepdims=True)).astype(np.float32)
    elif mode == "multi_target":
        targets = (emotions > 0).astype(np.float32)
    return Targets(keep, winner[keep].astype(np.int64), targets)


def majority_outcome(votes: np.ndarray) -> np.ndarray:
    """Per image: the majority category (0-7 an emotion, 8 unknown, 9 NF), or -1 where no
    category has more than half of the votes left by the outlier removal."""
    out = np.full(len(votes), -1, dtype=np.int64)
    for i, v in enumerate(votes):
        kept = np.where(v > 1, v, 0)
        if kept.max() > 0.5 * kept.sum():
            out[i] = int(kept.argmax())
    return out


# ------------------------------------------------------------------------------- reading
def _votes(path: Path, line: int, fields: list[str]) -> list[float]:
    try:
        votes = [float(f) for f in fields]
    except ValueError:
        raise DataError(
            f"{path} line {line}: the votes {','.join(fields)} are not all numbers"
        ) from None
    if any(not np.isfinite(v) or v < 0 for v in votes):
        raise DataError(f"{path} line {line}: the votes {','.join(fields)} must be counts >= 0")
    return votes


def read_label_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Image names and (N, 10) votes of an official ``label.csv`` (no header)."""
    names: list[str] = []
    votes: list[list[float]] = []
    width = 2 + len(VOTES)
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != width:
                raise DataError(
                    f"{path} line {line}: expected {width} fields (image, face box, "
                    f"{len(VOTES)} vote counts), got {len(row)}"
                )
            names.append(row[0].strip())
            votes.append(_votes(path, line, row[2:]))
    if not names:
        raise DataError(f"{path} holds no rows")
    return names, np.array(votes, dtype=np.float32)


def read_new_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Usage, image name and (N, 10) votes of every row of ``fer2013new.csv``."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        width = 2 + len(VOTES)
        if header is None or len(header) != width:
            raise DataError(
                f"{path}: expected a header of {width} columns (Usage, Image name, "
                f"{', '.join(VOTES)}), got {header}"
            )
        usage, names, votes = [], [], []
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != width:
                raise DataError(f"{path} line {line}: expected {width} fields, got {len(row)}")
            if row[0].strip() not in USAGES:
                raise DataError(
                    f"{path} line {line}: Usage '{row[0]}' is not one of {', '.join(USAGES)}"
                )
            usage.append(row[0].strip())
            names.append(row[1].strip())
            votes.append(_votes(path, line, row[2:]))
    if not names:
        raise DataError(f"{path} has a header but no rows")
    return usage, names, np.array(votes, dtype=np.float32)


def _split_codes(usage: list[str] | np.ndarray) -> np.ndarray:
    return np.array([SPLITS.index(USAGE_SPLIT[u]) for u in usage], dtype=np.int8)


# ---------------------------------------------------------------------------- datamodule
class FERPlusDataModule(FERDataModule):
    """FER+ from ``<root>/ferplus/``: the official layout or the csv pair (see the module)."""

    name = "ferplus"
    #: The one protocol: FER2013Train / FER2013Valid / FER2013Test, tested on majority labels.
    split = "official"
    class_names = FERPLUS8
    synonyms = {"happiness": "happy", "sadness": "sad", "anger": "angry"}
    folder = "ferplus"
    title = "FER+"
    layout = (
        "FER2013Train/, FER2013Valid/ and FER2013Test/ (label.csv and the PNGs it names), "
        "or fer2013.csv with fer2013new.csv"
    )

    def __init__(self, *args, mode: str = "majority", source: str = "auto", **kwargs) -> None:
        """
        Args:
            mode: how training uses the 10 votes (microsoft/FERPlus ``-m``): ``majority`` (the
                label with more than half of the votes), ``probability`` (a label drawn from
                the vote distribution each time an image is loaded, seeded), ``crossentropy``
                (the distribution as a soft target) or ``multi_target`` (the set of emotions
                with 30 % of the votes or more; train with ``model.loss: multi_target``).
                Validation and test always use the majority labels.
            source: ``folder`` (the official layout), ``csv`` (fer2013.csv + fer2013new.csv,
                joined by row) or ``auto`` (the folders if present, else the csv pair).
            *args, **kwargs: see :class:`FERDataModule`.
        """
        super().__init__(*args, **kwargs)
        if mode not in MODES:
            raise FERUserError(f"data.mode '{mode}' is not one of {', '.join(MODES)}")
        if source not in ("auto", "folder", "csv"):
            raise FERUserError(f"data.source '{source}' is not one of auto, folder, csv")
        self.mode = mode
        self.source = source
        #: Training items carry a distribution a label is drawn from each time (``probability``).
        self.sample_targets = mode == "probability"

    # ------------------------------------------------------------------------ the layout
    def _form(self, root: Path) -> str | None:
        """``folder`` or ``csv``: the form found at ``root`` under ``source``, or None."""
        has_folders = all((root / f / LABEL_FILE).is_file() for f in FOLDERS.values())
        has_pair = all((root / n).is_file() for n in CSV_PAIR)
        if self.source in ("auto", "folder") and has_folders:
            return "folder"
        if self.source in ("auto", "csv") and has_pair:
            return "csv"
        return None

    def layout_problem(self, root: Path) -> str | None:
        if not root.is_dir():
            return f"{root} does not exist"
        if self._form(root) is not None:
            return None
        lacking = [f"{f}/{LABEL_FILE}" for f in FOLDERS.values() if not (root / f).is_dir()]
        lacking = lacking or [
            f"{f}/{LABEL_FILE}" for f in FOLDERS.values() if not (root / f / LABEL_FILE).is_file()
        ]
        pair = [n for n in CSV_PAIR if not (root / n).is_file()]
        if self.source == "folder":
            return f"{root} has no {', '.join(lacking)} (data.source is 'folder')"
        if self.source == "csv":
            return f"{root} has no {' or '.join(pair)} (data.source is 'csv')"
        return f"{root} has no {', '.join(lacking)} and no {' or '.join(pair)}"

    # ---------------------------------------------------------------------- reading it all
    def read_all(self, root: Path) -> dict[str, Any]:
        """Every image of the dataset folder with its votes, split code (0 train, 1 val,
        2 test), name (file, or csv row), ``fer2013.csv`` row (-1 where unknown) and
        FER2013 label (-1 where there is no fer2013.csv); images decoded once and cached."""
        problem = self.layout_problem(root)
        if problem:
            raise self.not_found(problem)
        if self._form(root) == "csv":
            return self._read_pair(root)
        return self._read_folders(root)

    def _read_folders(self, root: Path) -> dict[str, Any]:
        names: list[str] = []
        paths: list[str] = []
        votes: list[np.ndarray] = []
        split: list[np.ndarray] = []
        for code, folder in enumerate(FOLDERS.values()):
            label_file = root / folder / LABEL_FILE
            found, v = read_label_csv(label_file)
            for line, name in enumerate(found, start=1):
                path = root / folder / name
                if not path.is_file():
                    raise DataError(
                        f"{label_file} line {line}: its image {name} does not exist in "
                        f"{root / folder}"
                    )
                paths.append(os.fspath(path))
                names.append(f"{folder}/{name}")
            votes.append(v)
            split.append(np.full(len(found), code, dtype=np.int8))
        label_files = [root / f / LABEL_FILE for f in FOLDERS.values()]
        key = source_key([*paths, *label_files], root)
        arrays = cached_arrays(
            "ferplus-folder",
            key,
            lambda: {"images": decode_all(paths, "L", (SIDE, SIDE), "FER+")},
            keys=("images",),
            length=len(paths),
        )
        rows = self._rows_by_name(root, names)
        fer2013 = self._fer2013_labels(root, rows)
        return {
            "images": arrays["images"],
            "votes": np.concatenate(votes),
            "split": np.concatenate(split),
            "names": names,
            "rows": rows,
            "fer2013": fer2013,
            "files": [Path(p) for p in paths],
        }

    def _rows_by_name(self, root: Path, names: list[str]) -> np.ndarray:
        """The fer2013new.csv row (0-based, header excluded) of each ``<folder>/<png>``, where
        fer2013new.csv is present and names the PNG in exactly one row; else -1."""
        rows = np.full(len(names), -1, dtype=np.int64)
        path = root / CSV_PAIR[1]
        if not path.is_file():
            return rows
        _, new_names, _ = read_new_csv(path)
        seen: dict[str, int] = {}
        for row, name in enumerate(new_names):
            seen[name] = -2 if name in seen else row  # a name on two rows has no one row
        for i, name in enumerate(names):
            rows[i] = max(seen.get(name.split("/", 1)[1], -1), -1)
        return rows

    def _fer2013_labels(self, root: Path, rows: np.ndarray) -> np.ndarray:
        """The FER2013 label of each row, from ``fer2013.csv`` beside the FER+ files."""
        labels = np.full(len(rows), -1, dtype=np.int64)
        path = root / CSV_PAIR[0]
        if path.is_file():
            original = self._read_fer2013_csv(root, path)["labels"]
            ok = (rows >= 0) & (rows < len(original))
            labels[ok] = original[rows[ok]]
        return labels

    def _read_fer2013_csv(self, root: Path, path: Path) -> dict[str, np.ndarray]:
        return cached_arrays(
            "ferplus-fer2013csv",
            source_key([path], root),
            lambda: read_csv(path),
            keys=("images", "labels", "usage"),
        )

    def _read_pair(self, root: Path) -> dict[str, Any]:
        old_path, new_path = (root / n for n in CSV_PAIR)
        original = self._read_fer2013_csv(root, old_path)
        usage, names, votes = read_new_csv(new_path)
        n_old, n_new = len(original["labels"]), len(names)
        if n_old != n_new:
            raise DataError(
                f"{old_path} has {n_old} rows but {new_path} has {n_new}: the pair is joined "
                "by row position, so both must hold the same rows in the same order"
            )
        split = _split_codes(usage)
        old_split = np.array([SPLITS.index(USAGE_SPLIT[USAGES[u]]) for u in original["usage"]])
        differ = np.flatnonzero(old_split != split)
        if len(differ):
            row = int(differ[0])
            raise DataError(
                f"{new_path} line {row + 2}: Usage {usage[row]} but {old_path} line {row + 2} "
                f"says {USAGES[original['usage'][row]]}: the files are not in the same row order"
            )
        return {
            "images": original["images"],
            "votes": votes,
            "split": split,
            "names": [f"{CSV_PAIR[1]} row {i + 1}" for i in range(n_new)],
            "rows": np.arange(n_new, dtype=np.int64),
            "fer2013": original["labels"].astype(np.int64),
            "files": None,
        }

    # -------------------------------------------------------------------------- the splits
    @property
    def val_from_train(self) -> bool:
        return False  # validation is FER2013Valid (FER2013's PublicTest), a split of its own

    def load_splits(self, root: Path) -> dict[str, Split]:
        arrays = self.read_all(root)
        splits: dict[str, Split] = {}
        for code, name in enumerate(SPLITS):
            index = np.flatnonzero(arrays["split"] == code)
            mode = self.mode if name == "train" else "majority"
            made = mode_targets(arrays["votes"][index], mode)
            kept = index[made.keep]
            splits[name] = Split(arrays["images"][kept], made.labels, targets=made.targets)
            log.info(
                "FER+ %s (%s): %d of %d images kept (the others: unknown, NF or no %s)",
                name,
                mode,
                len(kept),
                len(index),
                "majority" if mode == "majority" else "clear result",
            )
        return splits

    def listing(self) -> Listing:
        """FER2013Train, FER2013Valid and FER2013Test, every image labelled by the majority
        rule over the 10 vote categories (unknown where none has a majority)."""
        arrays = self.read_all(self.root)
        outcome = majority_outcome(arrays["votes"])
        outcome = np.where(outcome < 0, UNKNOWN, outcome)
        splits = {}
        for code, folder in enumerate(FOLDERS.values()):
            index = np.flatnonzero(arrays["split"] == code)
            names = [arrays["names"][i] for i in index]
            splits[folder] = ListedSplit(arrays["images"][index], outcome[index], names)
        files = arrays["files"]
        kinds = (
            file_kinds(files)
            if files is not None
            else {f"{SIDE}x{SIDE} L (csv pixels)": len(arrays["split"])}
        )
        return Listing(splits, kinds, class_names=VOTES)

    def audit_extra(self) -> dict[str, Any]:
        """Vote statistics per split and the FER2013-label vs FER+-majority agreement."""
        return vote_report(self.read_all(self.root))

    @staticmethod
    def audit_markdown(extra: dict[str, Any]) -> list[str]:
        return vote_markdown(extra)


# --------------------------------------------------------------------------- the audit
def vote_report(arrays: dict[str, Any]) -> dict[str, Any]:
    """Per split: images, kept by each mode, mean votes of the majority emotion, share with a
    clear (emotion) majority, unknown / NF / no-majority counts; and the agreement matrix of
    FER2013 labels (rows) and FER+ majority outcomes (columns), where the FER2013 label of the
    images is known (the csv pair, or fer2013.csv and fer2013new.csv beside the folders)."""
    votes, split = arrays["votes"], arrays["split"]
    outcome = majority_outcome(votes)
    per_split: dict[str, Any] = {}
    for code, name in enumerate(SPLITS):
        idx = np.flatnonzero(split == code)
        out = outcome[idx]
        emotion = out[(out >= 0) & (out < UNKNOWN)]
        winners = votes[idx][(out >= 0) & (out < UNKNOWN), emotion] if len(emotion) else []
        per_split[FOLDERS[name]] = {
            "images": len(idx),
            "kept_by_mode": {m: int(mode_targets(votes[idx], m).keep.sum()) for m in MODES},
            "clear_majority": len(emotion),
            "clear_majority_share": round(len(emotion) / max(len(idx), 1), 4),
            "mean_votes_of_majority_emotion": round(float(np.mean(winners)), 3)
            if len(emotion)
            else None,
            "unknown_majority": int((out == UNKNOWN).sum()),
            "nf_majority": int((out == NF).sum()),
            "no_majority": int((out < 0).sum()),
        }
    report: dict[str, Any] = {"votes": per_split}
    known = np.flatnonzero(arrays["fer2013"] >= 0)
    columns = [*FERPLUS8, "unknown", "NF", "no majority"]
    if len(known) == 0:
        report["agreement"] = None
        report["agreement_note"] = (
            "no FER2013 label is known for these images: put fer2013.csv (the original csv, "
            "in the order of fer2013new.csv) beside fer2013new.csv; the image-folder release "
            "of FER2013 names files by an id that is not the csv row, so it cannot be joined"
        )
        return report
    matrix = np.zeros((len(FER7), len(columns)), dtype=np.int64)
    fer = arrays["fer2013"][known]
    col = np.where(outcome[known] < 0, len(columns) - 1, outcome[known])
    np.add.at(matrix, (fer, col), 1)
    same = [FER7.index(canonical(c)) if canonical(c) in FER7 else -1 for c in FERPLUS8]
    contradicted = {}
    for r, cls in enumerate(FER7):
        emotions = matrix[r, : len(FERPLUS8)]
        agree = sum(int(emotions[c]) for c in range(len(FERPLUS8)) if same[c] == r)
        total = int(emotions.sum())
        contradicted[cls] = {
            "with_fer_plus_majority_emotion": total,
            "contradicted": total - agree,
            "share": round((total - agree) / max(total, 1), 4),
        }
    report["agreement"] = {
        "rows": list(FER7),
        "columns": columns,
        "matrix": matrix.tolist(),
        "images": len(known),
        "contradicted": contradicted,
    }
    return report


def vote_markdown(report: dict[str, Any]) -> list[str]:
    """Lines of the audit's markdown for :func:`vote_report`."""
    lines = ["", "## FER+ votes", ""]
    lines += [
        "| split | images | majority | probability | crossentropy | multi_target | clear "
        "majority | mean votes of the majority emotion | unknown | NF | no majority |",
        "|---|" + "---:|" * 10,
    ]
    for name, s in report["votes"].items():
        kept = s["kept_by_mode"]
        lines.append(
            f"| {name} | {s['images']} | "
            + " | ".join(str(kept[m]) for m in MODES)
            + f" | {s['clear_majority_share']:.1%} | {s['mean_votes_of_majority_emotion']} | "
            f"{s['unknown_majority']} | {s['nf_majority']} | {s['no_majority']} |"
        )
    agreement = report.get("agreement")
    lines += ["", "## FER2013 label (rows) vs FER+ majority (columns)", ""]
    if agreement is None:
        return [*lines, report["agreement_note"]]
    lines += [
        "| FER2013 \\ FER+ | " + " | ".join(agreement["columns"]) + " |",
        "|---|" + "---:|" * len(agreement["columns"]),
    ]
    for row, values in zip(agreement["rows"], agreement["matrix"], strict=True):
        lines.append(f"| {row} | " + " | ".join(map(str, values)) + " |")
    lines += ["", "Labels the annotators' majority emotion contradicts:", ""]
    for cls, c in agreement["contradicted"].items():
        lines.append(
            f"- {cls}: {c['contradicted']} of {c['with_fer_plus_majority_emotion']} "
            f"({c['share']:.1%})"
        )
    return lines
