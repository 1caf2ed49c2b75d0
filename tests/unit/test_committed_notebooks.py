"""The notebooks are committed with their outputs (``make notebooks``) so that they read on
GitHub without running; what they show must then be what any clone has. The results
notebook's last section ("your own runs") once drew the 65 local runs of the machine that saved
it, which no reader has, and grew the file to 10 MB. Plain JSON reading: no kernel, no torch."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers.notebook_runner import run
from tests.helpers.paths import REPO

#: A run directory under a local ``runs/`` folder (``runs/<experiment>/<timestamp>``).
LOCAL_RUN = re.compile(r"(?<![\w/.-])runs/[\w.-]+/\d{8}-\d{6}")


def output_text(path: Path, source_has: str = "") -> str:
    """The texts an executed notebook's code cells show (streams, plain text, markdown), of the
    cells whose source holds ``source_has``."""
    nb = json.loads(path.read_text())
    parts: list[str] = []
    for cell in nb["cells"]:
        if source_has not in "".join(cell["source"]):
            continue
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for kind in ("text/plain", "text/markdown"):
                parts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def test_the_results_notebook_shows_published_runs_not_a_machines_own() -> None:
    # The section that draws runs/ by default (the published tables may name a run that stayed
    # local, e.g. an ensemble member: that is a published fact, not this machine's runs).
    text = output_text(REPO / "notebooks" / "results.ipynb", source_has="find_runs(")
    assert not LOCAL_RUN.findall(text), "results.ipynb was saved with local runs/ drawn"
    shown = run.PUBLISHED["FER_RESULTS_RUNS"]
    assert re.search(rf"\b[1-9]\d* run\(s\) under {re.escape(shown)}\n", text), (
        f"results.ipynb's last section does not draw the published runs of {shown}"
    )
