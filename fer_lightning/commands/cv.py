"""``fer-lightning cv``: k-fold cross-validation of an experiment whose data has folds (CK+).

Runs ``fit`` (then the usual test of the best checkpoint) once per fold, each a normal run
directory ``runs/<experiment>/<stamp>-cv/fold<i>``, and reports the mean and the sample
standard deviation of the test accuracy over the folds (printed, and in ``cv.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from fer_lightning import experiments, run_layout
from fer_lightning.errors import FERUserError


def fold_count(path: Path, data: Any, folds: int | None) -> int:
    """The number of folds: ``--folds``, else the data's ``num_folds`` (``data``: the
    ``data`` settings ``fit`` would get, the overrides and the class's defaults included)."""
    name = str(data.class_path).rsplit(".", 1)[-1]
    if "fold" not in data.init_args or "num_folds" not in data.init_args:
        raise FERUserError(
            f"{path}: its data ({name}) has no folds (no 'fold' / 'num_folds' argument)"
        )
    value = folds if folds is not None else data.init_args.num_folds
    if not isinstance(value, int) or value < 2:
        raise FERUserError(f"{path}: num_folds must be an integer of at least 2, got {value}")
    return value


def fit_and_test(path: Path, experiment: str, extra: list[str], run_dir: Path) -> dict[str, Any]:
    """One ``fit`` of the experiment in ``run_dir``, then the test of its best checkpoint:
    its test accuracy and macro F1 (also used by ``fer-lightning seeds``)."""
    from fer_lightning.cli import run_cli

    args = [
        "fit",
        "--config",
        str(path),
        *extra,
        f"--experiment={experiment}",
        f"--run_dir={run_dir}",
        "--test_after_fit=true",
    ]
    metrics = run_cli(args).trainer.callback_metrics
    if "test/acc" not in metrics:
        raise FERUserError(f"{run_dir} ended without a test accuracy")
    return {
        "run_dir": str(run_dir),
        "test_acc": float(metrics["test/acc"]),
        "test_f1_macro": float(metrics.get("test/f1_macro", float("nan"))),
    }


def run_folds(
    path: Path, experiment: str, folds: int, extra: list[str], cv_dir: Path
) -> list[dict[str, Any]]:
    results = []
    for fold in range(folds):
        run_dir = run_layout.fold_dir(cv_dir, fold)
        fold_args = [*extra, f"--data.num_folds={folds}", f"--data.fold={fold}"]
        results.append({"fold": fold, **fit_and_test(path, experiment, fold_args, run_dir)})
        print(f"fold {fold}: test accuracy {results[-1]['test_acc']:.4f} ({run_dir})")
    return results


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n-1; 0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(experiment: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    mean, std = mean_std([r["test_acc"] for r in results])
    return {
        "experiment": experiment,
        "folds": results,
        "test_acc_mean": mean,
        "test_acc_std": std,
        "std": "sample standard deviation over folds (n-1)",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning cv",
        description="Train and test every fold of an experiment whose data has folds "
        "(CKPlusDataModule); print and write mean ± std test accuracy. Other arguments "
        "(e.g. --trainer.max_epochs=5) go to each fold's 'fit'.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--exp", help="experiment name (see 'fer-lightning experiments')")
    which.add_argument("--config", type=Path, help="path to an experiment YAML")
    parser.add_argument("--folds", type=int, default=None, help="default: the data's num_folds")
    args, extra = parser.parse_known_args(argv)
    path = experiments.resolve(args.exp) if args.exp else args.config
    if not path.is_file():
        raise FERUserError(f"--config {path}: no such file")
    if args.folds is not None and args.folds < 2:
        raise FERUserError(f"--folds must be at least 2, got {args.folds}")
    from fer_lightning.build import settings  # Lightning: only once the arguments are fine

    fit = settings(path, extra)
    folds = fold_count(path, fit.config.data, args.folds)
    experiment = fit.name
    with run_layout.group_dir(experiment, "cv") as cv_dir:
        summary = summarize(experiment, run_folds(path, experiment, folds, extra, cv_dir))
    written = cv_dir / run_layout.CV_JSON
    written.write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"{experiment}: test accuracy {100 * summary['test_acc_mean']:.2f} ± "
        f"{100 * summary['test_acc_std']:.2f} % over {folds} folds ({written})"
    )
    return 0
