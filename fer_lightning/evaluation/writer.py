"""Writes every report file of a run directory from its predictions and run facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fer_lightning.evaluation import plots
from fer_lightning.evaluation.history import (
    epochs_trained,
    images_per_second,
    read_epoch_metrics,
    training_seconds,
)
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import CSV_NAME, MD_NAME, ClassificationReport
from fer_lightning.evaluation.report import classification_report as compute_report
from fer_lightning.evaluation.summary import SUMMARY_JSON, format_duration, write_summary

#: Every file a report writes into the run directory.
REPORT_FILES = (
    "predictions.npz",
    CSV_NAME,
    MD_NAME,
    plots.CONFUSION_PNG,
    plots.ROC_PNG,
    plots.CURVES_PNG,
    SUMMARY_JSON,
)


def build_summary(
    report: ClassificationReport, facts: dict[str, Any], history: dict[str, dict[int, float]]
) -> dict[str, Any]:
    """``facts`` come from the run (experiment, model, dataset, split, parameters, seed, ...);
    the test figures from ``report``; epochs, training time and speed from metrics.csv."""
    return {
        "experiment": facts.get("experiment"),
        "model": facts.get("model"),
        "dataset": facts.get("dataset"),
        "split": facts.get("split"),
        "test_images": report.total,
        "test_accuracy": report.accuracy,
        "macro_f1": report.macro["f1"],
        "weighted_f1": report.weighted["f1"],
        "macro_auc": report.macro["auc"],
        "parameters": facts.get("parameters"),
        "epochs": epochs_trained(history),
        "best_epoch": facts.get("best_epoch"),
        "training_time_s": training_seconds(history),
        "images_per_sec": images_per_second(history),
        "precision": facts.get("trainer_precision"),  # bf16-mixed, 32-true, ...
        "git_commit": facts.get("git_commit"),
        "git_dirty": facts.get("git_dirty"),
        "seed": facts.get("seed"),
        "tta": facts.get("tta", "none"),
        "tta_crop_size": facts.get("tta_crop_size"),
        "checkpoint": facts.get("checkpoint"),
        "training_run": facts.get("training_run"),
    }


def report_markdown(report: ClassificationReport, summary: dict[str, Any]) -> str:
    tta = summary["tta"]
    tta_text = "none" if tta in (None, "none") else f"{tta} ({summary['tta_crop_size']} px crops)"
    params = summary["parameters"]
    ips = summary["images_per_sec"]
    best = summary["best_epoch"]
    facts = [
        f"- dataset: {summary['dataset']}, split `{summary['split']}`, "
        f"{summary['test_images']:,} test images",
        f"- model: {summary['model']}, "
        + (f"{params:,} parameters" if params is not None else "parameters n/a"),
        f"- checkpoint: `{summary['checkpoint']}`"
        + (f" (epoch {best})" if best is not None else ""),
        f"- epochs trained: {summary['epochs'] if summary['epochs'] is not None else 'n/a'}, "
        f"training time {format_duration(summary['training_time_s'])}, "
        + (f"{ips:,.0f} images/s" if ips is not None else "images/s n/a")
        + (f", precision {summary['precision']}" if summary.get("precision") else ""),
        f"- test-time augmentation: {tta_text}",
        f"- seed {summary['seed']}, git commit {summary['git_commit'] or 'n/a'}"
        + (" (uncommitted changes)" if summary["git_dirty"] else ""),
    ]
    return "\n".join(
        [
            f"# {summary['experiment']}: test report",
            "",
            *facts,
            "",
            f"Test accuracy **{report.accuracy:.5f}**, macro F1 **{report.macro['f1']:.4f}**.",
            "",
            report.markdown_table(),
            "",
            "![confusion matrix](confusion_matrix.png)",
            "",
            "![ROC curves](roc.png)",
            "",
            "![training curves](curves.png)",
            "",
        ]
    )


def write_report(
    out_dir: Path,
    predictions: Predictions,
    facts: dict[str, Any],
    history_dir: Path | None = None,
) -> tuple[ClassificationReport, dict[str, Any], dict[str, Path]]:
    """Write :data:`REPORT_FILES` into ``out_dir``; training curves, epochs and training time
    come from ``history_dir``'s metrics.csv (default ``out_dir``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = compute_report(predictions)
    history = read_epoch_metrics(history_dir or out_dir)
    summary = build_summary(report, facts, history)
    title = f"{summary['experiment']} ({summary['dataset']}, test n={report.total:,})"
    paths = {
        "predictions": predictions.save(out_dir),
        "report_csv": report.write_csv(out_dir / CSV_NAME),
        "confusion": plots.save(
            plots.confusion_figure(report, title), out_dir / plots.CONFUSION_PNG
        ),
        "roc": plots.save(plots.roc_figure(report, f"ROC: {title}"), out_dir / plots.ROC_PNG),
        "curves": plots.save(
            plots.curves_figure(history, summary["experiment"] or ""), out_dir / plots.CURVES_PNG
        ),
        "summary": write_summary(out_dir / SUMMARY_JSON, summary),
    }
    (out_dir / MD_NAME).write_text(report_markdown(report, summary))
    paths["report_md"] = out_dir / MD_NAME
    return report, summary, paths
