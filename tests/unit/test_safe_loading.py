"""Checkpoints and weight files load with ``weights_only=True``: a corrupt, foreign or malicious
file is one sentence naming it, never a pickle traceback, and never runs code."""

from __future__ import annotations

import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.inference.checkpoint import load_model
from fer_lightning.inference.safe_load import safe_load
from fer_lightning.main import main
from tests.helpers.tiny_models import fit_tiny


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_tiny(tmp_path_factory.mktemp("tiny"))


class Payload:
    """Unpickling this runs ``exec``: it writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('pwned')",))


def one_line_error(path: Path) -> str:
    with pytest.raises(FERUserError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_fit_checkpoints_load_weights_only(ckpt: Path) -> None:
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)  # no allowlist needed
    loaded = load_model(ckpt)
    assert not loaded.model.training
    for key, value in raw["state_dict"].items():
        torch.testing.assert_close(loaded.model.state_dict()[key], value)
    p = loaded.preprocessing
    data = raw["datamodule_hyper_parameters"]
    assert (p.image_size, p.channels, p.mean, p.std) == (
        data["image_size"],
        data["channels"],
        data["mean"],
        data["std"],
    )
    assert p.color == "gray" and p.source == "the checkpoint"
    assert loaded.class_names == list(raw["hyper_parameters"]["class_names"])


@pytest.mark.parametrize("how", ["torch.save", "pickle-protocol-2", "pickle-protocol-5"])
def test_malicious_pickle_is_refused_and_not_run(how: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.ckpt"
    obj = {"state_dict": {}, "hyper_parameters": Payload(marker)}
    if how == "torch.save":
        torch.save(obj, evil)
    else:
        evil.write_bytes(pickle.dumps(obj, protocol=int(how[-1])))
    with evil.open("rb") as fh:  # the payload is real: a plain unpickling runs it
        if how == "torch.save":
            torch.load(fh, weights_only=False)
        else:
            pickle.load(fh)  # noqa: S301
    assert marker.read_text() == "pwned"
    marker.unlink()

    message = one_line_error(evil)
    assert "was refused" in message
    if how != "pickle-protocol-5":  # protocol 5 is refused at its first instruction
        assert "needs the Python object 'exec'" in message
    assert not marker.exists(), "loading the checkpoint ran code"


def test_truncated_checkpoint(ckpt: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    assert "truncated or not a PyTorch checkpoint" in one_line_error(cut)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty (0 bytes)"),
        (b"epoch,acc\n1,0.5\n", "not a PyTorch checkpoint"),
        (b"\x00" * 100, "refused: it is not a plain PyTorch checkpoint (corrupt"),
    ],
    ids=["empty", "csv", "zeros"],
)
def test_not_a_checkpoint(content: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    assert expected in one_line_error(path)


def test_foreign_checkpoints(tmp_path: Path) -> None:
    from torchvision.models import resnet18

    bare = tmp_path / "resnet18.pth"
    torch.save(resnet18(weights=None).state_dict(), bare)
    assert "bare weights" in one_line_error(bare)

    other_module = tmp_path / "other.ckpt"  # a Lightning checkpoint of some other model
    torch.save(
        {"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"hidden_dim": 64}},
        other_module,
    )
    assert "not written by fer-lightning" in one_line_error(other_module)

    other_args = tmp_path / "other_args.ckpt"
    torch.save(
        {"state_dict": {}, "hyper_parameters": {"backbone": "baseline_cnn", "encoder": "x"}},
        other_args,
    )
    assert "no hyper-parameter(s) encoder" in one_line_error(other_args)

    no_state = tmp_path / "no_state.ckpt"
    torch.save({"epoch": 3}, no_state)
    assert "not a Lightning checkpoint" in one_line_error(no_state)


def test_weights_that_do_not_fit_the_hyper_parameters(ckpt: Path, tmp_path: Path) -> None:
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    raw["hyper_parameters"]["head_kwargs"] = {"hidden": [16]}
    edited = tmp_path / "edited.ckpt"
    torch.save(raw, edited)
    assert "weights do not fit" in one_line_error(edited)

    raw["hyper_parameters"]["backbone"] = "no_such_net"
    torch.save(raw, edited)
    assert "unknown backbone 'no_such_net'" in one_line_error(edited)


def test_preprocessing_falls_back_to_the_run_config(ckpt: Path, tmp_path: Path) -> None:
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    del raw["datamodule_hyper_parameters"]
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(raw, run / "checkpoints" / "last.ckpt")
    shutil.copy(ckpt.parents[1] / "config.yaml", run / "config.yaml")
    loaded = load_model(run / "checkpoints" / "last.ckpt")
    assert loaded.preprocessing.source == str(run / "config.yaml")
    from_ckpt = load_model(ckpt).preprocessing
    assert loaded.preprocessing == replace(from_ckpt, source=str(run / "config.yaml"))

    (run / "config.yaml").unlink()
    message = one_line_error(run / "checkpoints" / "last.ckpt")
    assert "holds no data settings" in message and "config.yaml" in message


def test_cli_reports_a_bad_checkpoint_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    evil = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": Payload(tmp_path / "marker")}, evil)
    for command in (["recognize", "--no-detect", str(tmp_path)], ["export", "--out", "x.onnx"]):
        assert main([*command, "--ckpt", str(evil)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(evil) in err and "Traceback" not in err
    assert not (tmp_path / "marker").exists()


def test_safe_load_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FERUserError, match="does not exist"):
        safe_load(tmp_path / "nope.ckpt")


def test_pretrained_weight_files_load_weights_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tampered ImageNet file in the torch cache is refused, not run."""
    from torchvision.models import ResNet18_Weights

    from fer_lightning.models.pretrained import load_torchvision_weights, torch_cache_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = torch_cache_file(ResNet18_Weights.IMAGENET1K_V1.url)
    target.parent.mkdir(parents=True)
    marker = tmp_path / "marker"
    torch.save({"conv1.weight": Payload(marker)}, target)
    from torchvision.models import resnet18

    with pytest.raises(FERUserError) as info:
        load_torchvision_weights(resnet18(weights=None), ResNet18_Weights.IMAGENET1K_V1)
    message = str(info.value)
    assert str(target) in message and "\n" not in message and "Weights only load failed" in message
    assert not marker.exists(), "loading the weight file ran code"


def test_resuming_last_finds_a_tampered_last_ckpt_and_says_so_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture, fer_folder: Path
) -> None:
    """``--ckpt_path last`` gets the checks a checkpoint path given directly gets."""
    import os

    run = Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013" / "20250101-000000"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("model: {}\n")
    torch.save({"hyper_parameters": Payload(tmp_path / "marker")}, run / "checkpoints/last.ckpt")
    capsys.readouterr()
    argv = ["fit", "--exp", "baseline_fer2013", f"--data.data_dir={fer_folder}", "--ckpt_path"]
    assert main([*argv, "last"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "weights_only" not in err, err
    assert str(run / "checkpoints" / "last.ckpt") in err and "was refused" in err
    assert not (tmp_path / "marker").exists()
