"""The classification report of the papers' tables, computed with torchmetrics.

One row per class (precision, recall, F1, support, one-vs-rest ROC AUC), then accuracy and the
macro and weighted averages; plus the confusion matrix and the per-class ROC curves the plots
need.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
    MulticlassROC,
)

from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.run import layout

CSV_NAME = layout.REPORT_CSV
MD_NAME = layout.REPORT_MD
CSV_COLUMNS = ["class", "precision", "recall", "f1", "support", "auc"]
#: How an undefined number (0/0, e.g. the ROC AUC of a class absent from the test set) is written.
NA = "n/a"


def _cell(value: Any, fmt: str) -> Any:
    """A table cell: "" for None (no number there), :data:`NA` for NaN (undefined)."""
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return NA
    return format(value, fmt) if fmt else value


@dataclass
class ClassificationReport:
    class_names: list[str]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    auc: np.ndarray
    accuracy: float
    correct: int
    macro: dict[str, float]
    weighted: dict[str, float]
    #: Rows true class, columns predicted class.
    confusion: np.ndarray
    #: Per class: (false positive rate, true positive rate).
    roc: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)

    @property
    def total(self) -> int:
        return int(self.support.sum())

    @property
    def confusion_normalized(self) -> np.ndarray:
        """Row-normalised (each true class sums to 1; an absent class is a row of zeros)."""
        rows = self.confusion.sum(axis=1, keepdims=True)
        return np.divide(
            self.confusion, rows, out=np.zeros_like(self.confusion, float), where=rows > 0
        )

    @property
    def classes_present(self) -> int:
        return int((self.support > 0).sum())

    def rows(self) -> list[dict[str, Any]]:
        """The table: one dict per class, then accuracy, macro avg and weighted avg. An
        undefined number is NaN (:data:`NA` in the files); None is a cell that has no number."""
        out: list[dict[str, Any]] = [
            {
                "class": name,
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "support": int(self.support[i]),
                "auc": float(self.auc[i]),
            }
            for i, name in enumerate(self.class_names)
        ]
        out.append(
            {
                "class": "accuracy",
                "precision": None,
                "recall": None,
                "f1": self.accuracy,
                "support": self.total,
                "auc": None,
            }
        )
        for label, avg in (("macro avg", self.macro), ("weighted avg", self.weighted)):
            out.append({"class": label, **avg, "support": self.total})
        return out

    def write_csv(self, path: Path) -> Path:
        with Path(path).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in self.rows():
                writer.writerow({k: _cell(v, "") for k, v in row.items()})
        return Path(path)

    def markdown_table(self) -> str:
        def fmt(value: float | None) -> str:
            return _cell(value, ".4f")

        lines = [
            "| class | precision | recall | F1 | support | ROC AUC |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in self.rows():
            name = row["class"]
            if name == "accuracy":
                lines.append(
                    f"| **accuracy** | | | **{self.accuracy:.5f}** "
                    f"({self.correct:,} / {self.total:,}) | {self.total:,} | |"
                )
                continue
            label = name if name in self.class_names else f"*{name}*"
            lines.append(
                f"| {label} | {fmt(row['precision'])} | {fmt(row['recall'])} | {fmt(row['f1'])} "
                f"| {row['support']:,} | {fmt(row['auc'])} |"
            )
        return "\n".join(lines)


def undefined_masks(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric, the classes where it is 0/0 and therefore undefined (reported as n/a).

    Precision of a class never predicted; recall of a class absent from the targets; F1
    (``2TP / (2TP + FP + FN)``) of a class both absent and never predicted; one-vs-rest ROC AUC
    of a class with no positive or no negative test image."""
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    total = confusion.sum()
    return {
        "precision": predicted == 0,
        "recall": support == 0,
        "f1": (support == 0) & (predicted == 0),
        "auc": (support == 0) | (support == total),
    }


def classification_report(predictions: Predictions) -> ClassificationReport:
    """Every number by torchmetrics, from the saved probabilities and targets.

    A per-class number that is undefined (:func:`undefined_masks`) is NaN, shown as n/a,
    never torchmetrics' 0. The macro averages are over the classes present in the targets, so
    a class absent from the test set does not pull them down; among those, a class never
    predicted counts with precision 0 (scikit-learn's default), since missing it is the
    model's failure. The weighted averages weigh by support: absent classes weigh 0.
    """
    k = predictions.num_classes
    probs = torch.from_numpy(predictions.probs).float()
    target = torch.from_numpy(predictions.targets).long()

    def per_class(metric: type) -> np.ndarray:
        return metric(k, average=None, zero_division=0)(probs, target).double().numpy()

    def weighted(metric: type) -> float:
        return float(metric(k, average="weighted", zero_division=0)(probs, target))

    confusion = MulticlassConfusionMatrix(k)(probs, target).numpy()
    support = confusion.sum(axis=1)
    present = support > 0
    undefined = undefined_masks(confusion)
    with warnings.catch_warnings():  # a class absent from the targets: handled below
        warnings.filterwarnings("ignore", message="No positive samples in targets")
        warnings.filterwarnings("ignore", message="No negative samples in targets")
        auc = MulticlassAUROC(k, average=None)(probs, target).double().numpy()
        fpr, tpr, _ = MulticlassROC(k)(probs, target)
    scores = {
        "precision": per_class(MulticlassPrecision),
        "recall": per_class(MulticlassRecall),
        "f1": per_class(MulticlassF1Score),
        "auc": auc,
    }
    macro = {
        name: float(values[present].mean()) if present.any() else float("nan")
        for name, values in scores.items()
        if name != "auc"
    }
    auc_defined = ~undefined["auc"]
    macro["auc"] = float(auc[auc_defined].mean()) if auc_defined.any() else float("nan")
    weighted_avg = {
        "precision": weighted(MulticlassPrecision),
        "recall": weighted(MulticlassRecall),
        "f1": weighted(MulticlassF1Score),
        "auc": float((auc * support)[auc_defined].sum() / support[auc_defined].sum())
        if auc_defined.any()
        else float("nan"),
    }
    for name, values in scores.items():
        values[undefined[name]] = np.nan  # undefined is not zero
    accuracy = float(MulticlassAccuracy(k, average="micro")(probs, target))
    return ClassificationReport(
        class_names=list(predictions.class_names),
        precision=scores["precision"],
        recall=scores["recall"],
        f1=scores["f1"],
        support=support.astype(np.int64),
        auc=scores["auc"],
        accuracy=accuracy,
        correct=int(np.trace(confusion)),
        macro=macro,
        weighted=weighted_avg,
        confusion=confusion.astype(np.int64),
        roc=[(f.numpy(), t.numpy()) for f, t in zip(fpr, tpr, strict=True)],
    )
