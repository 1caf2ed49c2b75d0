"""The report's pictures, drawn on matplotlib's Agg canvas (no display needed).

Figures are built with the object-oriented API, not pyplot: no global backend switch, nothing
left open, and a notebook can still show them inline (``display(fig)``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fer_lightning.evaluation.report import ClassificationReport
from fer_lightning.evaluation.stats import ReliabilityBins
from fer_lightning.run import layout

CONFUSION_PNG = layout.CONFUSION_PNG
ROC_PNG = layout.ROC_PNG
CURVES_PNG = layout.CURVES_PNG
RELIABILITY_PNG = layout.RELIABILITY_PNG
DPI = 120


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _matrix(ax: Axes, values: np.ndarray, names: list[str], title: str, fmt: str) -> None:
    image = ax.imshow(values, cmap="Blues", vmin=0)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    k = len(names)
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    ax.set_xticklabels(names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticklabels(names)
    threshold = values.max() / 2 if values.size and values.max() > 0 else 1
    size = 9 if k <= 8 else max(5, 9 - (k - 8) // 2)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                format(values[i, j], fmt),
                ha="center",
                va="center",
                fontsize=size,
                color="white" if values[i, j] > threshold else "black",
            )


def confusion_figure(report: ClassificationReport, title: str = "") -> Figure:
    """Counts and row-normalised matrices side by side, class names on both axes."""
    fig = _figure(13, 5.8)
    left, right = fig.subplots(1, 2)
    names = report.class_names
    _matrix(left, report.confusion, names, "counts", "d")
    _matrix(right, report.confusion_normalized, names, "normalised by true class", ".2f")
    if title:
        fig.suptitle(title)
    return fig


def roc_figure(report: ClassificationReport, title: str = "") -> Figure:
    """One-vs-rest ROC curve per class, AUC in the legend."""
    fig = _figure(6.5, 6)
    ax = fig.subplots()
    colors = matplotlib.colormaps["tab10"]
    for i, (name, (fpr, tpr)) in enumerate(zip(report.class_names, report.roc, strict=True)):
        auc = report.auc[i]
        label = f"{name} (AUC {auc:.3f})" if np.isfinite(auc) else f"{name} (no test samples)"
        ax.plot(fpr, tpr, color=colors(i % 10), lw=1.6, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="chance")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=title or "ROC, one class vs rest",
        aspect="equal",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return fig


def curves_figure(history: dict[str, dict[int, float]], title: str = "") -> Figure:
    """Train / val loss and accuracy per epoch (from metrics.csv); the best val accuracy marked."""
    fig = _figure(12, 4.5)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, metric, label in ((loss_ax, "loss", "loss"), (acc_ax, "acc", "accuracy")):
        keys = {"train": f"train/{metric}_epoch", "val": f"val/{metric}"}
        if metric == "acc":
            keys["train"] = "train/acc"
        for stage, key in keys.items():
            values = history.get(key) or {}
            if values:
                epochs = sorted(values)
                ax.plot(epochs, [values[e] for e in epochs], marker="o", ms=3, label=stage)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    val_acc = history.get("val/acc") or {}
    if val_acc:
        best = max(val_acc, key=lambda e: val_acc[e])
        acc_ax.axvline(best, color="grey", ls=":", lw=1)
        acc_ax.annotate(
            f"best val {val_acc[best]:.4f}\n(epoch {best})",
            (best, val_acc[best]),
            textcoords="offset points",
            xytext=(-30, -110),
            ha="right",
            fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "grey", "alpha": 0.9},
            arrowprops={"arrowstyle": "->", "color": "grey"},
        )
    if title:
        fig.suptitle(title)
    return fig


def reliability_figure(bins: ReliabilityBins, ece: float, title: str = "") -> Figure:
    """Accuracy against mean confidence per confidence bin (bars: accuracy; the diagonal is
    perfect calibration; the gap to it is shaded), image counts per bin below."""
    fig = _figure(6, 7)
    ax, hist = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    width = np.diff(bins.edges)
    left = bins.edges[:-1]
    filled = bins.count > 0
    ax.bar(
        left[filled],
        bins.accuracy[filled],
        width[filled],
        align="edge",
        color="tab:blue",
        edgecolor="black",
        lw=0.6,
        label="accuracy",
    )
    gap_low = np.minimum(bins.accuracy, bins.confidence)[filled]
    gap = np.abs(bins.confidence - bins.accuracy)[filled]
    ax.bar(
        left[filled],
        gap,
        width[filled],
        bottom=gap_low,
        align="edge",
        color="tab:red",
        alpha=0.3,
        edgecolor="tab:red",
        hatch="//",
        lw=0.6,
        label="gap to confidence",
    )
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy", title=title or "reliability diagram")
    ax.text(
        0.04,
        0.93,
        f"ECE {ece:.4f} ({len(width)} bins)",
        transform=ax.transAxes,
        bbox={"boxstyle": "round", "fc": "white", "ec": "grey"},
    )
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    hist.bar(left, bins.count, width, align="edge", color="grey", edgecolor="black", lw=0.6)
    hist.set(xlabel="confidence (top-class probability)", ylabel="images")
    hist.grid(alpha=0.3)
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return Path(path)
