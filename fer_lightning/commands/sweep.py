"""``fer-lightning sweep SWEEP.yaml [extra fit args]``: a grid of normal runs, one results table.

The sweep file is a W&B sweep configuration (``method: grid``, ``metric``, ``parameters``,
``command``), so the same file drives ``wandb sweep`` when online. Here every combination of the
``parameters`` values becomes one ``fer-lightning fit`` run, the command's arguments with
``${args}`` replaced by ``--<name>=<value>`` for each parameter (as W&B does), then the extra
arguments. Each run is an ordinary run of the experiment (own directory, checkpoints, logs);
the table of all of them goes to ``runs/sweeps/<sweep name>/<timestamp>/results.{md,csv}``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fer_lightning import run_layout
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


def _label(combo: dict[str, Any]) -> str:
    parts = []
    for k, v in combo.items():
        short = str(v).rsplit(".", 1)[-1]
        parts.append(f"{k.rsplit('.', 1)[-1]}={short}")
    return ",".join(parts)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_sweep(sweep: Sweep, extra: list[str], out_dir: Path) -> list[dict[str, Any]]:
    """Run every combination (one after the other, in this process) and write the tables."""
    from fer_lightning.cli import run_cli

    rows: list[dict[str, Any]] = []
    for i, combo in enumerate(sweep.combos):
        run_dir = run_layout.sweep_run_dir(out_dir, i, _label(combo))
        args = run_args(sweep, combo, [*extra, f"--run_dir={run_dir}"])
        log.info("sweep %s: run %d/%d %s", sweep.name, i + 1, len(sweep.combos), _label(combo))
        start = time.perf_counter()
        cli = run_cli(args)
        seconds = time.perf_counter() - start
        trainer = cli.trainer
        metrics = {k: _number(v) for k, v in trainer.callback_metrics.items()}
        best = next(
            (cb.best_model_score for cb in trainer.checkpoint_callbacks if cb.monitor), None
        )
        row: dict[str, Any] = dict(combo)
        row[sweep.metric] = metrics.get(sweep.metric)
        if best is not None and trainer.checkpoint_callback.monitor == sweep.metric:
            row[sweep.metric] = float(best)  # the best epoch, not the last
        row["test/acc"] = metrics.get("test/acc")
        row["epochs"] = trainer.current_epoch
        row["stopped"] = "interrupted" if trainer.interrupted else ""
        row["seconds"] = round(seconds, 1)
        row["run_dir"] = str(run_dir)
        rows.append(row)
        write_tables(sweep, rows, out_dir)  # after every run: partial results survive a crash
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
    parser.add_argument("sweep", type=Path, help="sweep YAML, e.g. experiments/sweeps/x.yaml")
    parser.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help="print the runs' arguments only",
    )
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    sweep = load_sweep(args.sweep)
    if args.dry_run:
        for combo in sweep.combos:
            print("fer-lightning " + " ".join(run_args(sweep, combo, extra)))
        return 0
    with run_layout.sweep_dir(sweep.name) as out_dir:
        rows = run_sweep(sweep, extra, out_dir)
    table = out_dir / run_layout.RESULTS_MD
    print(table.read_text(), end="")
    print(f"results: {table} and {run_layout.RESULTS_CSV} ({len(rows)} runs)")
    return 0
