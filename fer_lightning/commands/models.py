"""``fer-lightning models``: the model zoo, every published result whose weights are kept.

Lists each zoo model's name (what ``test --ckpt_path``, ``recognize --ckpt``, ``export``,
``explain``, ``robustness``, ``ensemble`` and fine-tuning take), dataset, classes, test accuracy
on the paper's split and without the test images copied from training, and the weights' size.
``--write`` regenerates the records (``model.json``) from the weights and the results.
"""

from __future__ import annotations

import argparse
import json

from fer_lightning import zoo


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning models",
        description="List the model zoo: published results whose weights are kept in "
        "results/, by the name the other commands take.",
    )
    parser.add_argument("name", nargs="?", help="print this model's record (JSON)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="regenerate every model.json from the weights, summary.json and calibration.json",
    )
    args = parser.parse_args(argv)
    if args.write:
        for path in zoo.write_records():
            print(f"wrote {path}")
    if args.name:
        model = zoo.get(args.name)
        print(json.dumps(model.record, indent=1))
        return 0
    print(zoo.listing(), end="")
    total = sum(p.stat().st_size for p in zoo.ZOO_DIR.rglob("*") if p.is_file())
    print(
        f"\nresults/ holds {total / 1e6:.1f} MB of the {zoo.BUDGET_BYTES / 1e6:.0f} MB budget; "
        f"the default model (recognize, export) is "
        f"{zoo.default().name if zoo.default() else 'the shipped bundle'}"
    )
    return 0
