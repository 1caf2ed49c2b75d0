"""``model.channels_last`` and ``model.compile``: accepted from the command line, applied, and
harmless to checkpoints.

Here: the tests that train for more than a few seconds; the others are in
``tests/cli/test_speed_options.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_lightning.models.classifier import FERClassifier
from tests.helpers.commands import FAST_DEV, run_cli


@pytest.mark.slow
def test_compile_keeps_parameter_names_and_runs_a_step(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = FERClassifier(backbone="baseline_cnn", head="linear")
    compiled = FERClassifier(backbone="baseline_cnn", head="linear", compile=True)
    assert compiled.backbone._compiled_call_impl is not None
    assert compiled.state_dict().keys() == plain.state_dict().keys(), "checkpoints stay loadable"

    # Inductor takes minutes to compile on a CPU; dynamo with the eager backend still traces
    # the model through torch.compile, in one training step of the real command.
    original = torch.nn.Module.compile
    monkeypatch.setattr(
        torch.nn.Module, "compile", lambda self, **kw: original(self, backend="eager")
    )
    cli = run_cli([*FAST_DEV, f"--data.data_dir={fer_folder}", "--model.compile=true"])
    assert cli.model.backbone._compiled_call_impl is not None
    assert cli.trainer.global_step == 1
