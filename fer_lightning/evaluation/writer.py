"""Writes every report file of a run directory from its predictions and run facts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.evaluation import plots, unseen
from fer_lightning.evaluation.history import (
    epochs_trained,
    images_per_second,
    read_epoch_metrics,
    training_seconds,
)
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import CSV_NAME, MD_NAME, ClassificationReport
from fer_lightning.evaluation.report import classification_report as compute_report
from fer_lightning.evaluation.stats import (
    CI_METHOD,
    ECE_BINS,
    bootstrap_intervals,
    expected_calibration_error,
    reliability_bins,
)
from fer_lightning.evaluation.summary import format_duration, write_summary
from fer_lightning.run import layout
from fer_lightning.run.layout import SUMMARY_JSON

#: Every file a report writes into the run directory; the explanations when it has a model.
REPORT_FILES = layout.REPORT_FILES
EXPLANATIONS_PNG = layout.EXPLANATIONS_PNG


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
        # All of the test split; more than test_images when --trainer.limit_test_batches cut it.
        "test_set_images": facts.get("test_set_images") or report.total,
        "partial_test": report.total < (facts.get("test_set_images") or report.total),
        "test_accuracy": report.accuracy,
        "macro_f1": report.macro["f1"],
        "weighted_f1": report.weighted["f1"],
        "macro_auc": _number(report.macro["auc"]),
        "classes_absent": [
            n for n, count in zip(report.class_names, report.support, strict=True) if not count
        ],
        "parameters": facts.get("parameters"),
        # A report written again without the training's metrics.csv keeps what it had.
        "epochs": epochs_trained(history) or facts.get("epochs"),
        "best_epoch": facts.get("best_epoch"),
        "training_time_s": training_seconds(history) or facts.get("training_time_s"),
        "images_per_sec": images_per_second(history) or facts.get("images_per_sec"),
        "git_commit": facts.get("git_commit"),
        "git_dirty": facts.get("git_dirty"),
        "seed": facts.get("seed"),
        "tta": facts.get("tta", "none"),
        "tta_crop_size": facts.get("tta_crop_size"),
        "precision": facts.get("precision"),
        "hardware": facts.get("hardware"),
        "checkpoint": facts.get("checkpoint"),
        "training_run": facts.get("training_run"),
        # the FER model the fit started from (model.init_from): name, file, SHA-256, head rows
        "init_from": facts.get("init_from"),
    }


def _init_line(source: dict[str, Any] | None) -> list[str]:
    """The report's line on the FER model a fit started from, if any."""
    if not source:
        return []
    kept = ", ".join(source.get("classes_kept") or []) or "none"
    return [
        f"- initialised from `{source['model']}` (`{source['path']}`, SHA-256 "
        f"`{source['sha256'][:16]}…`); class rows kept: {kept}"
    ]


def _number(value: float) -> float | None:
    """JSON has no NaN: an undefined number is null."""
    return None if math.isnan(value) else value


def table_notes(report: ClassificationReport) -> list[str]:
    """What n/a means in the table and which classes the macro average is over."""
    notes = []
    absent = [n for n, count in zip(report.class_names, report.support, strict=True) if not count]
    if any(np.isnan(getattr(report, m)).any() for m in ("precision", "recall", "f1", "auc")):
        notes.append(
            "n/a: undefined (0/0): precision of a class never predicted, recall and ROC AUC of "
            "a class absent from the test set."
        )
    if absent:
        notes.append(
            f"Absent from the test set: {', '.join(absent)}. The macro averages are over the "
            f"{report.classes_present} classes present (a class never predicted counts there "
            "with precision 0)."
        )
    return notes


def uncertainty_summary(predictions: Predictions, facts: dict[str, Any]) -> dict[str, Any]:
    """The summary.json entries of the intervals, calibration, checkpoint choice and test-set
    fingerprint."""
    intervals = bootstrap_intervals(predictions)
    return {
        "test_accuracy_ci95": list(intervals["accuracy"]),
        "macro_f1_ci95": list(intervals["macro_f1"]),
        "ci_method": CI_METHOD,
        "ece": expected_calibration_error(predictions),
        "ece_bins": ECE_BINS,
        "checkpoint_selection": facts.get("checkpoint_selection"),
        "test_fingerprint": facts.get("test_fingerprint"),
        "ensemble_of": facts.get("ensemble_of"),
        **(
            {"ensemble_members": facts["ensemble_members"]} if facts.get("ensemble_members") else {}
        ),
    }


