"""``fer-lightning bundle RUN_DIR``: make a run's best checkpoint the model that ships with the
package (``fer_lightning/pretrained/fer2013.safetensors``), used by ``recognize`` and ``export``
when no ``--ckpt`` is given."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.inference.bundled import about, bundle, default_path
from fer_lightning.paths import refuse_overwriting
from fer_lightning.run.layout import best_checkpoint


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning bundle",
        description="Write a run's best checkpoint (chosen on validation) as a safetensors "
        "model with its class names, preprocessing and provenance (experiment, commit, test "
        "accuracy from the run's summary.json).",
    )
    parser.add_argument("run_dir", type=Path, help="a finished run directory with summary.json")
    parser.add_argument("--ckpt", type=Path, help="default: the run's checkpoints/best-*.ckpt")
    parser.add_argument("--out", type=Path, default=None, help=f"default: {default_path()}")
    parser.add_argument(
        "--half",
        action="store_true",
        help="store the weights in float16 (half the size; compare the predictions with the "
        "checkpoint's before publishing)",
    )
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        raise FERUserError(f"{args.run_dir}: no such run directory")
    ckpt = args.ckpt or best_checkpoint(args.run_dir)
    out = args.out or default_path()
    refuse_overwriting(out, [ckpt, *args.run_dir.iterdir()], "--out")
    out = bundle(args.run_dir, ckpt, out, half=args.half)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    print(about(out))
    return 0
