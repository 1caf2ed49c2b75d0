"""``fer-lightning audit <dataset>``: class counts, blank images and exact duplicates."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fer_lightning.data import registry
from fer_lightning.data.audit import audit_dataset, markdown
from fer_lightning.data.pixels import BLANK_STD
from fer_lightning.errors import FERUserError
from fer_lightning.paths import data_root


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning audit",
        description="Audit a dataset: images per class and split, blank / near-constant "
        "images, exact duplicates (by decoded pixels) within and across splits, duplicates "
        "whose labels disagree, image sizes and modes. Prints a markdown summary.",
    )
    parser.add_argument("dataset", choices=registry.names())
    parser.add_argument(
        "--root", default=None, help="data root holding <dataset>/ (default $FER_DATA_DIR)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the full report as JSON here, and the summary next to it as .md",
    )
    parser.add_argument(
        "--blank-std",
        type=float,
        default=BLANK_STD,
        help=f"pixel std below which an image is near-constant (default {BLANK_STD})",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = audit_dataset(args.dataset, data_root(args.root), args.blank_std)
    report["seconds"] = round(time.perf_counter() - start, 2)
    summary = markdown(report)
    print(summary, end="")
    if args.out is not None:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1) + "\n")
            args.out.with_suffix(".md").write_text(summary)
        except OSError as err:
            raise FERUserError(f"--out {args.out}: cannot write the report ({err})") from None
        print(f"report: {args.out} and {args.out.with_suffix('.md')}")
    return 0
