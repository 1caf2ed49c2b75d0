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
from functools import cached_property
from pathlib import Path
from typing import Any

from fer_lightning import experiments, hardware
from fer_lightning.errors import FERUserError
from fer_lightning.results.markdown import markdown_row, pct, training_time
from fer_lightning.results.papers import RESULTS
from fer_lightning.results.verify import verified_summary, verified_sweep_row
from fer_lightning.run import layout
from fer_lightning.sweep_grid import Sweep, label, load_sweep, read_rows, run_of, short_value


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
        return run_of(self.path, row)

    @cached_property
    def _combos(self) -> dict[str, dict[str, Any]]:
        """Run directory name -> the combination of the sweep file it ran."""
        return {
            layout.sweep_run_dir(Path(), i, label(combo)).name: combo
            for i, combo in enumerate(self.sweep.combos)
        }

    def combo(self, row: dict[str, str]) -> dict[str, Any]:
        """The typed values of the sweep file for the run of ``row`` (``results.csv`` holds
        their text: ``True``, ``""`` for None)."""
        found = self._combos.get(Path(row["run_dir"]).name)
        return found if found is not None else {k: row.get(k) for k in self.sweep.parameters}

    @cached_property
    def summaries(self) -> list[dict[str, Any]]:
        """The runs' ``summary.json`` (a diverged run has none)."""
        summaries = []
        for row in self.rows:
            run = self.run(row)
            verified_sweep_row(self.path / layout.RESULTS_CSV, run, row)
            if (run / layout.SUMMARY_JSON).is_file():
                summaries.append(verified_summary(run))
        return summaries

    @property
    def is_accuracy(self) -> bool:
        """Whether the sweep's metric is an accuracy (a fraction: shown as a percentage)."""
        return self.sweep.metric.endswith("acc")


def load_sweeps(root: Path) -> list[SweepResult]:
    """Every published sweep under ``root`` (``<experiment>/<name>/``), in path order."""
    found = []
    for entry in sorted(Path(root).glob("*/*")):
        spec = entry / layout.SWEEP_YAML
        if not ((entry / layout.RESULTS_CSV).is_file() and spec.is_file()):
            continue
        rows = read_rows(entry)
        record = entry / layout.SWEEP_JSON
        extra = json.loads(record.read_text()).get("extra", []) if record.is_file() else []
        found.append(SweepResult(entry.parent.name, entry, load_sweep(spec), rows, extra))
    return found


def _pct(text: str | None) -> str:
    """A ``results.csv`` accuracy (empty when the run recorded none)."""
    return pct(float(text)) if text not in (None, "") else "—"


def _metric(result: SweepResult, row: dict[str, str]) -> str:
    """The sweep's metric of a line: a percentage for an accuracy, else four decimals."""
    text = row.get(result.sweep.metric)
    if text in (None, ""):
        return "—"
    return _pct(text) if result.is_accuracy else f"{float(text):.4f}"


def _matrix(run: Path, stage: str) -> list[list[int]] | None:
    """A run's confusion matrix (rows true, columns predicted) as written at its last
    ``stage`` ("val", "test") epoch; None when the run has none."""
    path = layout.confusion_csv(run, stage)
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        return [[int(float(v)) for v in line[1:]] for line in list(csv.reader(fh))[1:]]


def _one_class(result: SweepResult, row: dict[str, str]) -> bool:
    """Whether the run's kept checkpoint predicted a single class for every test image (a
    collapsed run: its accuracy is the share of that class)."""
    matrix = _matrix(result.run(row), "test")
    return matrix is not None and sum(any(col) for col in zip(*matrix, strict=True)) == 1


def _cell(result: SweepResult, row: dict[str, str], best: bool) -> str:
    if row.get("stopped"):
        return f"{row['stopped']} ({_metric(result, row)} before)"
    shown = _metric(result, row)
    shown = f"**{shown}**" if best else shown
    collapsed = " (one class)" if _one_class(result, row) else ""
    return f"{shown} / {_pct(row.get('test/acc'))}{collapsed}"


def _close_to_best(result: SweepResult) -> str:
    """The runs within one standard error of the chosen one's validation accuracy (a binomial
    error on the validation images): a ranking inside it is noise. Only for an accuracy."""
    rows, metric = result.rows, result.sweep.metric
    if not result.is_accuracy or not rows or rows[0].get(metric) in (None, ""):
        return ""
    matrix = _matrix(result.run(rows[0]), "val")
    n = sum(map(sum, matrix)) if matrix else 0
    if not n:
        return ""
    best = float(rows[0][metric])
    se = (best * (1 - best) / n) ** 0.5
    close = [
        r
        for r in rows[1:]
        if not r.get("stopped")
        and r.get(metric) not in (None, "")
        and float(r[metric]) >= best - se
    ]
    names = "; ".join(
        ", ".join(f"{k} {short_value(v)}" for k, v in result.combo(r).items())
        + f" ({_pct(r[metric])})"
        for r in close
    )
    within = f"within it: {names}" if close else "no other run is within it"
    return f"One standard error of {metric} on its {n:,} images: {100 * se:.2f} points; {within}."


