"""The GPU check's code path on the CPU: a few tiny bf16 steps of a few experiments through
``Trainer.fit``, the 1-device DDP run (gloo here, NCCL on a GPU), the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_lightning.bench import gpu_check


def test_families_cover_every_experiment_backbone() -> None:
    from fer_lightning.experiments import list_experiments, load_config, resolve

    def backbone(name: str) -> str:
        return load_config(resolve(name))["model"]["backbone"]

    checked = {backbone(n) for n in gpu_check.default_experiments()}
    assert {backbone(n) for n in list_experiments()} <= checked
    assert set(gpu_check.TIMM_RTX3090_AMP_TRAIN_224) <= set(list_experiments())
    # today's families are the check's default as they are: nothing added, nothing lost
    assert gpu_check.default_experiments()[: len(FAMILY_EXPERIMENTS)] == FAMILY_EXPERIMENTS


FAMILY_EXPERIMENTS = [name for names in gpu_check.FAMILIES.values() for name in names]


def test_an_experiment_with_a_new_backbone_is_checked_without_editing_families(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fer_lightning.experiments import PACKAGED

    for path in PACKAGED.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "newnet_fer2013.yaml").write_text("model:\n  backbone: newnet\n")
    (tmp_path / "newnet_rafdb.yaml").write_text("model:\n  backbone: newnet\n")
    monkeypatch.setenv("FER_EXPERIMENTS_DIR", str(tmp_path))
    chosen = gpu_check.default_experiments()
    assert chosen[: len(FAMILY_EXPERIMENTS)] == FAMILY_EXPERIMENTS
    assert "newnet_fer2013" in chosen and "newnet_rafdb" not in chosen  # one per backbone


def test_gpu_check_runs_on_cpu(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bench"
    argv = ["--device", "cpu", "--steps", "4", "--warmup", "1", "--batch-size", "4"]
    argv += ["--experiments", "baseline_fer2013", "cnn_ckplus", "--no-reference"]
    assert gpu_check.main([*argv, "--out", str(out)]) == 0
    result = json.loads((out / "gpu_check.json").read_text())
    assert [r["experiment"] for r in result["rows"]] == ["baseline_fer2013", "cnn_ckplus"]
    for row in [*result["rows"], result["ddp"]]:
        assert row["steps"] == 4 and row["images_per_s"] > 0 and row["finite_weights"]
        assert row["peak_memory_mib"] is None  # a CUDA figure
    assert result["ddp"]["strategy"] == "ddp" and result["ddp"]["process_group_backend"] == "gloo"
    text = (out / "GPU_CHECK.md").read_text()
    assert text == gpu_check.markdown(result)
    assert "| baseline_fer2013 | baseline_cnn | 48x48x1 | 4 |" in text


def test_gpu_check_on_a_machine_without_cuda_says_so(capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert gpu_check.main(["--device", "cuda"]) == 2
    assert "no CUDA GPU here" in capsys.readouterr().err


def test_too_much_warmup_is_an_argument_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        gpu_check.parse(["--steps", "4", "--warmup", "4"])
    assert stop.value.code == 2  # argparse's usage error, not a crash or a success
    assert "--warmup 4 leaves no timed steps of --steps 4" in capsys.readouterr().err
    assert gpu_check.parse(["--steps", "4", "--warmup", "2"]).warmup == 2
