"""Published sweeps: ``results/<experiment>/<name>/`` holding a sweep's ``results.csv``, its
``sweep.yaml`` and one folder per run (see :mod:`fer_lightning.results.publish`).

A sweep of two parameters (optimizer x learning rate) is shown as a grid, one cell per run:
the validation metric the sweep ranks by, and the test accuracy of the checkpoint chosen on
it. The combination a user would pick is the best on validation, never on test. Every number
comes from the sweep's ``results.csv``, which the sweep wrote from its runs' files; a test checks
that each line agrees with its run's ``summary.json`` and ``metrics.csv``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_lightning import hardware, run_layout, run_record
from fer_lightning.commands.sweep import Sweep, load_sweep, short_value
from fer_lightning.evaluation.summary import format_duration
from fer_lightning.results.markdown import markdown_row, pct
from fer_lightning.results.papers import RESULTS


@dataclass
class SweepResult:
    """One published sweep."""

    experiment: str
    path: Path
    sweep: Sweep
    #: ``results.csv``, best first, as the sweep wrote it.
    rows: list[dict[str, str]]
    #: The extra arguments every run was given (``sweep.json``).
    extra: list[str]

    def run(self, row: dict[str, str]) -> Path:
        """The published folder of the run of ``row``."""
        return self.path / Path(row["run_dir"]).name

    def summaries(self) -> list[dict[str, Any]]:
        return [json.loads((self.run(r) / run_layout.SUMMARY_JSON).read_text()) for r in self.rows]


def load_sweeps(root: Path) -> list[SweepResult]:
    """Every published sweep under ``root`` (``<experiment>/<name>/``), in path order."""
    found = []
    for entry in sorted(Path(root).glob("*/*")):
        table, spec = entry / run_layout.RESULTS_CSV, entry / run_layout.SWEEP_YAML
        if not (table.is_file() and spec.is_file()):
            continue
        with table.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        record = entry / run_layout.SWEEP_JSON
        extra = json.loads(record.read_text()).get("extra", []) if record.is_file() else []
        found.append(SweepResult(entry.parent.name, entry, load_sweep(spec), rows, extra))
    return found


def _pct(text: str | None) -> str:
    """A ``results.csv`` accuracy (empty when the run recorded none)."""
    return pct(float(text)) if text not in (None, "") else "—"


def _cell(result: SweepResult, row: dict[str, str], best: bool) -> str:
    metric = result.sweep.metric
    shown = _pct(row.get(metric)) if "acc" in metric else (row.get(metric) or "—")
    shown = f"**{shown}**" if best else shown
    return f"{shown} / {_pct(row.get('test/acc'))}"


def describe(result: SweepResult) -> str:
    """Runs, epochs, total training time, machine and the extra arguments, from the runs."""
    summaries = result.summaries()
    epochs = sorted({s.get("epochs") for s in summaries}, key=str)
    walls = [run_record.fit_seconds(result.run(r)) for r in result.rows]
    wall = sum(w for w in walls if w is not None)
    first = summaries[0]
    extra = f" with `{' '.join(result.extra)}`" if result.extra else ""
    return (
        f"{len(result.rows)} of {len(result.sweep.combos)} runs{extra}, "
        f"{'/'.join(str(e) for e in epochs)} epochs each, {format_duration(wall)} of training "
        f"in all on {hardware.short(first.get('hardware'))}, {first.get('precision') or 'n/a'}"
    )


def chosen(result: SweepResult) -> str:
    """The best run on the sweep's metric (the first line of ``results.csv``) and its test
    accuracy."""
    best = result.rows[0]
    picked = ", ".join(f"{n} {short_value(best[n])}" for n in result.sweep.parameters)
    return f"{picked}; its test accuracy {_pct(best['test/acc'])}"


def sweep_table(result: SweepResult) -> str:
    """The sweep as a grid (two parameters) or a list, best on validation in bold."""
    sweep, rows = result.sweep, result.rows
    metric = sweep.metric
    best = rows[0] if rows and rows[0].get(metric) not in (None, "") else None
    lines = [
        f"Sweep `{sweep.name}` of `{result.experiment}` "
        f"(`{result.path.as_posix()}`): {describe(result)}. Each cell: best {metric} "
        "(what the sweep ranks by) / test accuracy of the checkpoint chosen on it.",
        "",
    ]
    names = list(sweep.parameters)
    if len(names) == 2:
        first, second = names
        by_combo = {(r[first], r[second]): r for r in rows}
        columns = [short_value(v) for v in sweep.parameters[second]]
        lines.append(markdown_row([f"{first} \\ {second}", *columns]))
        lines.append(markdown_row(["---"] + ["---:"] * len(sweep.parameters[second])))
        for a in sweep.parameters[first]:
            cells = [short_value(a)]
            for b in sweep.parameters[second]:
                row = by_combo.get((str(a), str(b)))
                cells.append(_cell(result, row, row is best) if row else "not run")
            lines.append(markdown_row(cells))
    else:
        lines.append(markdown_row([*names, f"{metric} / test"]))
        lines.append(markdown_row(["---"] * len(names) + ["---:"]))
        for row in rows:
            cells = [short_value(row[n]) for n in names]
            lines.append(markdown_row([*cells, _cell(result, row, row is best)]))
    notes = [f"Chosen on {metric}: {chosen(result)}."] if best is not None else []
    if (ref := RESULTS.get(result.experiment)) and ref.sweep_best:
        notes.append(f"The paper's best: {ref.sweep_best} ({ref.accuracy:.2f} % test).")
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines)


def readme_line(result: SweepResult) -> str:
    """One line for the README: what was swept, and what validation chose."""
    names = " x ".join(result.sweep.parameters)
    return (
        f"Sweep `{result.sweep.name}` of `{result.experiment}` ({names}; {describe(result)}): "
        f"chosen on {result.sweep.metric}: {chosen(result)}."
    )
