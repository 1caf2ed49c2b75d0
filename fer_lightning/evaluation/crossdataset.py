"""Cross-dataset evaluation: a checkpoint trained on one dataset, tested on another.

Classes are matched by name, with synonyms (:func:`fer_lightning.data.labels.canonical`: CK+'s
*anger* is FER2013's *angry*). Classes on only one side are dropped and reported: the test
images of a class the model does not know (CK+ *contempt*) are removed, and the model's outputs
for a class the data does not have (FER *neutral*) are left out of the arg-max. The model keeps
its trained head; a fixed index selection after it
(:meth:`~fer_lightning.models.classifier.FERClassifier.restrict_outputs`) turns it into a
classifier over the shared classes, in the model's order, and the data labels are remapped into
that order. Nothing is ever silently relabelled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning.data.labels import canonical
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout

log = logging.getLogger("fer_lightning")


@dataclass
class ClassMapping:
    """How a model's classes and a dataset's classes correspond."""

    model_classes: list[str]
    data_classes: list[str]
    #: Shared classes, named and ordered as the model has them.
    shared: list[str]
    #: For each shared class, the model's output index and the dataset's label.
    model_index: list[int]
    data_index: list[int]
    #: Classes only the model has (outputs left out) / only the data has (images dropped).
    model_only: list[str]
    data_only: list[str]

    @classmethod
    def build(cls, model_classes: Sequence[str], data_classes: Sequence[str]) -> ClassMapping:
        data_by_name = {canonical(c): i for i, c in enumerate(data_classes)}
        model_index, data_index = [], []
        for i, name in enumerate(model_classes):
            j = data_by_name.get(canonical(name))
            if j is not None:
                model_index.append(i)
                data_index.append(j)
        mapping = cls(
            model_classes=list(model_classes),
            data_classes=list(data_classes),
            shared=[model_classes[i] for i in model_index],
            model_index=model_index,
            data_index=data_index,
            model_only=[c for i, c in enumerate(model_classes) if i not in model_index],
            data_only=[c for j, c in enumerate(data_classes) if j not in data_index],
        )
        if not mapping.shared:
            raise FERUserError(
                f"the checkpoint's classes ({', '.join(model_classes)}) and the dataset's "
                f"({', '.join(data_classes)}) have no class in common"
            )
        return mapping

    @property
    def identity(self) -> bool:
        return self.model_classes == self.data_classes

    def relabel(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(kept item indices, their labels as positions in ``shared``)."""
        to_shared = np.full(len(self.data_classes), -1, dtype=np.int64)
        to_shared[self.data_index] = np.arange(len(self.data_index))
        new = to_shared[labels]
        keep = np.flatnonzero(new >= 0)
        return keep, new[keep]

    def describe(self) -> str:
        pairs = ", ".join(
            self.model_classes[m]
            + ("" if self.model_classes[m] == self.data_classes[d] else f"={self.data_classes[d]}")
            for m, d in zip(self.model_index, self.data_index, strict=True)
        )
        return (
            f"evaluating on {len(self.shared)} shared classes ({pairs}); dropped: dataset-only "
            f"{', '.join(self.data_only) or 'none'} (images removed), model-only "
            f"{', '.join(self.model_only) or 'none'} (outputs ignored)"
        )


def checkpoint_classes(ckpt_path: str | Path) -> list[str] | None:
    """The class names a checkpoint's model was trained with (None if it records none)."""
    from fer_lightning.inference.safe_load import safe_load  # weights_only, one-line errors

    ckpt = safe_load(ckpt_path)
    hparams = ckpt.get("hyper_parameters") or {}
    names = hparams.get("class_names")
    return list(names) if names is not None else None


def restrict_datamodule(datamodule: Any, mapping: ClassMapping) -> dict[str, dict[str, int]]:
    """Drop the items of dataset-only classes and relabel the rest; returns counts per split."""
    datamodule.setup()
    counts: dict[str, dict[str, int]] = {}
    for name, split in datamodule.splits.items():
        keep, labels = mapping.relabel(split.labels)
        new = split.subset(keep)
        new.labels = labels
        counts[name] = {"images": len(split), "kept": len(keep)}
        datamodule.splits[name] = new
    datamodule.class_names = tuple(mapping.shared)
    return counts


def prepare(model: Any, datamodule: Any, ckpt_path: str, run_dir: Path | None) -> Any | None:
    """For a checkpoint whose classes differ from the datamodule's: the checkpoint's model,
    restricted to the shared classes, with the datamodule restricted to match (and the
    mapping written to ``run_dir/cross_dataset.json``). None when the classes are the same,
    so the ordinary path (Lightning loading ``ckpt_path``) runs unchanged."""
    model_classes = checkpoint_classes(ckpt_path)
    data_classes = list(datamodule.class_names)
    if model_classes is None or model_classes == data_classes:
        return None
    mapping = ClassMapping.build(model_classes, data_classes)
    trained = type(model).load_from_checkpoint(ckpt_path, map_location="cpu", pretrained=False)
    # The input the model was trained on decides how the other dataset is fed to it.
    for data_key, model_key in (("channels", "in_chans"), ("image_size", "image_size")):
        want = trained.hparams.get(model_key)
        if want is not None and getattr(datamodule, data_key) != want:
            log.info("cross-dataset: data.%s set to %s, as the checkpoint's model", data_key, want)
            setattr(datamodule, data_key, want)
    counts = restrict_datamodule(datamodule, mapping)
    trained.restrict_outputs(mapping.model_index, mapping.shared)
    log.info("cross-dataset: %s", mapping.describe())
    if run_dir is not None and rank_zero_only.rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {"checkpoint": str(ckpt_path), **asdict(mapping), "splits": counts}
        (run_dir / layout.CROSS_DATASET_JSON).write_text(json.dumps(record, indent=1) + "\n")
    return trained
