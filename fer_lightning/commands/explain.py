"""``fer-lightning explain``: Grad-CAM heatmaps of a trained classifier (pytorch-grad-cam).

``--ckpt CKPT PATH...``: one PNG per image (the whole image is the face, resized as in
evaluation): the face, and the heatmap for the predicted class (and ``--class`` when given).
``--run RUN_DIR``: the run's ``explanations.png`` from its test images and ``predictions.npz``
(the most confident right and wrong test image of every class), as every test report has.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout


def _class_index(name: str, class_names: list[str]) -> int:
    if name in class_names:
        return class_names.index(name)
    raise FERUserError(f"--class {name!r} is not one of the model's classes: {class_names}")


def explain_images(ckpt: Path, paths: list[Path], out: Path, chosen: str | None) -> list[Path]:
    from fer_lightning.evaluation import plots
    from fer_lightning.evaluation.explain import display_image, gradcam, overlay
    from fer_lightning.inference.checkpoint import load_model
    from fer_lightning.inference.media import read_image

    loaded = load_model(ckpt)
    names = loaded.class_names
    extra = _class_index(chosen, names) if chosen else None
    prep = loaded.preprocessing
    faces = [prep.to_training_color(read_image(path)) for path in paths]  # all read first
    x = prep.to_tensor(faces)
    heat, probs = gradcam(loaded.model, x)
    heat_extra = gradcam(loaded.model, x, [extra] * len(paths))[0] if extra is not None else None
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, path in enumerate(paths):
        image = display_image(x[i], prep.mean, prep.std)
        predicted = int(probs[i].argmax())
        panels = 3 if heat_extra is not None else 2
        fig = plots._figure(2.4 * panels, 2.8)
        axes = fig.subplots(1, panels)
        axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        axes[0].set(xticks=[], yticks=[], title=path.name)
        overlay(axes[1], image, heat[i], f"pred {names[predicted]} ({probs[i, predicted]:.2f})")
        if heat_extra is not None:
            overlay(axes[2], image, heat_extra[i], f"{names[extra]} ({probs[i, extra]:.2f})")
        target = out / f"{path.stem}-gradcam.png"
        written.append(plots.save(fig, target))
        print(f"{path}: {names[predicted]} ({probs[i, predicted]:.2f}) -> {target}")
    return written


def explain_run(run_dir: Path, ckpt: Path | None, out: Path) -> Path:
    """The run's explanations.png, from its config's test split and its predictions.npz."""
    from fer_lightning.build import build
    from fer_lightning.data.dataset import ArrayDataset
    from fer_lightning.evaluation import plots
    from fer_lightning.evaluation.explain import explanations_figure
    from fer_lightning.evaluation.predictions import Predictions
    from fer_lightning.evaluation.writer import EXPLANATIONS_PNG
    from fer_lightning.inference.checkpoint import load_model

    config = layout.run_config(run_dir)
    predictions = Predictions.load(run_dir)
    loaded = load_model(ckpt or layout.best_checkpoint(run_dir))
    # The run's data as its fit built it, the plain test images (no TTA); not into the run.
    overrides = ["--data.tta=none", "--model.pretrained=false", "--run_dir=null"]
    dm = build(config, overrides).datamodule
    dataset = dm.dataset("test")
    while not isinstance(dataset, ArrayDataset) and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    if not np.array_equal(np.asarray(dataset.labels), predictions.targets):
        raise FERUserError(
            f"{run_dir}: the test split its config.yaml loads now does not match its "
            "predictions.npz (labels differ); 'fer-lightning report' rewrites them together"
        )

    def inputs(indices: list[int]) -> torch.Tensor:
        return torch.stack([dataset[i][0] for i in indices])

    fig = explanations_figure(loaded.model, predictions, inputs, dm.mean, dm.std)
    out.mkdir(parents=True, exist_ok=True)
    return plots.save(fig, out / EXPLANATIONS_PNG)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning explain",
        description="Grad-CAM heatmaps: of face images (--ckpt CKPT PATH...), or of a run's "
        "most confident right and wrong test images per class (--run RUN_DIR).",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="face images (with --ckpt)")
    parser.add_argument(
        "--ckpt",
        type=Path,
        help="a checkpoint written by 'fer-lightning fit', or a zoo name ('fer-lightning models')",
    )
    parser.add_argument("--run", type=Path, help="a run directory: write its explanations.png")
    parser.add_argument(
        "--class", dest="chosen", help="also explain this class (default: the predicted one)"
    )
    parser.add_argument(
        "--out", type=Path, help="default: the run directory (--run) or ./explanations"
    )
    args = parser.parse_args(argv)
    args.ckpt = zoo.resolve(args.ckpt)
    if args.ckpt is not None and not args.ckpt.is_file():
        raise FERUserError(f"--ckpt {args.ckpt}: no such file")
    if args.run is not None:
        if args.paths:
            raise FERUserError("--run explains the run's test images; give no image paths")
        print(f"wrote {explain_run(args.run, args.ckpt, args.out or args.run)}")
        return 0
    if args.ckpt is None or not args.paths:
        raise FERUserError("give --ckpt CKPT and one or more image paths, or --run RUN_DIR")
    missing = [p for p in args.paths if not p.is_file()]
    if missing:
        raise FERUserError(f"{missing[0]} is not a file")
    explain_images(args.ckpt, args.paths, args.out or Path("explanations"), args.chosen)
    return 0
