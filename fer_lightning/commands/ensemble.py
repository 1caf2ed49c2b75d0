"""``fer-lightning ensemble RUN_DIR RUN_DIR...``: the report of the runs' averaged test softmax.

The runs must have been scored on the same test images (the test-set fingerprint in their
summary.json) with the same classes; their ``predictions.npz`` probabilities are averaged and
the full report (report.md, report.csv, the PNGs, summary.json, predictions.npz) is written to
a run directory of its own, which ``fer-lightning compare`` lists like any run.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.compare import paired_predictions, same_test_set
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.summary import git_commit, read_summary
from fer_lightning.paths import check_name
from fer_lightning.run import layout


def ensemble_predictions(members: list[Predictions], runs: list[Path]) -> Predictions:
    """The mean of the members' probabilities (same classes; the members already in the
    first one's image order, :func:`~fer_lightning.evaluation.compare.paired_predictions`)."""
    first = members[0]
    for preds, run in zip(members[1:], runs[1:], strict=True):
        if preds.class_names != first.class_names:
            raise FERUserError(
                f"{run} has classes {preds.class_names}, {runs[0]} has {first.class_names}; "
                "an ensemble needs the same classes in the same order"
            )
        if not np.array_equal(preds.targets, first.targets):
            raise FERUserError(f"{run} and {runs[0]} have different test labels")
    probs = np.mean([p.probs.astype(np.float64) for p in members], axis=0)
    return Predictions(
        probs,
        first.targets,
        list(first.class_names),
        first.image_ids,
        first.exact_copy,
        first.near_copy,
    )


def _run_dir(arg: Path) -> Path:
    """A run directory as given, or the results folder of a zoo model's name."""
    if arg.is_dir() or not zoo.looks_like_name(str(arg)):
        return arg
    folder = zoo.get(str(arg)).folder
    try:  # as the user would write it: relative to where the command runs
        return folder.relative_to(Path.cwd())
    except ValueError:
        return folder


def member_tests(
    members: list[Predictions], ensemble: Predictions, summaries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each member's test accuracy and McNemar's exact test of the ensemble against it (the
    best member first: the comparison that says whether ensembling helped)."""
    from fer_lightning.evaluation.stats import mcnemar_exact

    right = ensemble.predicted == ensemble.targets
    rows = []
    for member, summary in zip(members, summaries, strict=True):
        correct = member.predicted == member.targets
        test = mcnemar_exact(right, correct)
        rows.append(
            {
                "run": summary["run"],
                "test_accuracy": float(correct.mean()),
                "p_value": test["p_value"],
                "only_ensemble": test["only_a"],
                "only_member": test["only_b"],
            }
        )
    return sorted(rows, key=lambda r: r["test_accuracy"], reverse=True)


def ensemble_facts(summaries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    first = summaries[0]
    commit, dirty = git_commit()
    params = [s.get("parameters") for s in summaries]
    models = ", ".join(str(s.get("model")) for s in summaries)
    selections = "; ".join(
        f"`{s['run']}`: {s.get('checkpoint_selection') or 'not recorded'}" for s in summaries
    )
    return {
        "experiment": name,
        "model": f"ensemble of {len(summaries)} ({models})",
        "dataset": first.get("dataset"),
        "split": first.get("split"),
        "parameters": sum(params) if all(isinstance(p, int) for p in params) else None,
        "tta": "none",
        "checkpoint": None,
        "training_run": None,
        "checkpoint_selection": f"each member's own ({selections})",
        "test_fingerprint": first.get("test_fingerprint"),
        "copies_reference": (first.get("copies") or {}).get("reference"),
        "ensemble_of": [s["run"] for s in summaries],
        "git_commit": commit,
        "git_dirty": dirty,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning ensemble",
        description="Average the test softmax outputs of runs scored on the same test images "
        "and write the ensemble's report (listed by 'fer-lightning compare' like any run).",
    )
    parser.add_argument(
        "runs",
        nargs="+",
        type=Path,
        help="run directories (with summary.json) or zoo names ('fer-lightning models')",
    )
    parser.add_argument("--name", default="ensemble", help="experiment name (default ensemble)")
    parser.add_argument("--out", type=Path, help="default runs/<name>/<timestamp>")
    args = parser.parse_args(argv)
    check_name(args.name, "--name")
    runs: list[Path] = list(dict.fromkeys(_run_dir(r) for r in args.runs))
    if len(runs) < 2:
        raise FERUserError(f"an ensemble needs at least two different runs, got {len(runs)}")
    summaries = [{**read_summary(run), "run": str(run)} for run in runs]
    for summary in summaries[1:]:
        same_test_set(summaries[0], summary)
    members = paired_predictions(runs)
    predictions = ensemble_predictions(members, runs)
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        raise FERUserError(f"--out {args.out} already holds files; name an empty or new folder")

    from fer_lightning.evaluation.writer import write_report  # matplotlib: only when used

    where = (
        contextlib.nullcontext(args.out)
        if args.out is not None
        else layout.group_dir(args.name, "ensemble")
    )
    with where as out:
        facts = ensemble_facts(summaries, args.name)
        facts["ensemble_members"] = member_tests(members, predictions, summaries)
        report, summary, paths = write_report(out, predictions, facts)
    for row in facts["ensemble_members"]:
        print(
            f"member {row['run']}: test accuracy {100 * row['test_accuracy']:.2f} %, "
            f"McNemar p = {row['p_value']:.3g} against the ensemble"
        )
    low, high = summary["test_accuracy_ci95"]
    print(
        f"ensemble of {len(runs)}: test accuracy {100 * report.accuracy:.2f} % "
        f"(95 % CI {100 * low:.2f}–{100 * high:.2f} %), macro F1 {report.macro['f1']:.4f} "
        f"({paths['report_md']})"
    )
    return 0
