"""``fer-lightning export --ckpt CKPT --out model.onnx``: an ONNX model of a trained classifier.

The file outputs softmax probabilities and carries the class names and the preprocessing in
its metadata. After writing it, the command runs it with onnxruntime on a batch of inputs and
fails if its probabilities differ from PyTorch's by more than ``--tolerance``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.inference.bundled import load_any
from fer_lightning.inference.export import export_onnx, max_difference
from fer_lightning.paths import refuse_overwriting

log = logging.getLogger("fer_lightning")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fer-lightning export",
        description="Export a checkpoint of 'fer-lightning fit' to ONNX (probabilities out; "
        "class names and preprocessing in the metadata), checked with onnxruntime.",
    )
    p.add_argument(
        "--ckpt",
        type=Path,
        help="checkpoint (.ckpt) of a fit run or a bundled .safetensors model; or a zoo name "
        "('fer-lightning models'); default: the "
        "model that ships with the package",
    )
    p.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: exporter's)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        help="largest allowed |onnxruntime - PyTorch| on probabilities (default 1e-4)",
    )
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.ckpt = zoo.resolve(args.ckpt)
    if args.ckpt is not None:
        refuse_overwriting(args.out, [args.ckpt], "--out")
    loaded = load_any(args.ckpt)
    log.info("model %s", loaded.describe())
    export_onnx(loaded, args.out, opset=args.opset)
    p = loaded.preprocessing
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(8, p.channels, p.image_size, p.image_size, generator=generator)
    diff = max_difference(args.out, loaded, inputs)
    if diff > args.tolerance:
        raise FERUserError(
            f"{args.out}: onnxruntime's probabilities differ from PyTorch's by {diff:.2e}, "
            f"more than --tolerance {args.tolerance:g}"
        )
    log.info(
        "wrote %s (%.1f MB); onnxruntime matches PyTorch on 8 inputs: max |difference| %.2e",
        args.out,
        args.out.stat().st_size / 1e6,
        diff,
    )
    return 0
