"""``fer-lightning robustness``: a model's test accuracy under flips, brightness, contrast,
rotation, blur, JPEG compression, shifts and occlusion, each against clean with a 95 % interval.

The perturbations are :data:`fer_lightning.evaluation.robustness.PERTURBATIONS` (a registry a
user extends); the test images are the split the model was tested on (its run's config.yaml,
or a bundle's experiment and split), or those of ``--exp`` / ``--config``. Writes
``robustness.md`` and ``robustness.json`` (read by the model card) beside the model's run, or
into ``runs/robustness/<stamp>/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.paths import refuse_overwriting
from fer_lightning.run import layout

#: What the model's data is built with: the plain test images (no TTA), no run directory.
OVERRIDES = ["--data.tta=none", "--model.pretrained=false", "--run_dir=null"]


def _shown(path: Path) -> str:
    """A path as a record keeps it: relative to the package's checkout where it lies inside."""
    try:
        return Path(path).resolve().relative_to(zoo.ZOO_DIR.parent).as_posix()
    except ValueError:
        return str(path)


def model_path(arg: str | None) -> Path:
    """The model file ``--ckpt`` names (default: the model the package ships). The one place
    a model argument becomes a path: a model zoo's names would be resolved here."""
    if arg is None:
        from fer_lightning.inference.bundle_info import default_path

        return default_path()
    path = zoo.resolve(arg)
    assert path is not None
    if not path.is_file():
        raise FERUserError(
            f"--ckpt {arg}: no such file (give a .ckpt written by 'fer-lightning fit' or a "
            "bundled .safetensors model)"
        )
    return path


def run_of_model(path: Path) -> Path | None:
    """The run directory a model belongs to: ``<run>/checkpoints/x.ckpt``, or the folder of a
    bundle with its run's ``config.yaml`` beside it (``results/<exp>/<run>/model.safetensors``)."""
    if path.suffix == ".safetensors":
        return path.parent if layout.config_of(path.parent).is_file() else None
    config = layout.config_of_checkpoint(path)
    return config.parent if config is not None else None


def own_data(path: Path) -> tuple[Path, list[str]]:
    """(experiment YAML or run config.yaml, overrides) of the data a model was tested on."""
    run = run_of_model(path)
    if run is not None:
        return layout.config_of(run), []
    if path.suffix != ".safetensors":
        raise FERUserError(
            f"--ckpt {path}: there is no config.yaml of its run beside it, so its test data is "
            "unknown; name it with --exp NAME or --config FILE"
        )
    from fer_lightning import experiments
    from fer_lightning.build import settings
    from fer_lightning.inference.bundle_info import read_metadata

    provenance = read_metadata(path)["provenance"]
    name = provenance.get("experiment")
    if not name:
        raise FERUserError(
            f"--ckpt {path}: its metadata names no experiment, so its test data is unknown; "
            "name it with --exp NAME or --config FILE"
        )
    config = experiments.resolve(str(name))
    split = provenance.get("split")
    data = settings(config).config.get("data") or {}
    init = data.get("init_args") if hasattr(data, "get") else None
    has_split = init is not None and "split" in init
    return config, [f"--data.split={split}"] if split and has_split else []


def test_split(
    config: Path, overrides: list[str], stage: str = "test"
) -> tuple[str, Any, np.ndarray, np.ndarray]:
    """(experiment name, datamodule, ``stage``'s images uint8, labels) as the experiment's
    datamodule loads them (the objects ``fit`` would build: :func:`fer_lightning.build.build`)."""
    from fer_lightning.build import build
    from fer_lightning.data.dataset import ArrayDataset

    built = build(config, [*overrides, *OVERRIDES])
    dm = built.datamodule
    dataset = dm.dataset(stage)
    while not isinstance(dataset, ArrayDataset) and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return built.name, dm, np.asarray(dataset.images), np.asarray(dataset.labels)


def check_classes(model_classes: list[str], data_classes: list[str], model: Path) -> None:
    from fer_lightning.data.labels import canonical

    if [canonical(c) for c in model_classes] != [canonical(c) for c in data_classes]:
        raise FERUserError(
            f"the model {model} has classes {', '.join(model_classes)} but the data has "
            f"{', '.join(data_classes)}: robustness needs the model's own classes, in its order"
        )


