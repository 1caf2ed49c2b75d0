"""``fer-lightning --help``, ``experiments`` and the argument errors it can find alone answer
without importing torch or Lightning (start-up seconds are measured by ``make bench``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fer_lightning import commands, experiments
from fer_lightning.main import LIGHTNING_SUBCOMMANDS, help_text, main
from tests.helpers.paths import REPO

PROBE = """
import contextlib, io, json, sys
from fer_lightning.main import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        rc = main({args!r})
    except SystemExit as stop:  # argparse's --help
        rc = stop.code
heavy = [m for m in ("torch", "lightning", "torchvision", "timm", "wandb") if m in sys.modules]
print(json.dumps({{"rc": rc, "heavy": heavy, "out": out.getvalue(), "err": err.getvalue()}}))
"""


def _probe(args: list[str]) -> dict:
    """Run ``main(args)`` in a fresh interpreter; its exit code, output and heavy imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "rc", "expected"),
    [
        (["--help"], 0, "augment-preview"),
        (["experiments"], 0, "baseline_fer2013"),
        (["fitt"], 2, "did you mean 'fit'?"),
        (["fit", "--exp", "resnet19_fer2013"], 2, "unknown experiment 'resnet19_fer2013'"),
        ([], 2, "a subcommand is needed"),
        (["recognize", "--help"], 0, "--annotate"),
        (["recognize", "--about"], 0, "zoo model ours_fer2013_robust_v3/official-16ep:"),
        (
            ["recognize", "--about", "--ckpt", "ours_fer2013/official-60ep"],
            0,
            "without the 288 exact copies of training images: 67.95 %",
        ),
        (
            ["recognize", "--about", "--ckpt", "ours_fer2013/official-60ep"],
            0,
            "robustness, worst drops: occlude_mouth -32.7 points",
        ),
        (["recognize", "--scale-factor", "1.0", "x.png"], 2, "--scale-factor 1.0"),
    ],
)
def test_light_commands_do_not_import_torch(args: list[str], rc: int, expected: str) -> None:
    result = _probe(args)
    assert result["rc"] == rc
    assert expected in result["out"] + result["err"]
    assert result["heavy"] == [], f"{args} imported {result['heavy']}"


def test_help_lists_every_subcommand_with_a_line() -> None:
    text = help_text()
    for name in [*LIGHTNING_SUBCOMMANDS, *commands.SUBCOMMANDS]:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(name + " "))
        assert len(line.split(maxsplit=1)) == 2, f"{name} has no description"
        assert len(line) <= 100


def test_training_commands_go_to_lightning_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """fit / validate / test / predict and LightningCLI's own options go to ``cli.run``, with
    ``--exp`` expanded once and its name handed on; the other subcommands go to their module."""
    import fer_lightning.cli as cli
    from fer_lightning.commands import report

    seen: list[tuple] = []
    monkeypatch.setattr(cli, "run", lambda args, **kw: seen.append((args, kw["experiment"])))
    monkeypatch.setattr(report, "main", lambda args: seen.append((args, "report")) or 0)
    assert main(["fit", "--exp", "baseline_fer2013", "--data.batch_size=8"]) == 0
    assert main(["report", "runs/x"]) == 0
    assert main(["--print_config"]) == 0
    config = str(experiments.resolve("baseline_fer2013"))
    assert seen == [
        (["fit", "--config", config, "--data.batch_size=8"], "baseline_fer2013"),
        (["runs/x"], "report"),
        (["--print_config"], None),
    ]


def test_the_installed_command_is_the_light_entry_point() -> None:
    scripts = (REPO / "pyproject.toml").read_text().split("[project.scripts]")[1]
    assert scripts.split("[")[0].strip() == 'fer-lightning = "fer_lightning.main:main"'
    done = subprocess.run(
        [sys.executable, "-m", "fer_lightning", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0 and "fit" in done.stdout
