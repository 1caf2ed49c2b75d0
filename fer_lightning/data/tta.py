"""Ten-crop test-time augmentation (qutub2023): the four corners and the centre of the image
and of its mirror image, each resized back to the model's input size; the model averages the
ten softmaxes (:meth:`fer_lightning.models.classifier.FERClassifier.forward` on 5-D input)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import ten_crop

from fer_lightning.data.sampling import Draw

TTA = Literal["none", "ten_crop"]


def default_crop_size(image_size: int) -> int:
    """qutub2023 crops 40 of 48 pixels: 5/6 of the side."""
    return max(1, round(image_size * 5 / 6))


def ten_crops(image: torch.Tensor, crop_size: int, out_size: int) -> torch.Tensor:
    """``(C, H, W)`` -> ``(10, C, out_size, out_size)``: torchvision's TenCrop (corners and
    centre, then the same of the horizontally flipped image), resized bilinearly."""
    crops = torch.stack(ten_crop(image, [crop_size, crop_size]))
    if crop_size != out_size:
        crops = F.interpolate(
            crops, size=(out_size, out_size), mode="bilinear", align_corners=False
        )
    return crops


class TenCropDataset(Dataset):
    """Wraps a dataset of ``(image (C, H, W), label)``: each image becomes its ten crops."""

    def __init__(self, dataset: Dataset, crop_size: int, out_size: int) -> None:
        self.dataset = dataset
        self.crop_size = crop_size
        self.out_size = out_size

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int | Draw) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.dataset[index]  # a Draw passes through: its seed is the crop's too
        return ten_crops(image, self.crop_size, self.out_size), label
