"""``fer-lightning sweep SWEEP.yaml [extra fit args]``: a grid of normal runs, one results table.

The sweep file is a W&B sweep configuration (``method: grid``, ``metric``, ``parameters``,
``command``), so the same file drives ``wandb sweep`` when online. Here every combination of the
``parameters`` values becomes one ``fer-lightning fit`` run, the command's arguments with
``${args}`` replaced by ``--<name>=<value>`` for each parameter (as W&B does), then the extra
arguments. Each run is an ordinary run of the experiment (own directory, checkpoints, logs);
the table of all of them goes to ``runs/sweeps/<sweep name>/<timestamp>/results.{md,csv}``,
read from each run's files after it ends. The directory also keeps the sweep file and the extra
arguments, so that ``--resume`` continues a stopped sweep where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fer_lightning import run_layout, run_record
from fer_lightning.errors import FERUserError

log = logging.getLogger("fer_lightning")


@dataclass
class Sweep:
    name: str
    metric: str
    maximize: bool
    parameters: dict[str, list[Any]]
    command: list[str]
    combos: list[dict[str, Any]] = field(default_factory=list)


def _fail(path: Path, what: str) -> FERUserError:
    return FERUserError(f"{path}: {what}")


def load_sweep(path: Path) -> Sweep:
    """Read and check a W&B-style grid sweep file."""
    if not path.is_file():
        raise FERUserError(f"sweep file {path} does not exist")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise _fail(path, f"not valid YAML ({err})") from None
    if not isinstance(cfg, dict):
        raise _fail(path, "expected a mapping with method, metric, parameters and command")
    if cfg.get("method", "grid") != "grid":
        raise _fail(path, f"method '{cfg.get('method')}': only grid runs locally")
    metric = cfg.get("metric") or {}
    if not isinstance(metric, dict) or "name" not in metric:
        raise _fail(path, "metric needs a name (e.g. {name: val/acc, goal: maximize})")
    goal = metric.get("goal", "maximize")
    if goal not in ("maximize", "minimize"):
        raise _fail(path, f"metric.goal '{goal}' is not maximize or minimize")
    params = cfg.get("parameters")
    if not isinstance(params, dict) or not params:
        raise _fail(path, "parameters must map names to {values: [...]}")
    grid: dict[str, list[Any]] = {}
    for name, spec in params.items():
        if isinstance(spec, dict) and "value" in spec:
            grid[name] = [spec["value"]]
        elif isinstance(spec, dict) and isinstance(spec.get("values"), list) and spec["values"]:
            grid[name] = list(spec["values"])
        else:
            raise _fail(path, f"parameters.{name} needs a non-empty 'values' list (grid)")
    command = cfg.get("command")
    if not isinstance(command, list) or "${args}" not in command:
        raise _fail(path, "command must be a list containing '${args}'")
    command = [str(c) for c in command]
    if "fit" not in command:
        raise _fail(
            path, "command must run 'fit' (e.g. [fer-lightning, fit, --exp, NAME, ${args}])"
        )
    sweep = Sweep(cfg.get("name") or path.stem, metric["name"], goal == "maximize", grid, command)
    sweep.combos = [
        dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    return sweep


def run_args(sweep: Sweep, combo: dict[str, Any], extra: list[str]) -> list[str]:
    """The ``fer-lightning`` arguments of one run: the command after its program, ``${args}``
    expanded, then ``extra``."""
    start = sweep.command.index("fit")
    out: list[str] = []
    for token in sweep.command[start:]:
        if token == "${args}":
            out += [f"--{k}={_cli_value(v)}" for k, v in combo.items()]
        elif token.startswith("${"):
            continue  # ${env}, ${interpreter}, ${program}: W&B's, not ours
        else:
            out.append(token)
    return out + extra


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def short_value(value: Any) -> str:
    """A parameter value for a label: the class of a dotted path (``torch.optim.Adam`` ->
    ``Adam``), a number as written (``0.01``, never cut at its decimal point)."""
    text = _cli_value(value)
    if isinstance(value, str) and _number(value) is None:
        return text.rsplit(".", 1)[-1]
    return text


def _label(combo: dict[str, Any]) -> str:
    return ",".join(f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in combo.items())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _history(run_dir: Path, metric: str) -> list[float]:
    """``metric`` at each epoch that logged it (``metrics.csv``), NaN left out."""
    path = Path(run_dir) / run_layout.METRICS_CSV
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        values = [_number(row.get(metric)) for row in csv.DictReader(fh)]
    return [v for v in values if v is not None and v == v]


def row_of(sweep: Sweep, combo: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One line of the table, read from the files of a finished run (so a resumed sweep's
    earlier runs and its new ones are tabulated alike). The metric is its best epoch's: the
    one the checkpoint was chosen on when the checkpoint monitors that metric."""
    path = Path(run_dir) / run_layout.SUMMARY_JSON
    summary = json.loads(path.read_text()) if path.is_file() else {}  # test_after_fit=false
    history = _history(run_dir, sweep.metric)
    row: dict[str, Any] = dict(combo)
    row[sweep.metric] = (max if sweep.maximize else min)(history) if history else None
    row["test/acc"] = summary.get("test_accuracy")
    row["epochs"] = summary.get("epochs") or len(history) or None
    row["fit_seconds"] = run_record.fit_seconds(run_dir)
    row["run_dir"] = str(run_dir)
    return row


