"""``fer-lightning compare RUN_DIR...``: one markdown table across runs, best accuracy first."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_lightning.evaluation.compare import comparison_markdown, find_runs, load_rows
from fer_lightning.paths import refuse_overwriting


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning compare",
        description="Compare runs (their summary.json) in one markdown table sorted by test "
        "accuracy. A folder that is not itself a run (e.g. runs/) is searched for runs.",
    )
    parser.add_argument("runs", nargs="+", help="run directories or folders holding them")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    runs = find_runs(args.runs)
    if args.out:  # a run's own files are what the table is made from
        refuse_overwriting(args.out, [f for run in runs for f in Path(run).iterdir()], "--out")
    table = comparison_markdown(load_rows(runs))
    print(table, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    return 0
