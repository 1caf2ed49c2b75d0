"""Small generated datasets in the real on-disk layouts of FER2013 (image folders and csv),
RAF-DB, CK+ (CK+48), FER+ and a generic class folder.

Tests run on these where the real data is absent or too slow (no real RAF-DB or CK+ is
available here). Images carry a class-dependent stripe plus noise, so a model can learn
something and no two images are equal.
Every registered dataset has a ``write_<name>``: here, or in its own unit test file
(:func:`dataset_writer`).
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fer_lightning.data.labels import FER7

#: Images per class in each Usage of the generated FER2013.
PER_CLASS = {"Training": 6, "PublicTest": 2, "PrivateTest": 2}

#: RAF-DB's own label numbers (1..7) and their class names.
RAFDB_LABELS: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happy",
    5: "sad",
    6: "angry",
    7: "neutral",
}
#: CK+48's class folders.
CKPLUS_CLASSES: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happy",
    "sadness",
    "surprise",
)


def pattern_image(side: int, label: int, rng: np.random.Generator, rgb: bool) -> np.ndarray:
    """A ``side``x``side`` uint8 image (RGB when ``rgb``) whose bright stripe encodes ``label``."""
    width = max(side // 8, 1)
    base = np.zeros((side, side), dtype=np.float64)
    base[:, label * width : (label + 1) * width] = 180
    shape = (side, side, 3) if rgb else (side, side)
    noise = rng.normal(60, 20, size=shape)
    img = (base[..., None] if rgb else base) + noise
    return np.clip(img, 0, 255).astype(np.uint8)


def write_rafdb(
    root: Path, per_class_train: int = 4, per_class_test: int = 2, seed: int = 0
) -> Path:
    """Write a small RAF-DB basic in its official layout and return ``root/rafdb/basic``.

    ``EmoLabel/list_patition_label.txt`` holds lines such as ``train_00001.jpg 5`` with
    RAF-DB's own labels 1..7 (1 surprise ... 7 neutral, see :data:`RAFDB_LABELS`); each image is
    ``Image/aligned/<name>_aligned.jpg``, 100x100 RGB JPEG. ``per_class_train`` /
    ``per_class_test`` images of each of the 7 classes; the stripe encodes the RAF-DB label
    minus one. Lines are written in file-name order, as in the real file.
    """
    folder = root / "rafdb" / "basic"
    aligned = folder / "Image" / "aligned"
    aligned.mkdir(parents=True, exist_ok=True)
    (folder / "EmoLabel").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    for split, per_class, digits in (("train", per_class_train, 5), ("test", per_class_test, 4)):
        number = 0
        for _ in range(per_class):
            for raf_label in RAFDB_LABELS:
                number += 1
                name = f"{split}_{number:0{digits}d}"
                img = pattern_image(100, raf_label - 1, rng, rgb=True)
                Image.fromarray(img, mode="RGB").save(aligned / f"{name}_aligned.jpg", quality=95)
                lines.append(f"{name}.jpg {raf_label}")
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_ckplus(root: Path, subjects: int = 6, frames: int = 3, seed: int = 0) -> Path:
    """Write a small CK+48 and return ``root/ckplus``.

    Every subject ``S###`` (S010, S011, ...) has one sequence per class (sequence number =
    class index + 1) with ``frames`` consecutive frames, saved as
    ``<class>/S###_###_########.png`` (48x48 grayscale PNG), as in the real CK+48 folders.
    So there are ``subjects * 7 * frames`` images; the stripe encodes the class index.
    """
    folder = root / "ckplus"
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CKPLUS_CLASSES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for s in range(subjects):
            for f in range(frames):
                img = pattern_image(48, label, rng, rgb=False)
                file = folder / name / f"S{10 + s:03d}_{label + 1:03d}_{f + 1:08d}.png"
                Image.fromarray(img, mode="L").save(file)
    return folder


def plant_fer2013_findings(folder: Path) -> Path:
    """Plant audit findings into a generated FER2013 folder (``root/fer2013``), which has
    none of its own, and return it. PNG, so the planted pixels are exact:

    - constant: two black Training images (``train/angry/Training_9001.png``, ``_9002``, a
      duplicate pair) and a PublicTest one of value 200 (``test/happy/PublicTest_9003.png``);
    - near-constant: ``train/sad/Training_9004.png`` (128 with a 2x2 patch of 140, std ~0.5);
    - duplicates: a Training fear image copied within train (``Training_9005.jpg``), a Training
      happy image copied into PrivateTest as sad (``test/sad/PrivateTest_9006.jpg``: across
      splits, conflicting labels), a PublicTest neutral image copied into PrivateTest
      (``test/neutral/PrivateTest_9007.jpg``).
    """
    import shutil

    def png(path: Path, pixels: np.ndarray) -> None:
        Image.fromarray(pixels.astype(np.uint8), mode="L").save(path)

    train, test = folder / "train", folder / "test"
    zeros = np.zeros((48, 48))
    png(train / "angry" / "Training_9001.png", zeros)
    png(train / "angry" / "Training_9002.png", zeros)
    png(test / "happy" / "PublicTest_9003.png", zeros + 200)
    near = np.full((48, 48), 128)
    near[:2, :2] = 140
    png(train / "sad" / "Training_9004.png", near)
    shutil.copy(sorted((train / "fear").glob("*.jpg"))[0], train / "fear" / "Training_9005.jpg")
    shutil.copy(sorted((train / "happy").glob("*.jpg"))[0], test / "sad" / "PrivateTest_9006.jpg")
    shutil.copy(
        sorted((test / "neutral").glob("PublicTest_*.jpg"))[0],
        test / "neutral" / "PrivateTest_9007.jpg",
    )
    return folder


def synthetic_images(n: int, label: int, seed: int) -> np.ndarray:
    """48x48 uint8 faces-to-be: a class-dependent stripe pattern plus noise, so a model can
    learn something, and no two images are equal."""
    rng = np.random.default_rng(seed)
    base = np.zeros((48, 48), dtype=np.float64)
    base[:, (label * 6) : (label * 6 + 6)] = 180
    imgs = base[None] + rng.normal(60, 20, size=(n, 48, 48))
    return np.clip(imgs, 0, 255).astype(np.uint8)


def fer2013_arrays(per_class: dict[str, int] = PER_CLASS) -> list[tuple[str, int, np.ndarray]]:
    """(usage, label, image) for every image of a small FER2013."""
    rows = []
    for u_idx, (usage, n) in enumerate(per_class.items()):
        for label in range(len(FER7)):
            for img in synthetic_images(n, label, seed=100 * u_idx + label):
                rows.append((usage, label, img))
    return rows


def write_fer2013_folder(
    root: Path, ext: str = ".jpg", per_class: dict[str, int] = PER_CLASS
) -> Path:
    """The image-folder release: train/<class>/Training_<id>.jpg and
    test/<class>/{PublicTest,PrivateTest}_<id>.jpg."""
    folder = root / "fer2013"
    for i, (usage, label, img) in enumerate(fer2013_arrays(per_class)):
        split = "train" if usage == "Training" else "test"
        path = folder / split / FER7[label] / f"{usage}_{1000 + i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, mode="L").save(path)
    return folder


def write_fer2013_csv(root: Path, per_class: dict[str, int] = PER_CLASS) -> Path:
    """The Kaggle release: fer2013/fer2013.csv with emotion,pixels,Usage."""
    path = root / "fer2013" / "fer2013.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, label, img in fer2013_arrays(per_class):
            writer.writerow([label, " ".join(map(str, img.ravel())), usage])
    return path


# ---------------------------------------------------------------------------- folder
#: The generated folder's class folders: a synonym, CK+'s spelling and a FER name.
FOLDER_CLASSES = ("Happiness", "anger", "sad")


def write_folder(
    root: Path,
    classes: Sequence[str] = FOLDER_CLASSES,
    subjects: int = 5,
    frames: int = 2,
    seed: int = 0,
) -> Path:
    """Write ``root/folder/<class>/p<subject>_<frame>.png`` (48x48 gray, the stripe encodes
    the class's position) and return ``root/folder``: the data root of every-dataset tests."""
    folder = root / "folder"
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for s in range(subjects):
            for f in range(frames):
                img = pattern_image(48, label, rng, rgb=False)
                Image.fromarray(img, mode="L").save(folder / name / f"p{s + 1:02d}_{f}.png")
    return folder


def write_fer2013(root: Path) -> Path:
    """A small FER2013 in its image-folder form; return ``root/fer2013``."""
    return write_fer2013_folder(root)


def dataset_writer(name: str) -> Callable[[Path], Path]:
    """The generator of registered dataset ``name``: ``write_<name>(root)`` from this module
    or, for a dataset added later, from its own unit test file ``tests/unit/test_<name>.py``,
    so a new dataset needs no edit here. Tests that cover every dataset (each experiment trains
    a step, the audit) find it by the dataset's name."""
    writer = globals().get(f"write_{name}")
    if writer is None:
        try:
            module = importlib.import_module(f"tests.unit.test_{name}")
        except ModuleNotFoundError:
            module = None
        writer = getattr(module, f"write_{name}", None)
    if writer is None:
        raise LookupError(
            f"no write_{name}(root) for dataset '{name}' in tests/unit/test_{name}.py "
            "or tests/helpers/fakedata.py"
        )
    return writer


def write_dataset(name: str, root: Path) -> Path:
    """A small copy of registered dataset ``name`` under the data root ``root``, in its real
    layout (see :func:`dataset_writer`); returns the dataset folder."""
    return dataset_writer(name)(root)


# ------------------------------------------------------------------------------------ FER+
#: Vote rows of the generated FER+ beyond one clear majority per emotion (10 counts: neutral,
#: happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF) and what the
#: majority rule makes of them.
FERPLUS_SPECIAL: dict[str, list[int]] = {
    "unknown": [1, 0, 0, 0, 0, 0, 0, 0, 9, 0],  # dropped in every mode
    "not a face": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # dropped in every mode
    "no majority": [4, 0, 3, 3, 0, 0, 0, 0, 0, 0],  # dropped by majority, kept by the others
    "outliers": [0, 5, 0, 1, 1, 1, 1, 0, 1, 0],  # single votes removed: happiness 5 of 5
}
#: Rows of each split (Usage): ``emotions`` clear majorities per emotion, then the specials.
FERPLUS_SPLITS: dict[str, tuple[str, int]] = {
    "Training": ("FER2013Train", 3),
    "PublicTest": ("FER2013Valid", 1),
    "PrivateTest": ("FER2013Test", 1),
}


def ferplus_rows(seed: int = 0) -> list[tuple[str, str, list[int], int, np.ndarray]]:
    """(usage, png name, votes, FER2013 label, image) of every row of a small FER+, in the csv
    row order. The png name's number is the row, except rows 1 and 2, whose names are swapped
    (the real fer2013new.csv's names are not always the row either). An emotion's majority is
    7 of its votes, 2 for the next emotion and 1 (an outlier) for the one after; the FER2013
    label is the same class where FER2013 has it (neutral for contempt), another for every
    fifth row; the image's stripe encodes the majority emotion."""
    from fer_lightning.data.ferplus import FERPLUS8

    rng = np.random.default_rng(seed)
    rows = []
    for usage, (_, per_emotion) in FERPLUS_SPLITS.items():
        votes_list = []
        for _ in range(per_emotion):
            for e in range(8):
                votes = [0] * 10
                votes[e], votes[(e + 1) % 8], votes[(e + 2) % 8] = 7, 2, 1
                votes_list.append(votes)
        votes_list += list(FERPLUS_SPECIAL.values())
        for votes in votes_list:
            row = len(rows)
            top = int(np.argmax(votes))
            name = f"fer{ ({1: 2, 2: 1}.get(row, row)):07d}.png"
            own = FERPLUS8[top] if top < 8 else "neutral"
            own = {"happiness": "happy", "sadness": "sad", "anger": "angry"}.get(own, own)
            fer = FER7.index(own) if own in FER7 else FER7.index("neutral")
            if row % 5 == 4:
                fer = (fer + 1) % len(FER7)
            rows.append((usage, name, votes, fer, pattern_image(48, min(top, 7), rng, False)))
    return rows


def write_ferplus(root: Path, form: str = "folder", seed: int = 0) -> Path:
    """A small FER+ under ``root/ferplus`` in its official layout (``form='folder'``:
    ``FER2013Train|Valid|Test/label.csv`` + PNGs, with fer2013new.csv beside them), as the
    csv pair (``'csv'``: fer2013.csv + fer2013new.csv) or both; returns the folder."""
    folder = root / "ferplus"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ferplus_rows(seed)
    header = ["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger"]
    header += ["disgust", "fear", "contempt", "unknown", "NF"]
    with (folder / "fer2013new.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for usage, name, votes, _, _ in rows:
            writer.writerow([usage, name, *votes])
    if form in ("folder", "both"):
        for usage, (sub, _) in FERPLUS_SPLITS.items():
            (folder / sub).mkdir(exist_ok=True)
            with (folder / sub / "label.csv").open("w", newline="") as fh:
                writer = csv.writer(fh)
                for u, name, votes, _, img in rows:
                    if u == usage:
                        Image.fromarray(img, mode="L").save(folder / sub / name)
                        writer.writerow([name, "(0, 0, 48, 48)", *votes])
    if form in ("csv", "both"):
        with (folder / "fer2013.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["emotion", "pixels", "Usage"])
            for usage, _, _, fer, img in rows:
                writer.writerow([fer, " ".join(map(str, img.ravel())), usage])
    return folder
