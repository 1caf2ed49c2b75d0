"""notebooks/results.ipynb runs headless against a tiny run, so it cannot silently rot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers.commands import run_cli

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "results.ipynb"

pytestmark = pytest.mark.slow  # a training, then a Jupyter kernel


@pytest.fixture
def this_python_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this very interpreter, found first on JUPYTER_PATH: CI keeps the
    environment outside the clone, and a 'python3' spec elsewhere could be another Python."""
    spec = tmp_path / "jupyter" / "kernels" / "fer-lightning-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "fer-lightning test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "fer-lightning-test"


def test_results_notebook_executes(
    fer_folder: Path, this_python_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = run_cli(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--data.batch_size=8",
            "--data.num_workers=0",
            "--trainer.enable_progress_bar=false",
        ]
    )
    monkeypatch.setenv("FER_RESULTS_RUNS", str(cli.run_dir.parent.parent))  # the runs/ folder
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        kernel_name=this_python_kernel,
        timeout=180,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs)
    assert f"kernel: {sys.executable}" in text and "1 run(s)" in text
    markdown = "".join(out.get("data", {}).get("text/markdown", "") for out in outputs)
    assert "| model | dataset | test accuracy |" in markdown
    assert "baseline_fer2013" in markdown and "| **accuracy** |" in markdown
    pngs = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(pngs) == 2, "the curves and the confusion matrices of the one run"
