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

CSV_NAME = "report.csv"
MD_NAME = "report.md"
CSV_COLUMNS = ["class", "precision", "recall", "f1", "support", "auc"]


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

    def rows(self) -> list[dict[str, Any]]:
        """The table: one dict per class, then accuracy, macro avg and weighted avg."""
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
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return Path(path)

    def markdown_table(self) -> str:
        def fmt(value: float | None) -> str:
            return "" if value is None or np.isnan(value) else f"{value:.4f}"

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


def classification_report(predictions: Predictions) -> ClassificationReport:
    """Every number by torchmetrics, from the saved probabilities and targets."""
    k = predictions.num_classes
    probs = torch.from_numpy(predictions.probs).float()
    target = torch.from_numpy(predictions.targets).long()

    def per_class(metric: type, **kwargs: Any) -> np.ndarray:
        return metric(k, average=None, **kwargs)(probs, target).double().numpy()

    def averaged(metric: type, average: str) -> float:
        return float(metric(k, average=average, zero_division=0)(probs, target))

    confusion = MulticlassConfusionMatrix(k)(probs, target).numpy()
    support = confusion.sum(axis=1)
    with warnings.catch_warnings():  # a class absent from the targets: handled below
        warnings.filterwarnings("ignore", message="No positive samples in targets")
        auc = MulticlassAUROC(k, average=None)(probs, target).double().numpy()
        fpr, tpr, _ = MulticlassROC(k)(probs, target)
    # AUROC of a class absent from the targets is undefined: NaN, not torchmetrics' 0.
    auc[support == 0] = np.nan
    accuracy = float(MulticlassAccuracy(k, average="micro")(probs, target))
    macro = {
        "precision": averaged(MulticlassPrecision, "macro"),
        "recall": averaged(MulticlassRecall, "macro"),
        "f1": averaged(MulticlassF1Score, "macro"),
        "auc": float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan"),
    }
    weighted = {
        "precision": averaged(MulticlassPrecision, "weighted"),
        "recall": averaged(MulticlassRecall, "weighted"),
        "f1": averaged(MulticlassF1Score, "weighted"),
        "auc": float(np.nansum(auc * support) / max(support[np.isfinite(auc)].sum(), 1)),
    }
    return ClassificationReport(
        class_names=list(predictions.class_names),
        precision=per_class(MulticlassPrecision, zero_division=0),
        recall=per_class(MulticlassRecall, zero_division=0),
        f1=per_class(MulticlassF1Score, zero_division=0),
        support=support.astype(np.int64),
        auc=auc,
        accuracy=accuracy,
        correct=int(np.trace(confusion)),
        macro=macro,
        weighted=weighted,
        confusion=confusion.astype(np.int64),
        roc=[(f.numpy(), t.numpy()) for f, t in zip(fpr, tpr, strict=True)],
    )
