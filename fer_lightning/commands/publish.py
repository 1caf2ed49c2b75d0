"""``fer-lightning publish RUN_DIR``: copy a finished run (or a ``cv`` directory) into
``results/<experiment>/<name>/`` for the tables; checkpoints stay behind."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_lightning.results.publish import RESULTS_DIR, publish


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning publish",
        description="Copy a run's config, command, report, metrics and pictures (no "
        "checkpoints) into results/<experiment>/<name>/, then run 'fer-lightning tables'.",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory or a cv directory")
    parser.add_argument("--name", help="folder under results/<experiment>/ (default: the run name)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="default: results/")
    args = parser.parse_args(argv)
    dest = publish(args.run_dir, args.name, args.results)
    print(f"published {args.run_dir} -> {dest}")
    return 0