def _record(out_dir: Path, sweep_file: Path, extra: list[str]) -> None:
    """What ``--resume`` needs to continue the sweep: its file and its extra arguments."""
    shutil.copyfile(sweep_file, out_dir / run_layout.SWEEP_YAML)
    record = {"file": str(sweep_file), "extra": extra}
    (out_dir / run_layout.SWEEP_JSON).write_text(json.dumps(record) + "\n")
    run_record.record_command(out_dir, ["sweep", str(sweep_file), *extra])


def _forget(out_dir: Path) -> None:
    """Remove the record of a sweep whose first run left nothing (refused: bad input; stopped
    before its first step): then the sweep directory goes too."""
    record = {run_layout.SWEEP_YAML, run_layout.SWEEP_JSON, run_layout.COMMAND_TXT}
    if {p.name for p in out_dir.iterdir()} <= record:
        for name in record:
            (out_dir / name).unlink(missing_ok=True)


def recorded(out_dir: Path) -> tuple[Sweep, list[str]]:
    """The sweep file and extra arguments an earlier ``fer-lightning sweep`` recorded in
    ``out_dir``."""
    if not out_dir.is_dir():
        raise FERUserError(f"--resume {out_dir}: no such sweep directory")
    record = out_dir / run_layout.SWEEP_JSON
    if not record.is_file() or not (out_dir / run_layout.SWEEP_YAML).is_file():
        raise FERUserError(
            f"--resume {out_dir}: not a sweep directory (it has no {run_layout.SWEEP_JSON} and "
            f"{run_layout.SWEEP_YAML}; sweeps record them from this version on)"
        )
    extra = json.loads(record.read_text()).get("extra") or []
    return load_sweep(out_dir / run_layout.SWEEP_YAML), [str(a) for a in extra]


def _finished(sweep: Sweep, out_dir: Path) -> dict[str, dict[str, Any]]:
    """The rows of ``results.csv`` of an earlier part of the sweep, by run directory name."""
    path = out_dir / run_layout.RESULTS_CSV
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {Path(row["run_dir"]).name: row for row in csv.DictReader(fh)}


def run_sweep(
    sweep: Sweep, extra: list[str], out_dir: Path, resume: bool = False
) -> list[dict[str, Any]]:
    """Run every combination (one after the other, in this process) and write the tables.

    With ``resume``, the runs ``results.csv`` already lists are kept, an interrupted run
    continues from its ``last.ckpt`` (exactly, as ``--ckpt_path`` does for any run), and one
    that left no checkpoint starts again."""
    from fer_lightning.cli import run_cli

    done = _finished(sweep, out_dir) if resume else {}
    rows: list[dict[str, Any]] = []
    for i, combo in enumerate(sweep.combos):
        label = _label(combo)
        run_dir = run_layout.sweep_run_dir(out_dir, i, label)
        if run_dir.name in done:  # its files, or its line when they were removed since
            rows.append(row_of(sweep, combo, run_dir) if run_dir.is_dir() else done[run_dir.name])
            continue
        last = run_layout.last_checkpoint(run_dir)
        if run_dir.exists() and last.is_file():
            where = [f"--ckpt_path={last}"]  # resumes in its own directory
            log.info(
                "sweep %s: run %d/%d %s resumes from %s",
                sweep.name,
                i + 1,
                len(sweep.combos),
                label,
                last,
            )
        else:
            if run_dir.exists():  # stopped before its first checkpoint: nothing to keep
                shutil.rmtree(run_dir)
            where = [f"--run_dir={run_dir}"]
            log.info("sweep %s: run %d/%d %s", sweep.name, i + 1, len(sweep.combos), label)
        run_cli(run_args(sweep, combo, [*extra, *where]))
        rows.append(row_of(sweep, combo, run_dir))
        write_tables(sweep, rows, out_dir)  # after every run: partial results survive a crash
    write_tables(sweep, rows, out_dir)
    return rows


def _sorted(sweep: Sweep, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> float:
        value = row.get(sweep.metric)
        if value is None or value != value:  # missing or NaN last
            return float("inf")
        return -value if sweep.maximize else value

    return sorted(rows, key=key)


def write_tables(sweep: Sweep, rows: list[dict[str, Any]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _sorted(sweep, rows)
    columns = list(rows[0])
    with (out_dir / run_layout.RESULTS_CSV).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    goal = "highest" if sweep.maximize else "lowest"
    lines = [
        f"# Sweep {sweep.name}: {len(rows)} of {len(sweep.combos)} runs, "
        f"{goal} {sweep.metric} first",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    (out_dir / run_layout.RESULTS_MD).write_text("\n".join(lines) + "\n")


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
    if args.dry_run:
        for combo in sweep.combos:
            print("fer-lightning " + " ".join(run_args(sweep, combo, extra)))
        return 0
    if args.resume is not None:
        out_dir = args.resume
        rows = run_sweep(sweep, extra, out_dir, resume=True)
    else:
        with run_layout.sweep_dir(sweep.name) as out_dir:
            _record(out_dir, args.sweep, extra)
            try:
                rows = run_sweep(sweep, extra, out_dir)
            except BaseException:
                _forget(out_dir)  # only when no run has left anything
                raise
    table = out_dir / run_layout.RESULTS_MD
    print(table.read_text(), end="")
    print(f"results: {table} and {run_layout.RESULTS_CSV} ({len(rows)} runs)")
    return 0
