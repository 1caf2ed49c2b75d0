"""``fer-lightning cv``: k-fold cross-validation of an experiment whose data has folds (CK+).

Runs ``fit`` (then the usual test of the best checkpoint) once per fold, each a normal run
directory ``runs/<experiment>/<stamp>-cv/fold<i>``, and reports the mean and the sample
standard deviation of the test accuracy over the folds (printed, and in ``cv.json``).

``--retest CV_DIR`` trains nothing: it evaluates each fold's best checkpoint of an earlier
cross-validation again, on the fold's validation subjects (``validate``, in ``foldK/val``) and
on its test subjects (``test``, in ``foldK``), with the options given, such as
``--data.tta ten_crop``. The validation means in its ``cv.json`` are what such a choice is made
on; the test figures are then reported for the choice made.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fer_lightning.commands.common import (
    add_experiment_arguments,
    evaluate,
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


def retest_folds(
    experiment: str, trained: list[tuple[Path, Path]], extra: list[str], cv_dir: Path
) -> list[dict[str, Any]]:
    """Validate and test each fold's best checkpoint (``trained``: each fold's recorded config
    and checkpoint, :func:`retest_source`) with the ``extra`` options, into ``cv_dir``'s folds."""
    results = []
    for fold, (config, ckpt) in enumerate(trained):
        run_dir = layout.fold_dir(cv_dir, fold)
        args = ["--config", str(config), f"--ckpt_path={ckpt}", *extra]
        val = evaluate("validate", experiment, args, layout.val_dir(run_dir), ("acc", "loss"))
        test = evaluate("test", experiment, args, run_dir, ("acc", "f1_macro"))
        results.append(
            {"fold": fold, "run_dir": run_dir.name, "checkpoint": str(ckpt), **val, **test}
        )
        print(
            f"fold {fold}: validation accuracy {val['val_acc']:.4f}, "
            f"test accuracy {test['test_acc']:.4f} ({run_dir})"
        )
    return results


def retest_source(source: Path, experiment: str, folds: int | None) -> list[tuple[Path, Path]]:
    """Each fold's recorded config and best checkpoint in ``--retest``'s cross-validation
    directory, checked before anything runs: the experiment's, every fold complete, as many
    folds as ``--folds`` where given."""
    record = source / layout.CV_JSON
    if not record.is_file():
        raise FERUserError(f"--retest {source}: no {layout.CV_JSON} (not a 'cv' directory)")
    cv = json.loads(record.read_text())
    if cv.get("experiment") != experiment:
        raise FERUserError(
            f"--retest {source}: its folds are of experiment '{cv.get('experiment')}', "
            f"not '{experiment}'"
        )
    held = len(cv.get("folds", []))
    if not held:
        raise FERUserError(f"--retest {source}: its {layout.CV_JSON} lists no folds")
    if folds is not None and folds != held:
        raise FERUserError(f"--folds {folds}: --retest {source} holds {held} folds")
    trained = []
    for fold in range(held):
        config = layout.config_of(layout.fold_dir(source, fold))
        if not config.is_file():
            raise FERUserError(f"--retest {source}: fold {fold} has no {config.name}")
        try:
            trained.append((config, layout.best_checkpoint(config.parent)))
        except FERUserError:  # its own sentence names a --ckpt option that cv does not have
            ckpts = layout.checkpoints_dir(config.parent)
            raise FERUserError(
                f"--retest {source}: fold {fold} has no best checkpoint in {ckpts} (a "
                "published cross-validation keeps none: retest the one in runs/)"
            ) from None
    return trained


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning cv",
        description="Train and test every fold of an experiment whose data has folds "
        "(CKPlusDataModule); print and write mean ± std test accuracy. Other arguments "
        "(e.g. --trainer.max_epochs=5) go to each fold's 'fit'.",
    )
    add_experiment_arguments(parser)
    parser.add_argument("--folds", type=int, default=None, help="default: the data's num_folds")
    parser.add_argument(
        "--retest",
        type=Path,
        default=None,
        metavar="CV_DIR",
        help="train nothing: validate and test each fold's best checkpoint of this earlier "
        "'cv' directory again, with the other arguments (e.g. --data.tta ten_crop)",
    )
    args, extra = parser.parse_known_args(argv)
    path = experiment_path(args)
    if args.folds is not None and args.folds < 2:
        raise FERUserError(f"--folds must be at least 2, got {args.folds}")
    from fer_lightning.build import settings  # Lightning: only once the arguments are fine

    fit = settings(path, extra)
    experiment = fit.name
    source = args.retest
    if source:
        trained = retest_source(source, experiment, args.folds)
        folds = len(trained)
    else:
        folds = fold_count(path, fit.config.data, args.folds)
    with layout.group_dir(experiment, "cv") as cv_dir:
        if source:
            results = retest_folds(experiment, trained, extra, cv_dir)
            summary = summarize(experiment, "folds", results, ("val_acc", "val_loss", "test_acc"))
            summary["retested_from"] = str(source)
            summary["options"] = extra
        else:
            results = run_folds(path, experiment, folds, extra, cv_dir)
            summary = summarize(experiment, "folds", results, ("test_acc",))
    written = cv_dir / layout.CV_JSON
    written.write_text(json.dumps(summary, indent=1) + "\n")
    if source:
        print(
            f"{experiment}: validation accuracy {100 * summary['val_acc_mean']:.2f} ± "
            f"{100 * summary['val_acc_std']:.2f} %, loss {summary['val_loss_mean']:.4f}"
        )
    print(
        f"{experiment}: test accuracy {100 * summary['test_acc_mean']:.2f} ± "
        f"{100 * summary['test_acc_std']:.2f} % over {folds} folds ({written})"
    )
    return 0
