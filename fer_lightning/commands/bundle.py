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
    parser.add_argument(
        "--ckpt",
        type=Path,
        help="default: the run's checkpoints/best-*.ckpt; a bundled .safetensors model is "
        "stored again with its own metadata (to change how its weights are stored)",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default: {default_path()}")
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--half",
        action="store_const",
        const="float16",
        dest="storage",
        help="store the weights in float16 (half the size; can change a few predictions: "
        "compare them with the checkpoint's before publishing)",
    )
    storage.add_argument(
        "--bf16-mixed",
        action="store_const",
        const="bf16-mixed",
        dest="storage",
        help="store the convolution and linear weights in bfloat16, as bf16-mixed precision "
        "computes with them (about half the size; a bf16-mixed evaluation gives the same "
        "outputs bit for bit, checked before writing)",
    )
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        raise FERUserError(f"{args.run_dir}: no such run directory")
    ckpt = args.ckpt or best_checkpoint(args.run_dir)
    out = args.out or default_path()
    refuse_overwriting(out, [ckpt, *args.run_dir.iterdir()], "--out")
    out = bundle(args.run_dir, ckpt, out, storage=args.storage or "float32")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    print(about(out))
    return 0
