"""The slow bad-input tests (the others are in ``tests/cli/test_bad_input.py``): one case run
both through the one-process driver and through a fresh ``python -m fer_lightning`` (which
imports torch again), and a run resumed twice (three fits) that keeps its first
``config.yaml``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fer_lightning.main import main
from tests.helpers.bad_input import Case, driver_env, fill, run_driver
from tests.helpers.commands import run_cli
from tests.helpers.fakedata import write_fer2013_folder
from tests.helpers.paths import REPO


@pytest.mark.slow
def test_the_driver_runs_the_cli_as_python_m_does(tmp_path: Path) -> None:
    """One case straight through ``python -m fer_lightning``: the same exit and line as the
    driver gives (the driver runs all the bad-input cases of tests/cli)."""
    data = tmp_path / "data"
    write_fer2013_folder(data, per_class={"Training": 2, "PublicTest": 1, "PrivateTest": 1})
    places = {"data": str(data), "runs": str(tmp_path / "runs"), "cache": str(tmp_path / "cache")}
    case = Case(
        "--data.batchsize",
        ["fit", "--exp", "baseline_fer2013", "--data.data_dir={data}", "--data.num_workers=0"]
        + ["--data.batchsize=32"],
        ["data.batchsize", "did you mean --data.batch_size?"],
    )
    result = run_driver([case], places)[case.id]
    assert result["rc"] != 0 and all(s in result["stderr"] for s in case.says)
    runs = Path(places["runs"]) / "python-m"
    runs.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "fer_lightning", *[fill(a, places) for a in case.argv]],
        capture_output=True,
        text=True,
        env=driver_env(places) | {"FER_RUNS_DIR": str(runs)},
        cwd=REPO,
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (result["rc"], result["stderr"])


# -------------------------------------------------- item 8: resuming keeps the first config
@pytest.mark.slow  # trains two fits or more
def test_resume_keeps_config_yaml_and_writes_what_changed_beside_it(
    fer_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "fit",
        "--exp",
        "baseline_fer2013",
        f"--data.data_dir={fer_folder}",
        "--data.num_workers=0",
        "--data.batch_size=16",
        "--trainer.enable_progress_bar=false",
        "--test_after_fit=false",
    ]
    first = run_cli([*args, "--trainer.max_epochs=1"])
    config = first.run_dir / "config.yaml"
    original = config.read_bytes()
    assert yaml.safe_load(original)["trainer"]["max_epochs"] == 1

    # A resume that fails on a bad option keeps the run's directory as it was.
    before = sorted(p.relative_to(first.run_dir) for p in first.run_dir.rglob("*"))
    assert main([*args, "--ckpt_path=last", "--data.data_dir=/nonexistent"]) == 2
    assert sorted(p.relative_to(first.run_dir) for p in first.run_dir.rglob("*")) == before

    second = run_cli([*args, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert second.run_dir == first.run_dir
    assert config.read_bytes() == original
    resumed = first.run_dir / "config.resume-1.yaml"
    text = resumed.read_text()
    assert yaml.safe_load(text)["trainer"]["max_epochs"] == 2
    assert "#   trainer.max_epochs: 1 -> 2" in text and "#   ckpt_path: null -> last" in text

    third = run_cli([*args, "--trainer.max_epochs=3", "--ckpt_path=last"])
    assert third.trainer.current_epoch == 3
    assert config.read_bytes() == original
    assert "#   trainer.max_epochs: 1 -> 3" in (first.run_dir / "config.resume-2.yaml").read_text()
