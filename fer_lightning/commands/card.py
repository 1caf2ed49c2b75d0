"""``fer-lightning card NAME`` (or ``--all``): write a zoo model's card, MODEL_CARD.md.

The card (:mod:`fer_lightning.results.card`) is generated from the model's result folder only:
intended use and limits, data and protocol, both accuracies (the paper's protocol and without
the test images copied from training), per-class precision / recall / F1 and the confusion
matrix, calibration (ECE, the temperature of ``fer-lightning calibrate``), cross-dataset tests
of the same checkpoint and robustness (``robustness.json`` of ``fer-lightning robustness``).
``recognize --about`` prints it in short.
"""

from __future__ import annotations

import argparse

from fer_lightning import zoo
from fer_lightning.errors import FERUserError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning card",
        description="Write MODEL_CARD.md into the result folder of zoo models, from the "
        "folder's files (summary, report, confusion matrix, calibration, robustness).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="zoo model name(s)")
    parser.add_argument("--all", action="store_true", help="every zoo model")
    parser.add_argument(
        "--print", action="store_true", help="print the card(s) instead of writing them"
    )
    args = parser.parse_args(argv)
    if args.all == bool(args.names):
        raise FERUserError(
            "name one or more zoo models or give --all; zoo models: "
            f"{', '.join(zoo.models()) or 'none'}"
        )
    from fer_lightning.results import card

    names = list(zoo.models()) if args.all else list(dict.fromkeys(args.names))
    chosen = [zoo.get(name) for name in names]  # every name checked before anything is written
    for model in chosen:
        if args.print:
            print(card.markdown(model))
        else:
            print(f"wrote {card.write(model)}")
    if args.all and not args.print:
        # a result whose weights left the zoo is no model: its card would describe missing weights
        kept = {model.folder.resolve() for model in chosen}
        for stale in sorted(zoo.ZOO_DIR.rglob(card.FILENAME)):
            if stale.parent.resolve() not in kept:
                stale.unlink()
                print(f"removed {stale} (its result is no longer a zoo model)")
    return 0
