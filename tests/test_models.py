"""Backbones, heads, parameter counts and the pretrained-weights path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.models import FERClassifier, create_backbone

BASELINE = {
    "backbone": "baseline_cnn",
    "head": "mlp",
    "head_kwargs": {"hidden": [300], "dropout": 0.5, "batch_norm": True},
}


def test_baseline_parameter_count_is_documented_value() -> None:
    # qutub2023 reports 1,672,775; ours is 1,672,287 (see BaselineCNN's docstring for why).
    assert FERClassifier(**BASELINE).num_parameters() == 1_672_287


def test_resnet18_matches_paper_count_with_three_channels() -> None:
    assert (
        FERClassifier(backbone="resnet18", head="linear", in_chans=3).num_parameters() == 11_180_103
    )
    # Grayscale input as is: the stem has 1 input channel instead of 3 (64*7*7*2 fewer weights).
    assert (
        FERClassifier(backbone="resnet18", head="linear", in_chans=1).num_parameters() == 11_173_831
    )


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        (BASELINE | {"in_chans": 1, "image_size": 48}, (2, 1, 48, 48)),
        (BASELINE | {"in_chans": 3, "image_size": 64}, (2, 3, 64, 64)),
        ({"backbone": "resnet18", "head": "linear", "in_chans": 3}, (2, 3, 48, 48)),
    ],
)
def test_forward_gives_one_logit_per_class(kwargs: dict, shape: tuple[int, ...]) -> None:
    model = FERClassifier(**kwargs).eval()
    assert model(torch.randn(shape)).shape == (2, 7)


def test_unknown_backbone_and_head_are_user_errors() -> None:
    with pytest.raises(FERUserError, match="unknown backbone 'resnet19'; known: .*resnet18"):
        FERClassifier(backbone="resnet19")
    with pytest.raises(FERUserError, match="unknown head 'conv'"):
        FERClassifier(head="conv")
    with pytest.raises(FERUserError, match="bad arguments for 'mlp'"):
        FERClassifier(head="mlp", head_kwargs={"widths": [3]})


def test_pretrained_missing_offline_names_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # No network: make the download fail the way an offline machine does.
    import urllib.request
    from urllib.error import URLError

    def offline(*args, **kwargs):
        raise URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FERUserError) as err:
        create_backbone("resnet18", in_chans=3, pretrained=True)
    message = str(err.value)
    assert "put resnet18-f37072fd.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message


def test_pretrained_loads_from_the_torch_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    reference = resnet18(weights=None)
    for p in reference.parameters():
        torch.nn.init.normal_(p, std=0.5)
    target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)

    rgb = create_backbone("resnet18", in_chans=3, pretrained=True).module
    torch.testing.assert_close(rgb.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    torch.testing.assert_close(rgb.conv1.weight, reference.conv1.weight)
    gray = create_backbone("resnet18", in_chans=1, pretrained=True).module
    torch.testing.assert_close(gray.conv1.weight, reference.conv1.weight.sum(1, keepdim=True))


def test_corrupt_weight_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a checkpoint")
    with pytest.raises(FERUserError, match="resnet18-f37072fd.pth: cannot load pretrained weights"):
        create_backbone("resnet18", in_chans=3, pretrained=True)
