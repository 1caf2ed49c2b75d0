"""The notebooks (notebooks/*.ipynb) run headless on small inputs, so they cannot silently rot.

Each is executed as ``make notebooks`` executes it (``notebooks/run.py``), with
``FER_NOTEBOOK_SMALL=1`` and ``FER_DATA_DIR`` at a small generated data root: FER+ in its
official layout, FER2013 made of the same images (with two test images copied from training
images, one relabelled) and CK+ (five people, so that using_a_model's own folder made of it
splits into five folds by person). A cell that raises fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from fer_lightning.data.labels import FER7
from tests.helpers.fakedata import ferplus_rows, write_ckplus, write_ferplus
from tests.helpers.notebook_runner import run
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow  # a Jupyter kernel each, importing torch


#: Per notebook: text its outputs must hold, and the least number of pictures.
EXPECTED: dict[str, tuple[list[str], int]] = {
    "dataset_tour": (["exact copies of a training image", "joined one to one", "contradicts"], 8),
    "results": (["identical to results/tables.md: True", "best on val/acc", "run(s) under"], 6),
    "errors_and_explanations": (["test images, accuracy", "test ECE", "worst: "], 5),
    "using_a_model": (
        [
            "$ fer-lightning recognize --about",
            "faces in",
            "frames of 640x480",
            "$ fer-lightning fit --exp ours_own_folder --data.data_dir=my_faces",
            "Test accuracy **",
            "happy, sad, surprise",
            "results/ours_own_folder/ckplus-folder-fold0: fer-lightning fit",
        ],
        5,
    ),
}


def write_small_data(root: Path) -> Path:
    """FER+ (official layout), a FER2013 image folder of the same images with each row's FER2013
    label, two exact copies of training images among the test images (one relabelled), CK+."""
    write_ferplus(root)
    usages = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
    files = []
    for i, (usage, _, _, label, image) in enumerate(ferplus_rows()):
        path = root / "fer2013" / usages[usage] / FER7[label] / f"{usage}_{1000 + i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(path, quality=95)
        files.append((usage, label, path))
    training = [(label, path) for usage, label, path in files if usage == "Training"]
    for k, (label, path) in enumerate(training[:2]):
        shown = FER7[(label + k) % len(FER7)]  # the second copy is labelled otherwise
        (root / "fer2013" / "test" / shown).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "fer2013" / "test" / shown / f"PublicTest_{9000 + k}.jpg")
    write_ckplus(root, subjects=5)  # five people a class: five folds by person
    return root


@pytest.fixture(scope="module")
def small_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("notebooks")
    return {
        "FER_DATA_DIR": str(write_small_data(tmp / "data")),
        "FER_CACHE_DIR": str(tmp / "cache"),
        "FER_PHOTOS_DIR": str(tmp / "no-photos"),  # the photos inside installed packages only
        **run.PUBLISHED,  # published runs stand for your own
        "FER_NOTEBOOK_SMALL": "1",
        "JUPYTER_PATH": str(run.kernel_dir(tmp / "jupyter")),
        **run.QUIET,
    }


@pytest.mark.parametrize("name", run.NOTEBOOKS)
def test_notebook_executes(
    name: str, small_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    nb = run.execute(REPO / "notebooks" / f"{name}.ipynb", timeout=300)

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(
        out.get("text", "") + out.get("data", {}).get("text/markdown", "") for out in outputs
    )
    phrases, pictures = EXPECTED[name]
    for phrase in phrases:
        assert phrase in text, f"{name}: no output says {phrase!r}"
    pngs = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(pngs) >= pictures, f"{name}: {len(pngs)} pictures, expected {pictures} or more"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_every_notebook_is_run() -> None:
    """Every notebook in notebooks/ is one make notebooks runs (and so this test)."""
    found = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    assert found == sorted(run.NOTEBOOKS)
