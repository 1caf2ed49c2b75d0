"""Execute the notebooks and save them with their outputs: ``make notebooks``.

``python notebooks/run.py [NAME ...]`` runs the named notebooks (default: all of
:data:`NOTEBOOKS`) in a Jupyter kernel of this very Python, one after the other, and writes each
back in place, so that it reads on GitHub without running. They read the data under
``$FER_DATA_DIR`` and the published records in ``results/`` (never this machine's ``runs/``:
:data:`PUBLISHED`). ``FER_NOTEBOOK_SMALL=1`` makes them
pick small inputs (what CI runs, ``tests/slow/test_notebooks.py``); ``--check`` executes without
writing. A cell that raises stops the run with that cell's error (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
#: The notebooks, in reading order.
NOTEBOOKS: tuple[str, ...] = (
    "dataset_tour",
    "results",
    "errors_and_explanations",
    "using_a_model",
)
KERNEL = "fer-lightning-notebooks"
#: The kernel's environment: no warning that tqdm's notebook bars lack ipywidgets (a library
#: imports tqdm.auto), and W&B, where a command starts it, offline and silent.
QUIET = {
    "PYTHONWARNINGS": "ignore:IProgress not found",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
}
#: What the saved notebooks read instead of this machine's own files, so that they read the same
#: on any clone: the results notebook's last section ("your own runs", default ``runs/``) draws
#: the published runs of one recipe. Set ``FER_RESULTS_RUNS`` to draw yours.
PUBLISHED = {"FER_RESULTS_RUNS": "results/ours_fer2013"}


def kernel_dir(root: Path) -> Path:
    """A Jupyter data folder under ``root`` holding a kernel spec for this very interpreter:
    put it first on ``JUPYTER_PATH``. (A ``python3`` spec found elsewhere could be another
    Python, without this package.)"""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "fer-lightning", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return root


def execute(path: Path, timeout: int = 1800) -> nbformat.NotebookNode:
    """The notebook at ``path`` executed in a kernel of this Python (cwd: its folder); raises
    :class:`CellExecutionError` where a cell raises. Needs ``JUPYTER_PATH`` to start with
    :func:`kernel_dir`'s folder."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    # Saved as a plain Python 3 notebook: the kernel spec above is a temporary one.
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"default: {' '.join(NOTEBOOKS)}")
    parser.add_argument("--check", action="store_true", help="execute, do not write")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NOTEBOOKS]
    if unknown:
        parser.error(f"unknown notebook {unknown[0]!r}; known: {', '.join(NOTEBOOKS)}")
    import os

    with tempfile.TemporaryDirectory() as tmp:
        jupyter = kernel_dir(Path(tmp))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(jupyter), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        )
        for key, value in {**QUIET, **PUBLISHED}.items():
            os.environ.setdefault(key, value)
        for name in args.names or NOTEBOOKS:
            path = HERE / f"{name}.ipynb"
            start = time.perf_counter()
            try:
                nb = execute(path)
            except CellExecutionError as err:
                print(f"{path.name}: a cell failed\n{err}", file=sys.stderr)
                return 1
            if not args.check:
                nbformat.write(nb, path)
            print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