def _short_runs(result: SweepResult) -> str:
    """Say so when the runs trained fewer epochs than the experiment does."""
    epochs = max((int(s["epochs"]) for s in result.summaries if s.get("epochs")), default=0)
    try:
        config = experiments.load_config(experiments.resolve(result.experiment))
    except FERUserError:
        return ""
    full = (config.get("trainer") or {}).get("max_epochs")
    if not isinstance(full, int) or not epochs or epochs >= full:
        return ""
    return (
        f"The runs trained {epochs} of the experiment's {full} epochs: the grid ranks early "
        "progress, not the accuracy each setting ends with."
    )


def describe(result: SweepResult) -> str:
    """Runs, epochs, total training time, machine and the extra arguments, from the runs."""
    summaries = result.summaries
    epochs = sorted({int(s["epochs"]) for s in summaries if s.get("epochs") is not None})
    span = (
        "?" if not epochs else str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    )
    first = summaries[0] if summaries else {}
    extra = f" with `{' '.join(result.extra)}`" if result.extra else ""
    partial = any(s.get("partial_test") for s in summaries)
    partial_note = ", tested on part of the test set" if partial else ""
    trained = training_time([result.run(r) for r in result.rows], " of training in all")
    return (
        f"{len(result.rows)} of {len(result.sweep.combos)} runs{extra}, "
        f"{span} epoch{'' if span == '1' else 's'} each, on "
        f"{hardware.short(first.get('hardware'))}, {first.get('precision') or 'n/a'}: {trained}"
        f"{partial_note}"
    )


def chosen(result: SweepResult) -> str:
    """The best run on the sweep's metric (the first line of ``results.csv``) and its test
    accuracy."""
    best = result.rows[0]
    if best.get(result.sweep.metric) in (None, ""):
        return f"none (no run logged {result.sweep.metric})"
    if best.get("stopped"):  # sorted last: every run stopped so
        return f"none (every run {best['stopped']})"
    combo = result.combo(best)
    picked = ", ".join(f"{n} {short_value(v)}" for n, v in combo.items())
    return f"{picked}; its test accuracy {_pct(best['test/acc'])}"


def sweep_table(result: SweepResult) -> str:
    """The sweep as a grid (two parameters) or a list, best on validation in bold."""
    sweep, rows = result.sweep, result.rows
    metric = sweep.metric
    best = rows[0] if rows and rows[0].get(metric) not in (None, "") else None
    lines = [
        f"Sweep `{sweep.name}` of `{result.experiment}` "
        f"(`{result.path.as_posix()}`): {describe(result)}. Each cell: the run's best {metric} "
        "over its epochs (what the sweep ranks by) / the test accuracy of the checkpoint it kept "
        "(chosen on its validation, as its summary.json says).",
        "",
    ]
    names = list(sweep.parameters)
    if len(names) == 2:
        first, second = names
        typed = [(result.combo(r), r) for r in rows]
        by_combo = {(repr(c[first]), repr(c[second])): r for c, r in typed}
        columns = [short_value(v) for v in sweep.parameters[second]]
        lines.append(markdown_row([f"{first} \\ {second}", *columns]))
        lines.append(markdown_row(["---"] + ["---:"] * len(sweep.parameters[second])))
        for a in sweep.parameters[first]:
            cells = [short_value(a)]
            for b in sweep.parameters[second]:
                row = by_combo.get((repr(a), repr(b)))
                cells.append(_cell(result, row, row is best) if row else "not run")
            lines.append(markdown_row(cells))
    else:
        lines.append(markdown_row([*names, f"{metric} / test"]))
        lines.append(markdown_row(["---"] * len(names) + ["---:"]))
        for row in rows:
            combo = result.combo(row)
            cells = [short_value(combo[n]) for n in names]
            lines.append(markdown_row([*cells, _cell(result, row, row is best)]))
    notes = [f"Chosen on {metric}: {chosen(result)}.", _close_to_best(result)]
    if (ref := RESULTS.get(result.experiment)) and ref.sweep_best:
        notes.append(f"The paper's best: {ref.sweep_best} ({ref.accuracy:.2f} % test).")
    notes.append(_short_runs(result))
    notes = [n for n in notes if n]
    lines += ["", " ".join(notes)]
    return "\n".join(lines)


def readme_line(result: SweepResult) -> str:
    """One line for the README: what was swept, and what validation chose."""
    names = " x ".join(result.sweep.parameters)
    return (
        f"Sweep `{result.sweep.name}` of `{result.experiment}` ({names}; {describe(result)}): "
        f"chosen on {result.sweep.metric}: {chosen(result)}."
    )
