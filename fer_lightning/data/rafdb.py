"""RAF-DB basic (Li, Deng and Du, CVPR 2017) in its official layout.

``EmoLabel/list_patition_label.txt`` lists ``train_00001.jpg 5`` / ``test_0001.jpg 3`` lines
with RAF-DB's own labels 1..7; the aligned faces are ``Image/aligned/<name>_aligned.jpg``,
100x100 RGB. Official splits: train 12,271 / test 3,068; validation is carved from train
(stratified, seeded by ``val_fraction`` / ``split_seed``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lightning.data.base import FERDataModule, ListedSplit, Listing, Split
from fer_lightning.data.cache import cached_arrays, source_key
from fer_lightning.data.images import decode_all, file_kinds
from fer_lightning.data.labels import FER7
from fer_lightning.data.splits import stratified_split
from fer_lightning.errors import DataError

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"  # sic: RAF-DB's own spelling
ALIGNED = Path("Image") / "aligned"
SIDE = 100
#: RAF-DB label number -> class name; remapped to the canonical FER7 order.
RAFDB_LABELS: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happy",
    5: "sad",
    6: "angry",
    7: "neutral",
}
SPLITS = ("train", "test")


def read_label_file(root: Path) -> list[tuple[Path, int, str]]:
    """``(aligned image path, FER7 label, split)`` of every line of the label file."""
    path = root / LABEL_FILE
    if not path.is_file():
        raise DataError(
            f"RAF-DB label file {path} not found; expected the official layout "
            f"<data root>/rafdb/basic/{LABEL_FILE.as_posix()} + {ALIGNED.as_posix()}/"
        )
    items: list[tuple[Path, int, str]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) != 2:
            raise DataError(f"{where}: expected '<name>.jpg <label>', got '{line.strip()}'")
        name, raw = fields
        split = name.split("_", 1)[0]
        if split not in SPLITS:
            raise DataError(f"{where}: '{name}' starts with neither train_ nor test_")
        try:
            label = int(raw)
        except ValueError:
            raise DataError(f"{where}: label '{raw}' is not an integer") from None
        if label not in RAFDB_LABELS:
            raise DataError(f"{where}: label {label} is outside RAF-DB's 1-7")
        image = root / ALIGNED / f"{Path(name).stem}_aligned{Path(name).suffix}"
        if not image.is_file():
            raise DataError(f"{where}: image {image} does not exist")
        items.append((image, FER7.index(RAFDB_LABELS[label]), split))
    if not items:
        raise DataError(f"{path} lists no images")
    return items


def read_rafdb(root: Path) -> dict[str, np.ndarray]:
    """All images (N, 100, 100, 3) with FER7 labels and split codes (0 train, 1 test), cached."""
    items = read_label_file(root)
    paths = [p for p, _, _ in items]

    def build() -> dict[str, np.ndarray]:
        return {
            "images": decode_all(paths, "RGB", (SIDE, SIDE), "RAF-DB aligned"),
            "labels": np.array([lbl for _, lbl, _ in items], dtype=np.int64),
            "split": np.array([SPLITS.index(s) for _, _, s in items], dtype=np.int8),
        }

    key = source_key([*paths, root / LABEL_FILE], root)
    return cached_arrays("rafdb", key, build, keys=("images", "labels", "split"), length=len(items))


class RAFDBDataModule(FERDataModule):
    """RAF-DB basic from ``<root>/rafdb/basic`` (100x100 RGB, FER7 class order)."""

    name = "rafdb"
    class_names = FER7
    folder = "rafdb/basic"
    image_mode = "RGB"
    title = "RAF-DB"
    layout = f"{LABEL_FILE.as_posix()} and {ALIGNED.as_posix()}/*_aligned.jpg"

    def __init__(self, *, image_size: int = SIDE, channels: int = 3, **kwargs) -> None:
        """
        Args:
            image_size: default 100, RAF-DB's aligned size.
            channels: default 3 (RAF-DB is RGB); 1 averages the colour channels.
            **kwargs: see :class:`FERDataModule`.
        """
        super().__init__(image_size=image_size, channels=channels, **kwargs)

    def layout_problem(self, root: Path) -> str | None:
        if not root.is_dir():
            return f"{root} does not exist"
        if not (root / LABEL_FILE).is_file():
            return f"{root / LABEL_FILE} does not exist"
        return None

    def listing(self) -> Listing:
        """train and test as the label file lists them, named by image file."""
        root = self.root
        items = read_label_file(root)
        arrays = read_rafdb(root)
        splits = {}
        for code, name in enumerate(SPLITS):
            index = np.flatnonzero(arrays["split"] == code)
            names = [items[i][0].name for i in index]
            splits[name] = ListedSplit(arrays["images"][index], arrays["labels"][index], names)
        return Listing(splits, file_kinds([p for p, _, _ in items]))

    def load_splits(self, root: Path) -> dict[str, Split]:
        problem = self.layout_problem(root)
        if problem:
            raise self.not_found(problem)
        arrays = read_rafdb(root)
        data = Split(arrays["images"], arrays["labels"])
        train = np.flatnonzero(arrays["split"] == 0)
        test = np.flatnonzero(arrays["split"] == 1)
        for name, index in (("train", train), ("test", test)):
            if len(index) == 0:
                raise DataError(f"{root / LABEL_FILE} lists no {name}_ images")
        keep, held = stratified_split(data.labels[train], self.val_fraction, self.split_seed)
        return {
            "train": data.subset(train[keep]),
            "val": data.subset(train[held]),
            "test": data.subset(test),
        }
