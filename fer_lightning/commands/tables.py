"""``fer-lightning tables``: write the papers' tables from the published runs.

One table per paper from ``results/`` into ``results/tables.md`` and README.md (``--check``:
fail instead when either is stale)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.results.publish import RESULTS_DIR
from fer_lightning.results.tables import TABLES_MD, render, render_readme, replace_block


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning tables",
        description="Write one table per paper (paper's result beside ours) from results/ "
        "into results/tables.md and the marked block of README.md.",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="default: results/")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a written table differs, change nothing"
    )
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        raise FERUserError(f"--results {args.results}: no such folder (published runs go there)")
    tables = render(args.results)
    targets = {args.results / TABLES_MD: tables}
    if args.readme.is_file():
        try:
            targets[args.readme] = replace_block(
                args.readme.read_text(), render_readme(args.results)
            )
        except ValueError as err:
            raise FERUserError(f"{args.readme}: {err}") from None
    stale = [p for p, text in targets.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run 'make tables'")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path])
        print(f"wrote {path}")
    return 0
