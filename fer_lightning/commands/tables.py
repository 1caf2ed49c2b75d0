"""``fer-lightning tables``: write the papers' and the experiments' tables.

One table per paper from ``results/`` into ``results/tables.md`` and README.md, and the
experiments, backbones and heads tables into docs/experiments.md (``--check``: fail instead when
one is stale)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.results import experiments_table
from fer_lightning.results.publish import RESULTS_DIR
from fer_lightning.results.tables import (
    BEGIN,
    END,
    TABLES_MD,
    render,
    render_readme,
    replace_block,
)


def _marked(path: Path, block: str, begin: str, end: str) -> str:
    """``path``'s text with ``block`` between its ``begin`` and ``end`` markers."""
    try:
        return replace_block(path.read_text(), block, begin, end)
    except ValueError as err:
        raise FERUserError(f"{path}: {err}") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning tables",
        description="Write one table per paper (paper's result beside ours) from results/ "
        "into results/tables.md and the marked block of README.md, and the experiments table "
        "(experiments/ and the backbone and head registries) into the marked block of "
        "docs/experiments.md.",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="default: results/")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument(
        "--experiments-doc",
        type=Path,
        default=experiments_table.EXPERIMENTS_MD,
        help="default: docs/experiments.md (skipped when absent)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a written table differs, change nothing"
    )
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        raise FERUserError(f"--results {args.results}: no such folder (published runs go there)")
    targets = {args.results / TABLES_MD: render(args.results)}
    if args.readme.is_file():
        targets[args.readme] = _marked(args.readme, render_readme(args.results), BEGIN, END)
    if args.experiments_doc.is_file():
        block = experiments_table.render()
        targets[args.experiments_doc] = _marked(
            args.experiments_doc, block, experiments_table.BEGIN, experiments_table.END
        )
    stale = [p for p, text in targets.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run 'make tables'")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path])
        print(f"wrote {path}")
    return 0
