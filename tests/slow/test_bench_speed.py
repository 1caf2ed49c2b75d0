"""``make bench``'s fp32-vs-automatic-precision and start-up measurements, on a tiny scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_lightning import precision as auto
from fer_lightning.bench import precision, startup
from fer_lightning.bench.__main__ import main
from fer_lightning.bench.report import markdown

pytestmark = pytest.mark.slow  # runs the benchmark harness on real training loops


@pytest.mark.parametrize("native", [True, False])
def test_precision_compares_fp32_with_the_automatic_choice(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(
        precision, "auto_precision", lambda accelerator: "bf16-mixed" if native else "32-true"
    )
    result = precision.measure("baseline_fer2013", rounds=1, steps=4, warmup=2, batch_size=4)
    assert result["automatic_precision"] == ("bf16-mixed" if native else "32-true")
    row = result["rounds"][0]
    assert set(row) == {name for name, _, _ in precision.VARIANTS}
    auto_name = result["automatic_variant"]
    assert (auto_name == "fp32") is (not native)
    assert result["automatic_vs_fp32"] == pytest.approx(row[auto_name] / row["fp32"], rel=0.01)


def test_bf16_variant_really_runs_in_bf16() -> None:
    import torch

    variant = precision._Variant("baseline_fer2013", "bf16-mixed", channels_last=True)
    seen: list[torch.dtype] = []
    variant.model.head.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    variant.step(torch.randn(2, 1, 48, 48), torch.tensor([0, 1]))
    assert seen == [torch.bfloat16]


def test_startup_times_the_light_commands() -> None:
    result = startup.measure(runs=1, log=lambda *_: None)
    assert [row["command"].split()[1] for row in result["commands"]] == [
        "--help",
        "experiments",
        "fitt",
    ]
    assert all(0 < row["median_s"] < 60 for row in result["commands"])


def test_bench_report_has_precision_and_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "no-data"))
    out = tmp_path / "out"
    assert (
        main(
            ["--quick", "--skip-data-prep", "--experiments", "baseline_fer2013", "--out", str(out)]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["precision"]["automatic_precision"] == auto.auto_precision("cpu")
    assert len(results["startup"]["commands"]) == 3
    text = (out / "BENCHMARKS.md").read_text()
    assert text == markdown(results)
    assert "## 4. fp32 vs automatic precision" in text and "## 5. Start-up" in text
    assert f"**Automatic vs fp32: {results['precision']['automatic_vs_fp32']:.3f}x**" in text
