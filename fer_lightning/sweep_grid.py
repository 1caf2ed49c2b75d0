"""A grid sweep: its file (a W&B sweep configuration), its directory and its table.

The sweep file (``method: grid``, ``metric``, ``parameters``, ``command`` with ``${args}``) drives
``wandb sweep`` when online; here every combination of the ``parameters`` values becomes one
``fer-lightning fit`` run, the command's arguments with ``${args}`` replaced by
``--<name>=<value>`` for each parameter (as W&B does), then the extra arguments. A sweep
directory (``runs/sweeps/<name>/<stamp>/``, see :mod:`fer_lightning.run.layout`) holds one run
directory per combination, ``results.csv`` / ``results.md`` (one line per finished run, read from
its files, best first) and the sweep's file and extra arguments (``sweep.yaml``,
``sweep.json``). :mod:`fer_lightning.commands.sweep` runs it; publishing and the results tables
read it back through this module. Light: no torch.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fer_lightning.errors import FERUserError
from fer_lightning.run import layout, record


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


def run_args(
    sweep: Sweep, combo: dict[str, Any], extra: list[str], subcommand: str = "fit"
) -> list[str]:
    """The ``fer-lightning`` arguments of one run: the command after its program, ``${args}``
    expanded, then ``extra``; ``subcommand`` replaces ``fit`` (``test``: the run's test)."""
    start = sweep.command.index("fit")
    out: list[str] = [subcommand]
    for token in sweep.command[start + 1 :]:
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


def label(combo: dict[str, Any]) -> str:
    return ",".join(f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in combo.items())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _history(run_dir: Path, metric: str) -> list[float]:
    """``metric`` at each epoch that logged it (``metrics.csv``), NaN left out."""
    path = Path(run_dir) / layout.METRICS_CSV
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        values = [_number(row.get(metric)) for row in csv.DictReader(fh)]
    return [v for v in values if v is not None and v == v]


def _check_logged(run_dir: Path, metric: str) -> None:
    """Refuse a sweep metric the run never logged (a typo would leave every line blank)."""
    path = Path(run_dir) / layout.METRICS_CSV
    if not path.is_file():
        return
    with path.open(newline="") as fh:
        columns = next(csv.reader(fh), [])
    if metric not in columns:
        logged = ", ".join(c for c in columns if c.startswith("val/") and c.count("/") == 1)
        raise FERUserError(
            f"{path}: the sweep's metric '{metric}' was never logged (validation logs: "
            f"{logged or 'none'})"
        )


def row_of(sweep: Sweep, combo: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One line of the table, read from the files of a finished run (so a resumed sweep's
    earlier runs and its new ones are tabulated alike). The metric is its best epoch's: the
    one the checkpoint was chosen on when the checkpoint monitors that metric."""
    path = Path(run_dir) / layout.SUMMARY_JSON
    summary = json.loads(path.read_text()) if path.is_file() else {}  # test_after_fit=false
    diverged = (Path(run_dir) / layout.DIVERGED_TXT).is_file()
    if not diverged:  # a run that diverged before its first validation logged nothing
        _check_logged(run_dir, sweep.metric)
    history = _history(run_dir, sweep.metric)
    row: dict[str, Any] = dict(combo)
    row[sweep.metric] = (max if sweep.maximize else min)(history) if history else None
    row["test/acc"] = summary.get("test_accuracy")
    row["epochs"] = summary.get("epochs") or len(history) or None
    row["fit_seconds"] = record.fit_seconds(run_dir)
    row["stopped"] = "diverged" if diverged else ""
    row["run_dir"] = str(run_dir)
    return row


def read_rows(sweep_dir: Path) -> list[dict[str, str]]:
    """The lines of a sweep directory's ``results.csv``, best first (empty when none)."""
    path = Path(sweep_dir) / layout.RESULTS_CSV
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def run_of(sweep_dir: Path, row: dict[str, str]) -> Path:
    """The run directory of a ``results.csv`` line inside ``sweep_dir`` (wherever the sweep
    directory has been copied since: the line names the original path)."""
    return Path(sweep_dir) / Path(row["run_dir"]).name


def recorded(out_dir: Path) -> tuple[Sweep, list[str]]:
    """The sweep file and extra arguments an earlier ``fer-lightning sweep`` recorded in
    ``out_dir``."""
    if not out_dir.is_dir():
        raise FERUserError(f"--resume {out_dir}: no such sweep directory")
    saved = out_dir / layout.SWEEP_JSON
    if not saved.is_file() or not (out_dir / layout.SWEEP_YAML).is_file():
        raise FERUserError(
            f"--resume {out_dir}: not a sweep directory (it has no {layout.SWEEP_JSON} and "
            f"{layout.SWEEP_YAML}; sweeps record them from this version on)"
        )
    try:
        extra = json.loads(saved.read_text()).get("extra") or []
    except (ValueError, AttributeError):
        extra = None
    if not isinstance(extra, list):
        raise FERUserError(f"{saved}: expected JSON with an 'extra' list of arguments")
    return load_sweep(out_dir / layout.SWEEP_YAML), [str(a) for a in extra]


def _sorted(sweep: Sweep, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> float:
        value = row.get(sweep.metric)
        if value is None or value != value or row.get("stopped"):  # missing, NaN, diverged last
            return float("inf")
        return -value if sweep.maximize else value

    return sorted(rows, key=key)


def write_tables(sweep: Sweep, rows: list[dict[str, Any]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _sorted(sweep, rows)
    columns = list(rows[0])
    partial = out_dir / f"{layout.RESULTS_CSV}.partial"
    with partial.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, out_dir / layout.RESULTS_CSV)  # never a half-written table

    def cell(column: str, value: Any) -> str:
        if column in sweep.parameters:  # as the sweep file writes it (lr 1e-05, not 0.0000)
            return _cli_value(value)
        if isinstance(value, float):  # seconds to a tenth, metrics to 4 places
            return f"{value:.1f}" if column == "fit_seconds" else f"{value:.4f}"
        return "" if value is None else str(value)

    goal = "highest" if sweep.maximize else "lowest"
    lines = [
        f"# Sweep {sweep.name}: {len(rows)} of {len(sweep.combos)} runs, "
        f"{goal} {sweep.metric} first",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in columns) + " |" for row in rows]
    partial = out_dir / f"{layout.RESULTS_MD}.partial"
    partial.write_text("\n".join(lines) + "\n")
    os.replace(partial, out_dir / layout.RESULTS_MD)
