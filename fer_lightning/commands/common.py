"""What the experiment-driven subcommands (``cv``, ``seeds``) share: choosing the experiment
(``--exp NAME`` or ``--config PATH``), one fit-and-test run of it, and the mean ± std summary
of its runs (``cv.json``, ``seeds.json``). Not a subcommand itself."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from fer_lightning import experiments
from fer_lightning.errors import FERUserError


def add_experiment_arguments(parser: argparse.ArgumentParser) -> None:
    """``--exp NAME`` or ``--config PATH``, exactly one of them (read back with
    :func:`experiment_path`)."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--exp", help="experiment name (see 'fer-lightning experiments')")
    which.add_argument("--config", type=Path, help="path to an experiment YAML")


def experiment_path(args: argparse.Namespace) -> Path:
    """The experiment YAML chosen by :func:`add_experiment_arguments`' ``--exp`` or
    ``--config``; an unknown experiment or a missing file is a user error."""
    path: Path = experiments.resolve(args.exp) if args.exp is not None else args.config
    if not path.is_file():
        raise FERUserError(f"--config {path}: no such file")
    return path


def fit_and_test(path: Path, experiment: str, extra: list[str], run_dir: Path) -> dict[str, Any]:
    """One ``fit`` of the experiment in ``run_dir``, then the test of its best checkpoint:
    its test accuracy and macro F1. ``run_dir`` is recorded by its name, relative to the
    cv/seeds directory holding it: the record stays true when the folder is published or
    moved to another machine."""
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
    logged = run_cli(args).trainer.callback_metrics
    return {"run_dir": run_dir.name, **_read(logged, "test", ("acc", "f1_macro"), run_dir)}


def evaluate(
    subcommand: str, experiment: str, args: list[str], run_dir: Path, metrics: tuple[str, ...]
) -> dict[str, float]:
    """One ``validate`` or ``test`` run (``args``: its config and checkpoint) in ``run_dir``:
    ``{"<stage>_<metric>": value}`` for each of ``metrics`` (``acc``, ``loss``, ...)."""
    from fer_lightning.cli import run_cli

    stage = "val" if subcommand == "validate" else subcommand
    args = [subcommand, *args, f"--experiment={experiment}", f"--run_dir={run_dir}"]
    return _read(run_cli(args).trainer.callback_metrics, stage, metrics, run_dir)


def _read(
    logged: dict[str, Any], stage: str, metrics: tuple[str, ...], run_dir: Path
) -> dict[str, float]:
    """``{"<stage>_<metric>": value}`` from a run's logged metrics (NaN where one is missing);
    a run that logged no accuracy of ``stage`` is refused."""
    if f"{stage}/acc" not in logged:
        raise FERUserError(f"{run_dir} ended without a {stage} accuracy")
    return {f"{stage}_{m}": float(logged.get(f"{stage}/{m}", float("nan"))) for m in metrics}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n-1; 0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(
    experiment: str, over: str, results: list[dict[str, Any]], metrics: tuple[str, ...]
) -> dict[str, Any]:
    """``{"experiment", over: results, "<metric>_mean", "<metric>_std" for each of metrics,
    "std"}``: the mean and the sample standard deviation of each metric over the results
    (``over`` names them: "folds", "seeds")."""
    summary: dict[str, Any] = {"experiment": experiment, over: results}
    for metric in metrics:
        mean, std = mean_std([r[metric] for r in results])
        summary[f"{metric}_mean"], summary[f"{metric}_std"] = mean, std
    summary["std"] = f"sample standard deviation over {over} (n-1)"
    return summary
