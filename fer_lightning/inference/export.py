"""ONNX export of a trained classifier: softmax probabilities out, preprocessing in metadata.

The graph comes from PyTorch's ``torch.export``-based exporter (``dynamo=True``, the default
since PyTorch 2.9; it runs offline through onnxscript), with a dynamic batch axis. The input
is what :class:`~fer_lightning.inference.preprocess.Preprocessing` produces; the metadata says
how to produce it without this package.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from fer_lightning.errors import FERUserError
from fer_lightning.inference.checkpoint import LoadedModel

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


class WithSoftmax(nn.Module):
    """The classifier's logits -> class probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).softmax(dim=-1)


def metadata(loaded: LoadedModel) -> dict[str, str]:
    """ONNX ``metadata_props``: class names and preprocessing, as strings (JSON where not one
    value)."""
    p = loaded.preprocessing
    return {
        "producer": "fer-lightning",
        "checkpoint": loaded.path.name,
        "backbone": str(loaded.model.hparams.backbone),
        "class_names": json.dumps(loaded.class_names),
        "image_size": str(p.image_size),
        "channels": str(p.channels),
        "color": p.color,
        "mean": json.dumps(p.mean),
        "std": json.dumps(p.std),
        "preprocessing": (
            f"face crop -> {'grayscale (ITU-R 601 luma)' if p.color == 'gray' else 'RGB'} -> "
            f"resize to {p.image_size}x{p.image_size} (bilinear) -> (pixel / 255 - mean) / std "
            f"-> float32 NCHW with {p.channels} channel(s)"
            + (" (gray replicated)" if p.color == "gray" and p.channels == 3 else "")
        ),
        "output": f"{OUTPUT_NAME}: softmax probabilities over class_names, shape (N, "
        f"{len(loaded.class_names)})",
    }


def export_onnx(loaded: LoadedModel, out: Path, opset: int | None = None) -> Path:
    """Write ``loaded``'s model to ``out`` as ONNX with :func:`metadata`."""
    p = loaded.preprocessing
    module = WithSoftmax(loaded.model).eval().cpu()
    example = torch.zeros(2, p.channels, p.image_size, p.image_size)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FERUserError(f"cannot create the folder of {out}: {err}") from None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # exporter notices a user cannot act on
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=opset,
            verbose=False,
        )
    assert program is not None
    model = program.model_proto
    onnx.helper.set_model_props(model, metadata(loaded))
    model.doc_string = loaded.describe()
    try:
        onnx.save(model, str(out))
    except OSError as err:
        raise FERUserError(f"cannot write {out}: {err}") from None
    onnx.checker.check_model(str(out))
    return out


def read_metadata(path: Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file."""
    model = onnx.load(str(path), load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


def max_difference(path: Path, loaded: LoadedModel, inputs: torch.Tensor) -> float:
    """Largest absolute difference between onnxruntime's and PyTorch's probabilities."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: inputs.numpy().astype(np.float32)})[0]
    with torch.inference_mode():
        want = WithSoftmax(loaded.model).eval().cpu()(inputs).numpy()
    return float(np.abs(got - want).max())