def uncertainty_markdown(summary: dict[str, Any]) -> list[str]:
    """The report.md lines of :func:`uncertainty_summary`."""

    def interval(key: str, digits: int) -> str:
        low, high = summary.get(key) or (float("nan"), float("nan"))
        return f"[{low:.{digits}f}, {high:.{digits}f}]"

    lines = [
        f"95 % confidence intervals: accuracy {interval('test_accuracy_ci95', 4)}, "
        f"macro F1 {interval('macro_f1_ci95', 4)} ({summary.get('ci_method')}).",
        "",
        f"Expected calibration error (torchmetrics, {summary.get('ece_bins')} bins, L1): "
        f"**{summary.get('ece', float('nan')):.4f}**; reliability diagram below.",
    ]
    selection = summary.get("checkpoint_selection")
    if selection:
        lines += ["", f"Checkpoint choice: {selection}."]
    if summary.get("ensemble_of"):
        members = ", ".join(f"`{m}`" for m in summary["ensemble_of"])
        lines += ["", f"Ensemble (mean of the softmax outputs) of: {members}."]
        for row in summary.get("ensemble_members") or []:
            lines += [
                f"- member `{row['run']}`: {100 * row['test_accuracy']:.2f} %; the ensemble is "
                f"right where it is wrong on {row['only_ensemble']} images, the reverse on "
                f"{row['only_member']} (McNemar's exact test p = {row['p_value']:.3g})"
            ]
    identity = []
    if summary.get("test_fingerprint"):
        identity.append(
            f"Test-set fingerprint `{summary['test_fingerprint']}` (images and labels)."
        )
    if summary.get("test_set"):
        identity.append(
            f"Test set `{summary['test_set']}` (its images and labels in any order: what "
            "`compare` and `ensemble` pair runs by)."
        )
    if identity:
        lines += ["", " ".join(identity)]
    if unseen.markdown_lines(summary):
        lines += ["", *unseen.markdown_lines(summary)]
    return lines


def report_markdown(report: ClassificationReport, summary: dict[str, Any]) -> str:
    tta = summary["tta"]
    tta_text = "none" if tta in (None, "none") else f"{tta} ({summary['tta_crop_size']} px crops)"
    params = summary["parameters"]
    ips = summary["images_per_sec"]
    best = summary["best_epoch"]
    images = f"{summary['test_images']:,} test images"
    if summary.get("partial_test"):
        images = (
            f"**partial evaluation: {summary['test_images']:,} of the "
            f"{summary['test_set_images']:,} test images** (a seeded class-stratified subset, "
            "--trainer.limit_test_batches)"
        )
    facts = [
        f"- dataset: {summary['dataset']}, split `{summary['split']}`, {images}",
        f"- model: {summary['model']}, "
        + (f"{params:,} parameters" if params is not None else "parameters n/a"),
        f"- checkpoint: `{summary['checkpoint']}`"
        + (f" (epoch {best})" if best is not None else ""),
        f"- epochs trained: {summary['epochs'] if summary['epochs'] is not None else 'n/a'}, "
        f"training time {format_duration(summary['training_time_s'])}, "
        + (f"{ips:,.0f} images/s" if ips is not None else "images/s n/a")
        + (f", precision {summary['precision']}" if summary.get("precision") else ""),
        f"- test-time augmentation: {tta_text}",
        *_init_line(summary.get("init_from")),
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
            *uncertainty_markdown(summary),
            "",
            report.markdown_table(),
            "",
            *(f"{note}\n" for note in table_notes(report)),
            f"![reliability diagram]({plots.RELIABILITY_PNG})",
            "",
            "![confusion matrix](confusion_matrix.png)",
            "",
            "![ROC curves](roc.png)",
            "",
            "![training curves](curves.png)",
            "",
            *(
                [
                    "Grad-CAM of the most confident right and wrong test images per class:",
                    "",
                    f"![explanations]({EXPLANATIONS_PNG})",
                    "",
                ]
                if summary.get("explanations")
                else []
            ),
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
    summary.update(uncertainty_summary(predictions, facts))
    summary.update(unseen.summary_fields(predictions, facts.get("copies_reference")))
    if facts.get("explanations"):
        summary["explanations"] = str(facts["explanations"])
    n = f"{report.total:,}"
    if summary["partial_test"]:
        n += f" of {summary['test_set_images']:,}"
    title = f"{summary['experiment']} ({summary['dataset']}, test n={n})"
    paths = {
        "predictions": predictions.save(out_dir),
        "report_csv": report.write_csv(out_dir / CSV_NAME),
        "confusion": plots.save(
            plots.confusion_figure(report, title), out_dir / plots.CONFUSION_PNG
        ),
        "roc": plots.save(plots.roc_figure(report, f"ROC: {title}"), out_dir / plots.ROC_PNG),
        "curves": out_dir / plots.CURVES_PNG
        if epochs_trained(history) is None and (out_dir / plots.CURVES_PNG).is_file()
        else plots.save(
            plots.curves_figure(history, summary["experiment"] or ""), out_dir / plots.CURVES_PNG
        ),
        "reliability": plots.save(
            plots.reliability_figure(
                reliability_bins(predictions), summary["ece"], f"Reliability: {title}"
            ),
            out_dir / plots.RELIABILITY_PNG,
        ),
        "summary": write_summary(out_dir / SUMMARY_JSON, summary),
    }
    (out_dir / MD_NAME).write_text(report_markdown(report, summary))
    paths["report_md"] = out_dir / MD_NAME
    return report, summary, paths
