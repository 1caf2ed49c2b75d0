"""``fer-lightning calibrate NAME...``: fit a zoo model's temperature on its validation split.

For each zoo model named (``fer-lightning models`` lists them; ``--all``: every one), a
temperature ``T`` is fitted on the plain validation images of the model's own data (its result
folder's ``config.yaml``) by minimising their negative log-likelihood, and the test ECE of the
published predictions is measured before and after dividing the logits by ``T``
(:mod:`fer_lightning.evaluation.calibration`). Writes ``calibration.json`` into the model's
result folder; ``fer-lightning models --write`` then puts the temperature into its record,
and ``recognize`` uses it.
"""

from __future__ import annotations

import argparse
import json
import sys

from fer_lightning import zoo
from fer_lightning.errors import FERUserError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning calibrate",
        description="Fit the temperature of zoo models on their validation split and write "
        "calibration.json (temperature, validation NLL and test ECE before and after) into "
        "each model's result folder.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="zoo model name(s)")
    parser.add_argument("--all", action="store_true", help="every zoo model")
    parser.add_argument("--batch_size", type=int, default=256, help="images per forward pass")
    args = parser.parse_args(argv)
    if args.all == bool(args.names):
        raise FERUserError(
            "name one or more zoo models or give --all; zoo models: "
            f"{', '.join(zoo.models()) or 'none'}"
        )
    if args.batch_size < 1:
        raise FERUserError(f"--batch_size {args.batch_size}: give at least 1")
    names = list(zoo.models()) if args.all else list(dict.fromkeys(args.names))
    chosen = [zoo.get(name) for name in names]  # every name checked before any work

    from fer_lightning.evaluation.calibration import calibrate

    for model in chosen:
        print(f"{model.name}: fitting on the validation split of {model.config}", file=sys.stderr)
        result = {"model": model.name, **calibrate(model.weights, model.folder, args.batch_size)}
        path = model.folder / zoo.CALIBRATION
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        tmp.replace(path)
        print(
            f"{model.name}: T = {result['temperature']:.4f} ({result['fitted_on']}"
            f"{'' if result['used'] else '; not used: ' + result['why_not_used']}); "
            f"validation NLL {result['nll_before']:.4f} -> {result['nll_after']:.4f}; test ECE "
            f"{100 * result['ece_test_before']:.2f} % -> {100 * result['ece_test_after']:.2f} %"
            f"; wrote {path}"
        )
    print("run 'fer-lightning models --write' to put the temperatures into the zoo records")
    return 0
