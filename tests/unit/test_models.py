"""Backbones, heads, parameter counts and the pretrained-weights path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.models import FERClassifier, create_backbone, create_head

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


# ------------------------------------------------------------------ the studies' backbones
@pytest.mark.parametrize(
    ("kwargs", "count"),
    [
        # qutub2023's counts (3-channel input)
        ({"backbone": "efficientnet_b0", "head": "linear"}, 4_016_515),
        ({"backbone": "vgg16", "head": "vgg", "head_kwargs": {"pool_size": 1}}, 33_625_927),
        ({"backbone": "vgg19", "head": "vgg", "head_kwargs": {"pool_size": 2}}, 45_227_079),
        # torchvision's own ImageNet counts less their 1000-way classifier, plus 7 ways
        ({"backbone": "resnet50", "head": "linear"}, 25_557_032 - 2_049_000 + 14_343),
        ({"backbone": "mobilenet_v2", "head": "linear"}, 3_504_872 - 1_281_000 + 8_967),
        ({"backbone": "densenet121", "head": "linear"}, 7_978_856 - 1_025_000 + 7_175),
    ],
)
def test_parameter_counts(kwargs: dict, count: int) -> None:
    assert FERClassifier(in_chans=3, **kwargs).num_parameters() == count


def test_heads_of_the_papers() -> None:
    # trinh2023: ResNet50V2 map -> dropout -> BN -> flatten -> 64 -> 7. At 224 the paper's
    # dense_7 has 6,422,592 weights (7*7*2048*64 + 64).
    trinh = {"input_dropout": 0.25, "input_batch_norm": True, "hidden": [64], "dropout": 0.0}
    head = create_head("mlp", (2048, 7, 7), 7, batch_norm=False, **trinh)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["Dropout", "BatchNorm2d", "Flatten", "Linear", "ReLU", "Linear"]
    assert head[3].weight.numel() + head[3].bias.numel() == 6_422_592
    # jahangir2024 ResNet50: GAP -> 128 -> dropout 0.5 -> 64 -> 7
    gap = create_head(
        "mlp", (2048, 7, 7), 7, pool="avg", hidden=[128, 64], dropout=[0.5, 0.0], batch_norm=False
    )
    kinds = [type(m).__name__ for m in gap]
    assert kinds == [
        "AdaptiveAvgPool2d", "Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"
    ]  # fmt: skip
    assert gap(torch.randn(2, 2048, 7, 7)).shape == (2, 7)
    with pytest.raises(FERUserError, match="2 values for 1 hidden layers"):
        create_head("mlp", (10,), 7, hidden=[4], dropout=[0.1, 0.2])
    with pytest.raises(FERUserError, match="'vgg' needs a feature map"):
        create_head("vgg", (512,), 7)


def test_global_pool_choice_gives_vector_or_map() -> None:
    pooled = create_backbone("resnet50", in_chans=3, image_size=224)
    assert pooled.out_shape == (2048,)
    mapped = create_backbone("resnet50", in_chans=3, image_size=224, global_pool="")
    assert mapped.out_shape == (2048, 7, 7)
    assert create_backbone("vgg16", in_chans=3, image_size=224).out_shape == (512, 7, 7)


@pytest.mark.parametrize(
    ("backbone", "chans", "size", "n_aux"), [("googlenet", 1, 48, 2), ("inception_v3", 3, 299, 1)]
)
def test_auxiliary_classifiers_train_only(backbone: str, chans: int, size: int, n_aux: int) -> None:
    model = FERClassifier(backbone=backbone, head="linear", in_chans=chans, image_size=size)
    x = torch.randn(2, chans, size, size)
    logits, aux = model.train()._logits(x)
    assert logits.shape == (2, 7) and [a.shape for a in aux] == [(2, 7)] * n_aux
    assert model.eval()(x).shape == (2, 7)


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")
def test_auxiliary_loss_weight_enters_the_training_loss() -> None:
    torch.manual_seed(0)
    model = FERClassifier(backbone="googlenet", head="linear", aux_loss_weight=0.3).train()
    batch = (torch.randn(4, 1, 48, 48), torch.tensor([0, 1, 2, 3]))
    torch.manual_seed(1)
    loss = model.training_step(batch, 0)
    torch.manual_seed(1)
    logits, aux = model._logits(batch[0])
    ce = torch.nn.functional.cross_entropy
    expected = ce(logits, batch[1]) + 0.3 * sum(ce(a, batch[1]) for a in aux)
    torch.testing.assert_close(loss, expected)


def test_inception_v3_input_sizes_are_user_errors() -> None:
    with pytest.raises(FERUserError, match="inception_v3 needs at least 75"):
        create_backbone("inception_v3", in_chans=3, image_size=48)
    with pytest.raises(FERUserError, match="auxiliary head needs 299"):
        create_backbone("inception_v3", in_chans=3, image_size=150)


def test_too_small_input_is_a_user_error() -> None:
    with pytest.raises(FERUserError, match="data.image_size 16 does not fit backbone 'vgg16'"):
        create_backbone("vgg16", in_chans=3, image_size=16)


# --------------------------------------------------------------------- timm pretrained
def _write_timm_weights(cache: Path, name: str, **kwargs: object) -> dict:
    """Random weights of timm model ``name`` saved in the Hugging Face cache under the official
    repo and file name, as a download would leave them (snapshots/main)."""
    import timm
    from safetensors.torch import save_file

    reference = timm.create_model(name, pretrained=False, **kwargs)
    for p in reference.parameters():
        torch.nn.init.normal_(p, std=0.02)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    repo = timm.models.get_pretrained_cfg(name).hf_hub_id
    target = cache / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / "main"
    target.mkdir(parents=True)
    save_file(state, str(target / "model.safetensors"))
    return state


def test_timm_pretrained_loads_from_the_hf_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # and no network: the cache must suffice
    state = _write_timm_weights(tmp_path / "hf", "resnetv2_50.a1h_in1k")
    net = create_backbone("resnet50v2", in_chans=1, pretrained=True).module
    torch.testing.assert_close(
        net.stages[3].blocks[2].conv3.weight, state["stages.3.blocks.2.conv3.weight"]
    )
    # A 1-channel stem gets the RGB kernels summed (timm's adapt_input_conv).
    torch.testing.assert_close(net.stem.conv.weight, state["stem.conv.weight"].sum(1, keepdim=True))


def test_timm_pretrained_missing_offline_names_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FERUserError) as err:
        create_backbone("vit_b16", in_chans=3, image_size=224, pretrained=True)
    folder = tmp_path / "hf" / "hub" / "models--timm--vit_base_patch16_224.orig_in21k_ft_in1k"
    assert str(err.value) == (
        "pretrained weights not found: put model.safetensors (from "
        "https://huggingface.co/timm/vit_base_patch16_224.orig_in21k_ft_in1k) in "
        f"{folder / 'snapshots' / 'main'} (set HF_HOME to change that directory)"
    )


def test_timm_corrupt_weight_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    target = tmp_path / "hf" / "hub" / "models--timm--resnetv2_50.a1h_in1k" / "snapshots" / "main"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(FERUserError, match="model.safetensors: cannot load pretrained weights"):
        create_backbone("resnet50v2", in_chans=3, pretrained=True)


def test_googlenet_pretrained_keeps_torchvision_aux_heads_but_new_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torchvision's GoogLeNet file holds the auxiliary heads too; ours load it, then get new
    7-way auxiliary outputs."""
    from torchvision.models import GoogLeNet_Weights, googlenet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    reference = googlenet(weights=None, aux_logits=True, init_weights=True)
    target = (
        tmp_path / "torch" / "hub" / "checkpoints" / Path(GoogLeNet_Weights.IMAGENET1K_V1.url).name
    )
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    net = create_backbone("googlenet", in_chans=3, pretrained=True).module.net
    torch.testing.assert_close(
        net.inception5b.branch1.conv.weight, reference.inception5b.branch1.conv.weight
    )
    torch.testing.assert_close(net.aux1.fc1.weight, reference.aux1.fc1.weight)
    assert net.aux1.fc2.out_features == 7 and net.aux2.fc2.out_features == 7


def test_timm_pretrained_without_a_network_is_one_sentence_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without HF_HUB_OFFLINE and without a network, the hub is asked once (a TCP connection)
    and timm's download, with huggingface_hub's minute of retries, is never started."""
    import timm

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    create = timm.create_model
    downloads = []

    def counting(name: str, pretrained: bool = False, **kwargs: object) -> object:
        downloads.append(name) if pretrained else None
        return create(name, pretrained=pretrained, **kwargs)

    monkeypatch.setattr(timm, "create_model", counting)
    with pytest.raises(FERUserError, match="pretrained weights not found: put model.safetensors"):
        create_backbone("vit_b16", in_chans=3, image_size=224, pretrained=True)
    assert downloads == []
