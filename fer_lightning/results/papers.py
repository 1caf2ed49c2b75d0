"""What the reproduced studies report, per experiment: the reference column of the tables.

These are the papers' own numbers (``../shared/docs/protocols.md``), typed once here; our numbers
never are: they come from ``results/`` (see :mod:`fer_lightning.results.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    #: The metric the paper's numbers are: test accuracy, or validation accuracy (jahangir2024).
    metric: str = "test accuracy"

    @property
    def split(self) -> str:
        """What the numbers were measured on: ``test`` or ``validation``."""
        return self.metric.split()[0]


@dataclass(frozen=True)
class PaperResult:
    paper: str
    #: The paper's accuracy in percent.
    accuracy: float
    #: The paper's parameter count, where it gives one.
    parameters: int | None = None
    #: Test images in the paper's evaluation, where it says.
    test_images: int | None = None
    #: What a run needs that this project's machines lack (empty: runnable on a 2-core CPU).
    needs: tuple[str, ...] = ()
    #: How our protocol differs from the paper's, beyond what the run's own files record.
    differs: str = ""
    #: The combination the paper's own sweep found best, where it ran one.
    sweep_best: str = ""


PAPERS: dict[str, Paper] = {
    p.key: p
    for p in (
        Paper("qutub2023", "Qutub & Atay 2023: Deep learning approaches for FER (FER2013, RAF-DB)"),
        Paper("almsari2024", "Almsari et al. 2024: Deep learning models for FER (CK+)"),
        Paper("trinh2023", "Trinh et al. 2023: GoogLeNet, ResNet50V2 and ViT on FER2013"),
        Paper(
            "jahangir2024",
            "Jahangir et al. 2024: VGG on FER2013 from scratch, transfer, fine-tuning",
            metric="validation accuracy",
        ),
        Paper("bodapati2024", "Bodapati 2024: FER with an optimised CNN (FER2013 cleaned)"),
        Paper(
            "barsoum2016",
            "Barsoum et al. 2016: FER+, deep networks from crowd-sourced label distributions",
        ),
    )
}

_IMAGENET = "ImageNet weights"
_RAFDB = "RAF-DB data"
_GPU = "a GPU (224 px inputs)"

_BARSOUM2016 = (
    "the paper's mean of 5 runs (majority 83.852 +- 0.631 %, cross-entropy 84.986 +- 0.366 %); "
    "the last learning-rate step is x0.25 here, x0.1 in microsoft/FERPlus; the images are "
    "normalised by a fixed mean and std, not the FER+ code's per-image normalisation"
)

RESULTS: dict[str, PaperResult] = {
    "baseline_fer2013": PaperResult(
        "qutub2023",
        60.85,
        1_672_775,
        differs="widths are ours (the paper gives only the count); training uses one augmented "
        "image per sample, not ten crops; epochs and schedule are ours",
    ),
    "efficientnet_b0_fer2013": PaperResult("qutub2023", 67.09, 4_016_515, 7_178, (_IMAGENET,)),
    "resnet18_fer2013": PaperResult("qutub2023", 68.07, 11_180_103, 7_178, (_IMAGENET,)),
    "vgg16_fer2013": PaperResult("qutub2023", 70.20, 33_625_927, 7_178, (_IMAGENET,)),
    "vgg19_fer2013": PaperResult("qutub2023", 71.02, 45_227_079, 7_178, (_IMAGENET,)),
    "efficientnet_b0_rafdb": PaperResult("qutub2023", 84.55, 4_016_515, 3_068, (_IMAGENET, _RAFDB)),
    "resnet18_rafdb": PaperResult("qutub2023", 86.02, 11_180_103, 3_068, (_IMAGENET, _RAFDB)),
    "vgg16_rafdb": PaperResult("qutub2023", 85.88, 33_625_927, 3_068, (_IMAGENET, _RAFDB)),
    "vgg19_rafdb": PaperResult("qutub2023", 85.87, 45_227_079, 3_068, (_IMAGENET, _RAFDB)),
    "cnn_ckplus": PaperResult(
        "almsari2024",
        98.0,
        differs="the paper splits images at random (the same person, often the same sequence, "
        "in train and test): `random` rows follow it, `subject` rows keep people apart",
    ),
    "vgg16_ckplus": PaperResult("almsari2024", 97.0, needs=(_IMAGENET,)),
    "inception_v3_ckplus": PaperResult("almsari2024", 99.0, needs=(_IMAGENET,)),
    "mobilenet_v2_ckplus": PaperResult("almsari2024", 100.0, needs=(_IMAGENET,)),
    "densenet121_ckplus": PaperResult("almsari2024", 96.0, needs=(_IMAGENET,)),
    "googlenet_fer2013": PaperResult(
        "trinh2023",
        55.0,
        differs="the paper adapts GoogLeNet to 48x48 gray without saying how (ours: "
        "torchvision's, first convolution on one channel) and names its augmentations without "
        "ranges (ours: preset `trinh2023`); its 2 h for 60 epochs were on unstated hardware",
    ),
    "resnet50v2_fer2013": PaperResult("trinh2023", 68.0, needs=(_IMAGENET,)),
    "vit_b16_fer2013": PaperResult("trinh2023", 69.0, needs=(_IMAGENET, _GPU)),
    "vgg16_fer2013_scratch": PaperResult("jahangir2024", 67.23, needs=(_GPU,)),
    "vgg16_fer2013_transfer": PaperResult("jahangir2024", 67.18, needs=(_IMAGENET, _GPU)),
    "vgg16_fer2013_finetune": PaperResult("jahangir2024", 46.50, needs=(_IMAGENET, _GPU)),
    "resnet50_fer2013_scratch": PaperResult("jahangir2024", 54.69, needs=(_GPU,)),
    "resnet50_fer2013_transfer": PaperResult("jahangir2024", 28.46, needs=(_IMAGENET, _GPU)),
    "resnet50_fer2013_finetune": PaperResult("jahangir2024", 24.75, needs=(_IMAGENET, _GPU)),
    "cnn_fer2013_clean": PaperResult(
        "bodapati2024",
        65.0,
        test_images=7_177,
        differs="the paper gives no epochs, widths or augmentation (ours: 30 epochs, none)",
        sweep_best="AMSGrad with lr 0.01",
    ),
    "vgg13_ferplus_majority": PaperResult(
        "barsoum2016",
        83.85,
        test_images=3_137,
        differs=_BARSOUM2016,
    ),
    "vgg13_ferplus_crossentropy": PaperResult(
        "barsoum2016",
        84.99,
        test_images=3_137,
        differs=_BARSOUM2016,
    ),
}
