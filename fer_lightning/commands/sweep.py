"""``fer-lightning sweep SWEEP.yaml [extra fit args]``: a grid of normal runs, one results table;
``fer-lightning sweep --resume SWEEP_DIR`` continues a stopped one.

Each combination is an ordinary run of the experiment (own directory, checkpoints, logs), run one
after the other in this process; the table is rewritten after every run from the runs' files
(:mod:`fer_lightning.sweep_grid`). The sweep directory keeps the sweep file and the extra
arguments, so that ``--resume`` continues where the sweep stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from fer_lightning import experiments
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout, record
from fer_lightning.sweep_grid import (
    Sweep,
    label,
    load_sweep,
    read_rows,
    recorded,
    row_of,
    run_args,
    write_tables,
)

log = logging.getLogger("fer_lightning")


def _record(out_dir: Path, sweep_file: Path, extra: list[str]) -> None:
    """What ``--resume`` needs to continue the sweep: its file and its extra arguments."""
    shutil.copyfile(sweep_file, out_dir / layout.SWEEP_YAML)
    saved = {"file": str(sweep_file), "extra": extra}
    (out_dir / layout.SWEEP_JSON).write_text(json.dumps(saved) + "\n")
    record.record_command(out_dir, ["sweep", str(sweep_file), *extra])


def _forget(out_dir: Path) -> None:
    """Remove the record of a sweep whose first run left nothing (refused: bad input), so that
    the sweep directory goes too."""
    own = {layout.SWEEP_YAML, layout.SWEEP_JSON, layout.COMMAND_TXT}
    if {p.name for p in out_dir.iterdir()} <= own:
        for name in own:
            (out_dir / name).unlink(missing_ok=True)


def _next_step(run_dir: Path, listed: bool) -> list[str] | None:
    """What a run of a resumed sweep still needs, as the arguments that do it (``None``: done).

    Finished (``summary.json``, or listed in ``results.csv``: a sweep with ``test_after_fit``
    false has no report): nothing. Trained but stopped before its report (``timing.json`` says
    the fit ran to its end): its test, on its chosen checkpoint, into its directory. Stopped
    while training: fit again from its ``last.ckpt`` (exactly, as ``--ckpt_path`` does for any
    run). Stopped before its first checkpoint: a new run from the start."""
    if (run_dir / layout.SUMMARY_JSON).is_file() or (listed and run_dir.is_dir()):
        return None
    if (run_dir / layout.DIVERGED_TXT).is_file():
        return None  # diverged: a result, resuming would diverge again
    if record.fit_finished(run_dir):
        best = layout.best_checkpoint(run_dir)
        return ["test", f"--ckpt_path={best}", f"--run_dir={run_dir}"]
    last = layout.last_checkpoint(run_dir)
    if last.is_file():
        return ["fit", f"--ckpt_path={last}"]  # the checkpoint's run directory is this one
    return ["fit", f"--run_dir={run_dir}"]  # what it left (no checkpoint, no report) goes


def _steps(
    sweep: Sweep, out_dir: Path, resume: bool
) -> list[tuple[dict[str, Any], Path, list[str] | None]]:
    """Each combination, its run directory and what it still needs (``None``: done)."""
    listed = {Path(row["run_dir"]).name for row in read_rows(out_dir)} if resume else set()
    steps = []
    for i, combo in enumerate(sweep.combos):
        run_dir = layout.sweep_run_dir(out_dir, i, label(combo))
        step = _next_step(run_dir, run_dir.name in listed) if resume else ["fit"]
        if step is not None and len(step) == 1:
            step = [*step, f"--run_dir={run_dir}"]
        steps.append((combo, run_dir, step))
    return steps


def run_sweep(
    sweep: Sweep, extra: list[str], out_dir: Path, resume: bool = False
) -> list[dict[str, Any]]:
    """Run every combination (one after the other, in this process) and write the tables after
    each. With ``resume``, each run does only what it still needs (:func:`_next_step`)."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from fer_lightning.callbacks import TrainingDiverged
    from fer_lightning.cli import run_cli

    rows: list[dict[str, Any]] = []
    for i, (combo, run_dir, step) in enumerate(_steps(sweep, out_dir, resume)):
        name = label(combo)
        if step is not None:
            subcommand, *where = step
            if where[0].startswith("--run_dir") and run_dir.exists():
                shutil.rmtree(run_dir)  # stopped before its first checkpoint: nothing to keep
            what = "" if where[0].startswith("--run_dir") else f" ({subcommand} {where[0]})"
            log.info("sweep %s: run %d/%d %s%s", sweep.name, i + 1, len(sweep.combos), name, what)
            try:
                args = run_args(sweep, combo, [*extra, *where], subcommand)
                expanded, experiment = experiments.expand(args)  # a sweep line names --exp
                run_cli(expanded, command=args, experiment=experiment)
            except TrainingDiverged as err:  # a result of this combination: the sweep goes on
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / layout.DIVERGED_TXT).write_text(f"{err}\n")
                log.info(
                    "sweep %s: run %d/%d %s diverged: %s",
                    sweep.name,
                    i + 1,
                    len(sweep.combos),
                    name,
                    err,
                )
            except SIGTERMException:  # the run saved its last.ckpt (GracefulStop)
                log.info(
                    "sweep %s stopped; to continue the whole sweep, not just this run: "
                    "fer-lightning sweep --resume %s",
                    sweep.name,
                    out_dir,
                )
                raise
        rows.append(row_of(sweep, combo, run_dir))
        write_tables(sweep, rows, out_dir)  # after every run: partial results survive a crash
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning sweep",
        description="Run a grid sweep (a W&B sweep file) as normal runs and tabulate them. "
        "Arguments after the sweep file (or after --) go to every run, e.g. "
        "--trainer.max_epochs=5.",
    )
    parser.add_argument(
        "sweep", type=Path, nargs="?", help="sweep YAML, e.g. experiments/sweeps/x.yaml"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="SWEEP_DIR",
        help="continue a stopped sweep in its directory (runs/sweeps/<name>/<stamp>) with the "
        "file and arguments it was started with: finished runs are kept, an interrupted one "
        "resumes from its last.ckpt",
    )
    parser.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help="print the runs' arguments only",
    )
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.resume is not None:
        if args.sweep is not None or extra:
            raise FERUserError(
                f"--resume {args.resume} continues with the sweep file and arguments it was "
                "started with; give no others"
            )
        sweep, extra = recorded(args.resume)
    elif args.sweep is None:
        raise FERUserError(
            "give a sweep file (e.g. experiments/sweeps/cnn_fer2013_optim.yaml) "
            "or --resume SWEEP_DIR"
        )
    else:
        sweep = load_sweep(args.sweep)
    if args.dry_run:  # with --resume: what each run still needs, in its own directory
        if args.resume is None:
            for combo in sweep.combos:
                print("fer-lightning " + " ".join(run_args(sweep, combo, extra)))
        else:
            for combo, run_dir, step in _steps(sweep, args.resume, resume=True):
                if step is None:
                    print(f"# kept: {run_dir}")
                else:
                    subcommand, *where = step
                    if where[0].startswith("--run_dir") and run_dir.exists():
                        print(f"# starts again (no checkpoint), removing what it left: {run_dir}")
                    print(
                        "fer-lightning "
                        + " ".join(run_args(sweep, combo, [*extra, *where], subcommand))
                    )
        return 0
    if args.resume is not None:
        out_dir = args.resume
        record.record_command(out_dir, ["sweep", "--resume", str(out_dir)])
        rows = run_sweep(sweep, extra, out_dir, resume=True)
    else:
        with layout.sweep_dir(sweep.name) as out_dir:
            _record(out_dir, args.sweep, extra)
            try:
                rows = run_sweep(sweep, extra, out_dir)
            except BaseException:
                _forget(out_dir)  # only when no run has left anything
                raise
    table = out_dir / layout.RESULTS_MD
    print(table.read_text(), end="")
    print(f"results: {table} and {layout.RESULTS_CSV} ({len(rows)} runs)")
    return 0
