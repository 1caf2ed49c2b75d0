"""What the fast and the real-data ``recognize`` tests share (tests/cli/test_recognize.py,
tests/real_data/test_recognize.py): the command run in this process, and the overlap of two
face boxes."""

from __future__ import annotations

import json

import pytest

from fer_lightning.inference.detect import Box
from fer_lightning.main import main


def recognize(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, list[dict], list[str]]:
    """Exit code, JSON records and error lines of ``fer-lightning recognize ARGS``."""
    capsys.readouterr()
    rc = main(["recognize", *args])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    errors = [line for line in err.splitlines() if line.startswith("fer-lightning: error:")]
    return rc, records, errors


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    h = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return w * h / (a.w * a.h + b.w * b.h - w * h)