def limited(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """The test images evaluated: all, or the first ``limit`` of the seeded class-stratified
    order (as ``--trainer.limit_test_batches`` takes them), in their original order."""
    from fer_lightning.data.splits import stratified_order

    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    return np.sort(stratified_order(labels, 0)[:limit])


def targets(out: Path, inputs: list[Path], stage: str = "test") -> list[Path]:
    """``robustness.md`` and ``robustness.json`` (``robustness_val.*`` for the validation
    split) in ``out``; refused when one is an input."""
    paths = [out / name for name in layout.robustness_files(stage)]
    for path in paths:
        refuse_overwriting(path, inputs, "--out")
    return paths


def write(result: Any, out: Path, inputs: list[Path], stage: str = "test") -> list[Path]:
    """:func:`targets`' files in ``out`` (never over an input)."""
    paths = targets(out, inputs, stage)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FERUserError(f"--out {out}: cannot create it ({err.strerror or err})") from None
    texts = [
        f"# Robustness\n\n{describe(result)}\n\n{result.markdown()}",
        json.dumps(result.to_json(), indent=1) + "\n",
    ]
    for path, text in zip(paths, texts, strict=True):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return paths


def describe(result: Any) -> str:
    a = result.about
    limit = f" (--limit {a['limit']} of {a['split_images']})" if a.get("limit") else ""
    return (
        f"Model `{a['model']}` on the {a.get('stage', 'test')} split of `{a['data_config']}` "
        f"({a['dataset']}, split {a['split']}): {result.test_images:,} images{limit}, "
        f"test-time augmentation {result.tta}. Change: perturbed minus clean accuracy in "
        f"percentage points; interval: {result.ci_method}."
    )


def main(argv: list[str]) -> int:
    from fer_lightning.evaluation.robustness import DESCRIPTIONS

    listing = "; ".join(f"{name}: {text}" for name, text in DESCRIPTIONS.items())
    parser = argparse.ArgumentParser(
        prog="fer-lightning robustness",
        description="Test accuracy of a model under perturbations of its test images, each "
        "against clean: change in points, paired 95 %% bootstrap interval, share of "
        "predictions changed. Writes robustness.md and robustness.json.",
    )
    parser.add_argument(
        "--ckpt",
        help="the model: a .ckpt written by 'fer-lightning fit', a bundled .safetensors or a "
        "zoo name ('fer-lightning models'; default: the model the package ships)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--exp", help="test on this experiment's test split (default: the model's own)"
    )
    which.add_argument("--config", type=Path, help="test on this experiment YAML's test split")
    parser.add_argument(
        "--perturbations",
        help=f"comma-separated names (default: all). Known: {listing.replace('%', '%%')}",
    )
    parser.add_argument(
        "--limit", type=int, help="evaluate this many test images (seeded, class-stratified)"
    )
    parser.add_argument("--tta", choices=("none", "ten_crop"), default="none",
                        help="test-time augmentation (default none: one image)")  # fmt: skip
    parser.add_argument("--batch_size", type=int, default=256, help="images per forward pass")
    parser.add_argument(
        "--stage",
        choices=("test", "val"),
        default="test",
        help="the images perturbed: the test split (default; the model card's figures) or the "
        "validation split, to compare training recipes without looking at the test "
        "(written as robustness_val.md / .json)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder of robustness.md / .json (default: the model's run directory, else "
        "runs/robustness/<stamp>)",
    )
    args = parser.parse_args(argv)
    from fer_lightning.commands.common import experiment_path
    from fer_lightning.evaluation import robustness

    names = None
    if args.perturbations is not None:
        names = [n.strip() for n in args.perturbations.split(",") if n.strip()]
    names = robustness.chosen(names)  # before anything heavy
    if args.limit is not None and args.limit < 1:
        raise FERUserError(f"--limit {args.limit}: give a number of test images of at least 1")
    if args.batch_size < 1:
        raise FERUserError(f"--batch_size {args.batch_size}: give at least 1")
    path = model_path(args.ckpt)
    if args.exp is not None or args.config is not None:
        config, overrides, run = experiment_path(args), [], None
    else:
        config, overrides = own_data(path)
        run = run_of_model(path)
    inputs = [path, config]
    if args.out is not None or run is not None:
        targets(args.out or run, inputs, args.stage)  # refused before the work, not after

    from fer_lightning.data.copies import image_ids, test_set_id
    from fer_lightning.inference.bundled import load_any

    loaded = load_any(path)
    print(loaded.describe(), file=sys.stderr)
    experiment, dm, images, labels = test_split(config, overrides, args.stage)
    check_classes(loaded.class_names, list(dm.class_names), path)
    keep = limited(labels, args.limit)
    about = {
        "model": args.ckpt if args.ckpt and zoo.looks_like_name(str(args.ckpt)) else _shown(path),
        "backbone": str(loaded.model.hparams.backbone),
        "experiment": loaded.experiment or experiment,
        "data_config": _shown(Path(config)),
        "data_overrides": overrides,
        "dataset": getattr(dm, "name", None) or type(dm).__name__,
        "split": getattr(dm, "split", None),
        "stage": args.stage,
        "split_images": int(len(labels)),
        "limit": args.limit if len(keep) < len(labels) else None,
        # Which images, in any order (as a test report's ``test_set``): a record on the
        # validation split can never pass for the test's.
        "image_set": test_set_id(image_ids(images[keep]), labels[keep]),
        "class_names": list(loaded.class_names),
    }
    print(
        f"{len(keep):,} of {len(labels):,} {args.stage} images, {len(names)} perturbation(s)",
        file=sys.stderr,
    )

    def evaluate() -> Any:
        result = robustness.evaluate(
            loaded,
            images[keep],
            labels[keep],
            names,
            batch_size=args.batch_size,
            tta=args.tta,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        result.about = about
        return result

    if args.out is not None or run is not None:
        result = evaluate()
        written = write(result, args.out or run, inputs, args.stage)
    else:
        with layout.robustness_dir() as out:
            result = evaluate()
            written = write(result, out, inputs, args.stage)
    print(describe(result))
    print()
    print(result.markdown())
    print(f"wrote {written[0]} and {written[1]}")
    return 0
