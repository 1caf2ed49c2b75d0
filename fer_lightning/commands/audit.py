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


def _copies_figure(dataset: str, root: Path, out: Path) -> None:
    from fer_lightning.data import copies
    from fer_lightning.evaluation.plots import save

    splits = list(registry.get(dataset)(data_dir=str(root)).listing().splits.values())
    if len(splits) < 2:
        raise FERUserError(f"{dataset} has one split: no copies between splits to draw")
    reference, test = splits[0].images, splits[-1].images
    save(copies.pairs_figure(test, reference, copies.find_copies(reference, test)), out)


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
    parser.add_argument(
        "--copies-figure",
        type=Path,
        default=None,
        help="draw sample pairs of near copies (the last split's images beside their nearest "
        "image of the first split, at hash distances 2, 4 and 6) into this PNG",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = audit_dataset(args.dataset, data_root(args.root), args.blank_std)
    report["seconds"] = round(time.perf_counter() - start, 2)
    if args.copies_figure is not None:
        _copies_figure(args.dataset, data_root(args.root), args.copies_figure)
        report["copies_figure"] = str(args.copies_figure)
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
