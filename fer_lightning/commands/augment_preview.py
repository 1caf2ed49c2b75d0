"""``fer-lightning augment-preview --config experiments/NAME.yaml --out grid.png``: a grid of
training images, the original next to several augmented versions, as the papers' augmentation
figures (qutub2023 Figs. 4-5).

The datamodule is the one ``fit`` builds from the experiment (:mod:`fer_lightning.build`), so
the preview shows exactly the training pipeline: augmentation, resize to the input size,
channels and, un-normalised for display, random erasing. For presets with ten-crop training
samples the image before cropping is shown, with the crop box of one of its ten crops.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_lightning import experiments
from fer_lightning.data.base import FERDataModule
from fer_lightning.data.transforms import describe_augment, train_ten_crop
from fer_lightning.errors import FERUserError


def _display(image: torch.Tensor, mean: Any, std: Any) -> np.ndarray:
    """A normalised ``(C, H, W)`` tensor back to an ``(H, W[, 3])`` array in [0, 1]."""
    c = image.shape[0]
    m = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1).expand(c, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1).expand(c, 1, 1)
    out = (image * s + m).clamp(0, 1)
    return out[0].numpy() if c == 1 else out.permute(1, 2, 0).numpy()


def preview(
    dm: FERDataModule, out: Path, samples: int = 6, augmented: int = 5, seed: int = 0
) -> Path:
    """Write the grid: ``samples`` training images (one per class first), each original and
    ``augmented`` times augmented."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from fer_lightning.data.dataset import ArrayDataset

    dm.setup("fit")
    split = dm._split("train")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(split))
    picked: list[int] = []
    for cls in range(dm.num_classes):  # one image of each class first, then any
        hit = next((i for i in order if split.labels[i] == cls), None)
        if hit is not None and len(picked) < samples:
            picked.append(int(hit))
    picked += [int(i) for i in order if int(i) not in picked][: samples - len(picked)]

    torch.manual_seed(seed)
    aug = ArrayDataset(split.images, split.labels, dm.pipeline(train=True), dm.channels)
    aug.transform.set_random_seed(seed)
    crop = train_ten_crop(dm.augment, dm.image_size)
    if crop:  # TenCrop's boxes: the four corners and the centre (and the same when mirrored)
        far, mid = dm.image_size - crop, round((dm.image_size - crop) / 2)
        corners = [(0, 0), (far, 0), (0, far), (far, far), (mid, mid)]
    gray = split.images.ndim == 3

    cols = 1 + augmented
    fig, axes = plt.subplots(
        len(picked), cols, figsize=(1.6 * cols, 1.7 * len(picked)), squeeze=False
    )
    for row, index in enumerate(picked):
        original = split.images[index]
        axes[row][0].imshow(original, cmap="gray" if gray else None, vmin=0, vmax=255)
        axes[row][0].set_ylabel(dm.class_names[split.labels[index]], fontsize=8)
        for col in range(1, cols):
            image = _display(aug[index][0], dm.mean, dm.std)
            ax = axes[row][col]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            if crop:  # one of the ten crops each sample becomes, drawn on the image
                left, top = corners[int(rng.integers(len(corners)))]
                ax.add_patch(Rectangle((left, top), crop, crop, fill=False, ec="yellow", lw=0.8))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_title("original", fontsize=8)
    for col in range(1, cols):
        axes[0][col].set_title(f"augmented {col}", fontsize=8)
    name = describe_augment(dm.augment)
    extra = f", + ten {crop}x{crop} crops per sample (one drawn)" if crop else ""
    fig.suptitle(
        f"{type(dm).__name__}: augment '{name}', input {dm.image_size}x{dm.image_size}"
        f"x{dm.channels}{extra}",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning augment-preview",
        description="Save a grid of training images: original vs augmented, as the experiment "
        "trains on them.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", type=Path, help="experiment YAML")
    group.add_argument("--exp", help="experiment name (experiments/NAME.yaml)")
    parser.add_argument("--out", type=Path, default=Path("augment_preview.png"))
    parser.add_argument(
        "--data-dir",
        "--data_dir",
        dest="data_dir",
        help="data root (default: the experiment's / $FER_DATA_DIR)",
    )
    parser.add_argument("--augment", help="another preset name than the experiment's")
    parser.add_argument("--samples", type=int, default=6, help="rows (training images)")
    parser.add_argument("--augmented", type=int, default=5, help="augmented versions per row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = args.config if args.config else experiments.resolve(args.exp)
    # The model is built too (the data's links go to it); its ImageNet weights are not needed.
    overrides = ["--data.num_workers=0", "--model.pretrained=false"]
    if args.data_dir:
        overrides.append(f"--data.data_dir={args.data_dir}")
    if args.augment:
        overrides.append(f"--data.augment={args.augment}")
    if args.samples < 1 or args.augmented < 1:
        raise FERUserError("--samples and --augmented must be at least 1")
    from fer_lightning.build import build  # Lightning: only once the arguments are fine

    dm = build(path, overrides).datamodule
    out = preview(dm, args.out, args.samples, args.augmented, args.seed)
    print(f"wrote {out}")
    return 0
