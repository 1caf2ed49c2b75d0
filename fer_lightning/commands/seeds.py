"""``fer-lightning seeds``: train and test an experiment with N seeds, as ``cv`` does folds.

Each seed is a normal run directory ``runs/<experiment>/<stamp>-seeds/seed<S>`` (its own
report, summary.json and predictions.npz, so ``compare`` and ``ensemble`` take them); the mean
and the sample standard deviation of the test accuracy and macro F1 over the seeds are printed
and written to ``seeds.json``.
"""

from __future__ import annotations

import argparse
import json

from fer_lightning.commands.common import (
    add_experiment_arguments,
    experiment_path,
    fit_and_test,
    summarize,
)
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning seeds",
        description="Train and test an experiment once per seed (each its own run directory); "
        "print and write mean ± std of the test accuracy and macro F1. Other arguments "
        "(e.g. --trainer.max_epochs=5) go to each seed's 'fit'.",
    )
    add_experiment_arguments(parser)
    parser.add_argument("-n", "--n", type=int, default=3, help="number of seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first..first+n-1")
    args, extra = parser.parse_known_args(argv)
    path = experiment_path(args)
    if args.n < 2:
        raise FERUserError(f"--n must be at least 2 for a standard deviation, got {args.n}")
    if any(arg.split("=", 1)[0] == "--seed_everything" for arg in extra):
        raise FERUserError("--seed_everything is set by 'seeds' itself; use --first-seed")
    from fer_lightning.build import settings  # Lightning: only once the arguments are fine

    experiment = settings(path, extra).name
    results = []
    with layout.group_dir(experiment, "seeds") as seeds_dir:
        for seed in range(args.first_seed, args.first_seed + args.n):
            run_dir = layout.seed_dir(seeds_dir, seed)
            seed_args = [*extra, f"--seed_everything={seed}"]
            result = fit_and_test(path, experiment, seed_args, run_dir)
            results.append({"seed": seed, **result})
            print(f"seed {seed}: test accuracy {result['test_acc']:.4f} ({run_dir})")
    summary = summarize(experiment, "seeds", results, ("test_acc", "test_f1_macro"))
    written = seeds_dir / layout.SEEDS_JSON
    written.write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"{experiment}: test accuracy {100 * summary['test_acc_mean']:.2f} ± "
        f"{100 * summary['test_acc_std']:.2f} %, macro F1 {summary['test_f1_macro_mean']:.4f} ± "
        f"{summary['test_f1_macro_std']:.4f} over {args.n} seeds ({written})"
    )
    return 0
