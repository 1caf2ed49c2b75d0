"""Reports end to end: fit writes them, ``report`` regenerates them, ``compare`` tabulates runs.

Here: the fast tests; the others are in ``tests/slow/test_report_cli.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lightning.main import main


def test_report_and_compare_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cases = [
        (["report", str(tmp_path)], "has no config.yaml"),
        (["compare", str(tmp_path)], "holds no run with a summary.json"),
        (["compare", str(tmp_path / "nope")], "does not exist"),
    ]
    for args, message in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, err
    (tmp_path / "config.yaml").write_text("seed_everything: 0\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "has no best*.ckpt" in capsys.readouterr().err
