"""``fer-lightning cv``: k-fold cross-validation of an experiment whose data has folds (CK+).

Runs ``fit`` (then the usual test of the best checkpoint) once per fold, each a normal run
directory ``runs/<experiment>/<stamp>-cv/fold<i>``, and reports the mean and the sample
standard deviation of the test accuracy over the folds (printed, and in ``cv.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fer_lightning.commands.common import (
    add_experiment_arguments,
    experiment_path,
    fit_and_test,
    summarize,
)
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout


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


def run_folds(
    path: Path, experiment: str, folds: int, extra: list[str], cv_dir: Path
) -> list[dict[str, Any]]:
    results = []
    for fold in range(folds):
        run_dir = layout.fold_dir(cv_dir, fold)
        fold_args = [*extra, f"--data.num_folds={folds}", f"--data.fold={fold}"]
        results.append({"fold": fold, **fit_and_test(path, experiment, fold_args, run_dir)})
        print(f"fold {fold}: test accuracy {results[-1]['test_acc']:.4f} ({run_dir})")
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning cv",
        description="Train and test every fold of an experiment whose data has folds "
        "(CKPlusDataModule); print and write mean ± std test accuracy. Other arguments "
        "(e.g. --trainer.max_epochs=5) go to each fold's 'fit'.",
    )
    add_experiment_arguments(parser)
    parser.add_argument("--folds", type=int, default=None, help="default: the data's num_folds")
    args, extra = parser.parse_known_args(argv)
    path = experiment_path(args)
    if args.folds is not None and args.folds < 2:
        raise FERUserError(f"--folds must be at least 2, got {args.folds}")
    from fer_lightning.build import settings  # Lightning: only once the arguments are fine

    fit = settings(path, extra)
    folds = fold_count(path, fit.config.data, args.folds)
    experiment = fit.name
    with layout.group_dir(experiment, "cv") as cv_dir:
        results = run_folds(path, experiment, folds, extra, cv_dir)
        summary = summarize(experiment, "folds", results, ("test_acc",))
    written = cv_dir / layout.CV_JSON
    written.write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"{experiment}: test accuracy {100 * summary['test_acc_mean']:.2f} ± "
        f"{100 * summary['test_acc_std']:.2f} % over {folds} folds ({written})"
    )
    return 0
