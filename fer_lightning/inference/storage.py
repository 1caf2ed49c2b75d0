"""How a bundled model stores its weights: the floating-point type of each tensor in the file.

- ``float32``: every tensor as trained. Any evaluation gives the run's outputs.
- ``float16``: every floating-point tensor in float16. Half the size, but rounding the
  batch-norm statistics and the weights to float16 can change a few predictions.
- ``bf16-mixed``: the weights and biases of the convolution and linear layers in bfloat16, the
  rest (batch norm, buffers) in float32. Under bf16-mixed precision, autocast rounds exactly
  these tensors to bfloat16 before it computes with them, so a model evaluated the way its run
  was evaluated (``precision: bf16-mixed``) gives the run's outputs bit for bit, at about half
  the size. :func:`stored_weights` checks that on a batch before a file is written. A float32
  evaluation of such a file (``recognize``, ``export``) computes with the rounded weights.

Loading casts every tensor back to the model's float32.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_lightning.errors import FERUserError

STORAGES = ("float32", "float16", "bf16-mixed")
#: The layers whose weights CPU and CUDA autocast round to bfloat16 before computing.
AUTOCAST_LAYERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)


def _autocast_keys(model: nn.Module) -> set[str]:
    """The state-dict keys of the parameters of :data:`AUTOCAST_LAYERS`."""
    keys = set()
    for prefix, module in model.named_modules():
        if isinstance(module, AUTOCAST_LAYERS):
            for name, _ in module.named_parameters(recurse=False):
                keys.add(f"{prefix}.{name}" if prefix else name)
    return keys


def _dtype_of(key: str, tensor: torch.Tensor, storage: str, autocast: set[str]) -> torch.dtype:
    if not tensor.is_floating_point() or storage == "float32":
        return tensor.dtype
    if storage == "float16":
        return torch.float16
    return torch.bfloat16 if key in autocast else torch.float32


def _bf16_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        return model(x).float()


def stored_weights(
    model: nn.Module, storage: str, input_shape: tuple[int, int, int]
) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` (float32, eval mode) as ``storage`` keeps it.

    For ``bf16-mixed``, refuses (one sentence) if the rounded weights change the model's
    bf16-mixed outputs on a batch of random inputs of ``input_shape`` (channels, height,
    width): a layer autocast does not round the way :data:`AUTOCAST_LAYERS` assumes."""
    if storage not in STORAGES:
        raise FERUserError(f"weights storage {storage!r}: use one of {', '.join(STORAGES)}")
    autocast = _autocast_keys(model)
    weights = {
        k: v.detach().to(_dtype_of(k, v, storage, autocast)).contiguous()
        for k, v in model.state_dict().items()
    }
    if storage == "bf16-mixed":
        x = torch.randn(8, *input_shape, generator=torch.Generator().manual_seed(0))
        model.eval()
        before = _bf16_outputs(model, x)
        original = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(weights)
        after = _bf16_outputs(model, x)
        model.load_state_dict(original)
        if not torch.equal(before, after):
            raise FERUserError(
                "storing this model's weights for bf16-mixed changes its bf16-mixed outputs "
                f"(largest change {(before - after).abs().max().item():.3g}); use float32"
            )
    return weights
