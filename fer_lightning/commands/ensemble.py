"""``fer-lightning ensemble RUN_DIR RUN_DIR...``: the report of the runs' averaged test softmax.

The runs must have been scored on the same test images (the test-set fingerprint in their
summary.json) with the same classes; their ``predictions.npz`` probabilities are averaged and
the full report (report.md, report.csv, the PNGs, summary.json, predictions.npz) is written to
a run directory of its own, which ``fer-lightning compare`` lists like any run.

``--choose-on-validation CANDIDATE...`` chooses the ensemble among the candidates on their
validation split first (:mod:`fer_lightning.evaluation.ensemble_choice`), prints the
validation table of every step, and writes the chosen ensemble's report the same way (its
members weighted by how often the selection added them), with the choice in summary.json
(``ensemble_choice``) and report.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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


def ensemble_predictions(
    members: list[Predictions], runs: list[Path], weights: list[int] | None = None
) -> Predictions:
    """The mean of the members' probabilities, weighted by ``weights`` where given (same
    classes; the members already in the first one's image order,
    :func:`~fer_lightning.evaluation.compare.paired_predictions`)."""
    first = members[0]
    for preds, run in zip(members[1:], runs[1:], strict=True):
        if preds.class_names != first.class_names:
            raise FERUserError(
                f"{run} has classes {preds.class_names}, {runs[0]} has {first.class_names}; "
                "an ensemble needs the same classes in the same order"
            )
        if not np.array_equal(preds.targets, first.targets):
            raise FERUserError(f"{run} and {runs[0]} have different test labels")
    probs = np.average([p.probs.astype(np.float64) for p in members], axis=0, weights=weights)
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
        "and write the ensemble's report (listed by 'fer-lightning compare' like any run). "
        "With --choose-on-validation the runs are candidates: the ensemble is chosen among "
        "them on their validation split first.",
    )
    parser.add_argument(
        "runs",
        nargs="+",
        type=Path,
        help="run directories (with summary.json) or zoo names ('fer-lightning models')",
    )
    parser.add_argument("--name", default="ensemble", help="experiment name (default ensemble)")
    parser.add_argument("--out", type=Path, help="default runs/<name>/<timestamp>")
    parser.add_argument(
        "--choose-on-validation",
        action="store_true",
        help="treat the runs as candidates (zoo names, or run directories with a checkpoint): "
        "compute each one's softmax on its validation split with its result's test-time "
        "augmentation (cached), choose the ensemble by greedy forward selection with "
        "replacement on validation accuracy, print the validation table, and write the chosen "
        "ensemble's test report",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="selection steps with --choose-on-validation (default "
        "ensemble_choice.DEFAULT_STEPS, 10)",
    )
    parser.add_argument(
        "--batch_size", type=int, default=256, help="images per forward pass (validation)"
    )
    args = parser.parse_args(argv)
    check_name(args.name, "--name")
    if not args.choose_on_validation and args.steps is not None:
        raise FERUserError("--steps is for --choose-on-validation")
    if args.steps is not None and args.steps < 1:
        raise FERUserError(f"--steps {args.steps}: give at least 1")
    if args.batch_size < 1:
        raise FERUserError(f"--batch_size {args.batch_size}: give at least 1")
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        raise FERUserError(f"--out {args.out} already holds files; name an empty or new folder")
    weights: list[int] | None = None
    choice: dict[str, Any] | None = None
    if args.choose_on_validation:
        chosen = choose_on_validation(args.runs, args.steps, args.batch_size)
        if chosen is None:
            return 0
        runs, weights, choice = chosen
    else:
        runs = list(dict.fromkeys(_run_dir(r) for r in args.runs))
        if len(runs) < 2:
            raise FERUserError(f"an ensemble needs at least two different runs, got {len(runs)}")
    summaries = [{**read_summary(run), "run": str(run)} for run in runs]
    for summary in summaries[1:]:
        same_test_set(summaries[0], summary)
    members = paired_predictions(runs)
    predictions = ensemble_predictions(members, runs, weights)

    from fer_lightning.evaluation.writer import write_report  # matplotlib: only when used

    where = (
        contextlib.nullcontext(args.out)
        if args.out is not None
        else layout.group_dir(args.name, "ensemble")
    )
    with where as out:
        facts = ensemble_facts(summaries, args.name)
        facts["ensemble_members"] = member_tests(members, predictions, summaries)
        if weights is not None and len(set(weights)) > 1:
            facts["model"] += f", weighted {':'.join(map(str, weights))}"
        report, summary, paths = write_report(out, predictions, facts)
        if choice is not None:
            record_choice(Path(out), choice)
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


def choose_on_validation(
    args: list[Path], steps: int | None, batch_size: int
) -> tuple[list[Path], list[int], dict[str, Any]] | None:
    """The ensemble chosen among the candidates ``args`` on their validation split: (its
    members' run folders, their weights, the record of the choice), or None (and a sentence
    printed) where the best single candidate beats every ensemble."""
    import sys

    from fer_lightning.evaluation import ensemble_choice as ec

    cands = list({c.run: c for c in map(ec.candidate, map(str, args))}.values())
    if len(cands) < 2:
        raise FERUserError(f"choosing an ensemble needs at least two candidates, got {len(cands)}")
    runs = [c.run for c in cands]
    summaries = [{**read_summary(run), "run": str(run)} for run in runs]
    for summary in summaries[1:]:  # before any model runs
        same_test_set(summaries[0], summary)
    ensemble_predictions(paired_predictions(runs), runs)  # classes and labels agree
    found = []
    for cand in cands:
        preds, val_set, cached = ec.validation_predictions(cand, batch_size)
        how = "from the cache" if cached else "computed"
        print(
            f"{cand.run}: validation softmax ({len(preds):,} images, tta {cand.tta}) {how}",
            file=sys.stderr,
        )
        found.append((preds, val_set))
    ec.same_validation_set([(str(c.run), v) for c, (_, v) in zip(cands, found, strict=True)])
    first = found[0][0]
    val = [first, *(p.in_order_of(first) for p, _ in found[1:])]
    names = [str(r) for r in runs]
    selection = ec.greedy_selection(
        [p.probs for p in val], first.targets, steps or ec.DEFAULT_STEPS
    )
    print(ec.selection_markdown(selection, names, len(first)))
    record = ec.selection_record(selection, names, found[0][1], len(first), [c.tta for c in cands])
    members = selection.members
    if len(members) < 2:
        print(
            f"no ensemble beats the best single candidate {names[members[0]]} on the validation "
            "split; nothing written"
        )
        return None
    return [runs[i] for i in members], [selection.best.counts[i] for i in members], record


def record_choice(out: Path, choice: dict[str, Any]) -> None:
    """Add how the ensemble was chosen to its summary.json and report.md."""
    from fer_lightning.evaluation.ensemble_choice import weights_text

    path = out / "summary.json"
    summary = json.loads(path.read_text())
    summary["ensemble_weights"] = choice["weights"]
    summary["ensemble_choice"] = choice
    path.write_text(json.dumps(summary, indent=2) + "\n")
    names = [c["run"] for c in choice["candidates"]]
    rows = [
        f"| `{c['run']}` | {c['tta']} | {100 * c['val_accuracy']:.2f} % | {c['val_nll']:.4f} |"
        for c in choice["candidates"]
    ]
    steps = [
        f"| {s['step']} | `{s['added']}` | "
        f"{weights_text([s['weights'].get(n, 0) for n in names], names)} | "
        f"{100 * s['val_accuracy']:.2f} % | {s['val_nll']:.4f} |"
        for s in choice["steps"]
    ]
    chosen = weights_text([choice["weights"].get(n, 0) for n in names], names)
    text = "\n".join(
        [
            "",
            "## How the ensemble was chosen",
            "",
            f"On the validation split only ({choice['validation_images']:,} images, validation "
            f"set `{choice['validation_set']}`): {choice['rule']}",
            "",
            "| candidate | tta | validation accuracy | validation NLL |",
            "|---|---|---:|---:|",
            *rows,
            "",
            "| step | added | ensemble | validation accuracy | validation NLL |",
            "|---:|---|---|---:|---:|",
            *steps,
            "",
            f"Chosen: step {choice['chosen_step']}, {chosen} (validation accuracy "
            f"{100 * choice['val_accuracy']:.2f} %, NLL {choice['val_nll']:.4f}).",
            "",
        ]
    )
    report = out / "report.md"
    report.write_text(report.read_text() + text)
