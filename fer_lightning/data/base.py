"""The shared LightningDataModule: everything that does not depend on a dataset's layout.

A dataset subclass says what the dataset is called and which class names it has, how to read
its splits from disk (:meth:`FERDataModule.load_splits`) and how to list every image as
published (:meth:`FERDataModule.listing`, for the audit). Setting ``name`` registers it
(:mod:`fer_lightning.data.registry`). Loading, caching, splitting, class weights, augmentation
and loaders live here once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.data import suggested_max_num_workers
from torch.utils.data import DataLoader, Dataset, Subset, WeightedRandomSampler

from fer_lightning.data import registry
from fer_lightning.data.dataset import ArrayDataset, seed_worker_transform
from fer_lightning.data.distill import check_teachers, distill_targets
from fer_lightning.data.distill import parse as parse_distill
from fer_lightning.data.labels import canonical
from fer_lightning.data.sampling import EpochSampler, ResumableLoader
from fer_lightning.data.splits import stratified_order
from fer_lightning.data.transforms import (
    TransformSpec,
    build_pipeline,
    resolve_augment,
    robust_specs,
    train_ten_crop,
)
from fer_lightning.data.tta import TTA, TenCropDataset, default_crop_size
from fer_lightning.distributed import eval_sampler
from fer_lightning.errors import DataError, FERUserError
from fer_lightning.paths import data_root

log = logging.getLogger(__name__)


def check_settings(
    *,
    batch_size: int,
    num_workers: int | str,
    image_size: int,
    channels: int,
    mean: float | list[float],
    std: float | list[float],
    val_fraction: float,
) -> None:
    """Refuse impossible data settings when the datamodule is configured, before any data is
    read, each in one sentence naming the ``data.*`` key (not the library that would fail)."""

    def bad(key: str, value: object, valid: str) -> FERUserError:
        return FERUserError(f"data.{key} must be {valid}, got {value!r}")

    if isinstance(batch_size, bool) or batch_size < 1:
        raise bad("batch_size", batch_size, "a positive integer")
    if num_workers != "auto" and (
        isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0
    ):
        raise bad("num_workers", num_workers, "a whole number >= 0 or 'auto'")
    if image_size < 1:
        raise bad("image_size", image_size, "a positive number of pixels (e.g. 48)")
    if channels not in (1, 3):
        raise bad("channels", channels, "1 (grayscale) or 3 (RGB / gray replicated)")
    if not 0 < val_fraction < 1:
        raise bad("val_fraction", val_fraction, "a fraction strictly between 0 and 1")
    for key, value in (("mean", mean), ("std", std)):
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) not in (1, 3):
            raise bad(key, value, "a number or a list of 3 (one per RGB channel)")
        if key == "std" and any(v <= 0 for v in values):
            raise bad(key, value, "positive (the images are divided by it)")


def auto_num_workers(processes_per_machine: int = 1) -> int:
    """DataLoader workers per training process: the CPU cores this process may use (its CPU
    affinity, which cgroups and ``taskset`` restrict) shared among the machine's training
    processes, less one for the process itself, and at least one (Lightning's
    ``suggested_max_num_workers``). On 2 cores: 1 worker. ``make bench`` measured one worker
    delivering 7x the images/s ``baseline_fer2013``'s model trains on, so a second one only
    competes with the model for the two cores, while with none the augmentation runs between
    the model's steps (see the README's "DataLoader workers").
    """
    return suggested_max_num_workers(max(1, processes_per_machine))


@dataclass
class Split:
    """Decoded images (uint8) and integer labels of one split."""

    images: np.ndarray
    labels: np.ndarray
    #: Per-item group (e.g. CK+ subject id) where the dataset has one, for group-aware splits.
    groups: np.ndarray | None = None
    #: Per-item float training targets (N, classes) where the dataset has them (FER+'s vote
    #: distributions); training yields them instead of ``labels``, evaluation never does.
    targets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Split:
        groups = None if self.groups is None else self.groups[index]
        targets = None if self.targets is None else self.targets[index]
        return Split(self.images[index], self.labels[index], groups, targets)


@dataclass
class ListedSplit:
    """One of a dataset's own splits as published (e.g. FER2013's PublicTest): decoded images,
    labels and a name per image (its file, or csv row)."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str]


@dataclass
class Listing:
    """Every image of a dataset folder, by the dataset's own splits: what the audit reads."""

    splits: dict[str, ListedSplit]
    #: How many image files of each ``WxH mode format`` (see :func:`images.file_kinds`).
    files: dict[str, int]
    #: The names of the listing's labels where they are not the datamodule's classes (FER+
    #: lists its unknown and not-a-face images too).
    class_names: tuple[str, ...] | None = None


class FERDataModule(L.LightningDataModule):
    """Base class: subclasses set ``name`` and ``class_names`` and implement
    :meth:`load_splits` and :meth:`listing`."""

    #: The dataset's name (``fer-lightning audit <name>``). A subclass that sets it registers
    #: itself as that dataset; one that does not (a test's, a benchmark's) is no dataset.
    name: ClassVar[str | None] = None
    class_names: tuple[str, ...] = ()
    #: The canonical (FER2013) name of each class named otherwise, e.g. ``{"anger": "angry"}``:
    #: a model trained on one dataset is tested on another by matching class names.
    synonyms: ClassVar[dict[str, str]] = {}
    #: Folder under the data root that holds this dataset.
    folder: str = ""
    #: PIL mode of the decoded images, "L" or "RGB": ``recognize`` converts faces to it.
    image_mode: str = "L"
    #: The dataset's name and what its folder holds, for :meth:`not_found`.
    title: str = ""
    layout: str = ""
    #: Training items carry a distribution (``Split.targets``) that a label is drawn from each
    #: time the item is loaded, seeded by the item's draw (FER+'s ``probability`` mode).
    sample_targets: bool = False

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 64,
        num_workers: int | Literal["auto"] = "auto",
        image_size: int = 48,
        channels: int = 1,
        augment: str | list[TransformSpec] = "qutub2023_single",
        mean: float | list[float] = 0.5,
        std: float | list[float] = 0.25,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        pin_memory: bool | None = None,
        weighted_sampler: bool = False,
        tta: TTA = "none",
        tta_crop_size: int | None = None,
        robust_augment: dict[str, float] | None = None,
        classes: list[str] | None = None,
        distill: dict[str, Any] | None = None,
    ) -> None:
        """
        Args:
            data_dir: the data root (the dataset is in ``<data_dir>/<folder>``) or the dataset
                folder itself; default ``$FER_DATA_DIR``, else ``./data``.
            num_workers: DataLoader worker processes; ``auto`` (:func:`auto_num_workers`):
                one fewer than the CPU cores per training process, at least one.
            image_size: side the images are resized to (bilinear) before the model.
            channels: 1 keeps grayscale; 3 replicates it for ImageNet backbones.
            augment: a preset name (see ``fer_lightning.data.transforms.PRESETS``) or a list of
                ``{name: <albumentations class>, **kwargs}``. The default is qutub2023's
                augmentation without its ten-crop samples (``qutub2023`` has them: 10x work).
            mean, std: normalisation, on the 0-1 scale.
            val_fraction: fraction of train held out (stratified) where a split protocol
                carves validation from train.
            split_seed: seed of that split; separate from the training seed so that runs
                with different seeds see the same validation images.
            weighted_sampler: draw training batches with a ``WeightedRandomSampler`` (with
                replacement, weights from :meth:`class_weights`) so classes come equally often.
            tta: test-time augmentation of the test and predict loaders, and of the validation
                loader in ``validate`` (not during fit): ``ten_crop`` feeds the ten crops of
                each image and the model averages their softmaxes.
            tta_crop_size: side of those crops, resized back to ``image_size``; default 5/6 of
                ``image_size`` (40 of 48, as qutub2023).
            robust_augment: robust-training options added to the training augmentation, each
                with its probability: ``blur``, ``jpeg``, ``occlusion``
                (``fer_lightning.data.transforms.ROBUST_AUGMENT``); none by default.
            classes: keep only these of the dataset's classes, labelled in this order (e.g.
                ``[happy, sad, neutral]``: 0, 1, 2); the images of the others are dropped from
                every split after it is made, so a subset's test images are the full test
                set's images of those classes. Any synonym spelling is accepted (``angry`` for
                CK+'s ``anger``); the dataset's own spelling is kept. The model, report,
                metrics and bundle get the subset's class names (:attr:`class_names`).
            distill: train on targets that mix each image's label with what teacher models
                say of it (:mod:`fer_lightning.data.distill`): ``{teachers: [MODEL, ...],
                weight: 0.5, temperature: 1.0}``, each MODEL a zoo name, checkpoint or bundled
                weights file; the teachers evaluate the training images once, before
                training. Validation and test keep their labels. Off by default.
        """
        super().__init__()
        check_settings(
            batch_size=batch_size,
            num_workers=num_workers,
            image_size=image_size,
            channels=channels,
            mean=mean,
            std=std,
            val_fraction=val_fraction,
        )
        resolve_augment(augment)  # fail at config time, not after loading the data
        robust_specs(robust_augment)
        self.distill = parse_distill(distill)
        self._distilled: np.ndarray | None = None
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.image_size = image_size
        self.channels = channels
        self.augment = augment
        self.mean = mean
        self.std = std
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.weighted_sampler = weighted_sampler
        self.tta = tta
        self.robust_augment = dict(robust_augment or {})
        self.tta_crop_size = tta_crop_size or default_crop_size(image_size)
        if not 0 < self.tta_crop_size <= image_size:
            raise FERUserError(
                f"data.tta_crop_size {self.tta_crop_size} must be within 1-{image_size} "
                "(the image_size)"
            )
        self.splits: dict[str, Split] | None = None
        self.classes = None if classes is None else [str(c) for c in classes]
        #: The dataset's classes (all of them) and, with ``classes``, each one's new label
        #: (-1: dropped); :attr:`class_names` is what the model is given.
        self.dataset_classes: tuple[str, ...] = ()
        self.label_map: np.ndarray | None = None
        self._select_classes()
        check_teachers(self.distill, self.class_names)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            registry.register(cls)

    # ----------------------------------------------------------------- what subclasses define
    def load_splits(self, root: Path) -> dict[str, Split]:
        """Read ``train``, ``val`` and ``test`` (decoded, uint8) from the dataset folder."""
        raise NotImplementedError

    def listing(self) -> Listing:
        """Every image of the dataset folder (:attr:`root`) by the dataset's own splits as
        published, not a protocol's train / val / test, and the image files by kind."""
        raise NotImplementedError

    def audit_extra(self) -> dict[str, Any]:
        """What the audit reports beyond the shared checks for this dataset (e.g. FER+'s vote
        statistics); a ``markdown`` entry holds its lines for the summary. Default: nothing."""
        return {}

    @staticmethod
    def audit_markdown(extra: dict[str, Any]) -> list[str]:
        """Lines of the audit summary for what :meth:`audit_extra` returned."""
        return []

    def available_classes(self) -> tuple[str, ...]:
        """All of the dataset's class names, before ``classes`` selects some: the class's
        :attr:`class_names` (a dataset whose classes come from its files reads them here)."""
        return tuple(type(self).class_names)

    # ----------------------------------------------------------------------- shared behaviour
    def _select_classes(self) -> None:
        """Set :attr:`class_names` (and :attr:`label_map`) from ``classes``; an unknown,
        repeated or lone class is one sentence listing the dataset's classes."""
        full = self.dataset_classes = tuple(self.available_classes())
        self.class_names = full
        self.label_map = None
        self._kept = list(range(len(full)))
        if self.classes is None:
            return
        title = self.title or type(self).__name__
        known = f"{title}'s classes are {', '.join(full)}"
        index = {canonical(c): i for i, c in enumerate(full)}
        keep: list[int] = []
        for name in self.classes:
            i = index.get(canonical(name))
            if i is None:
                raise FERUserError(f"data.classes: '{name}' is not a class of {title}; {known}")
            if i in keep:
                raise FERUserError(f"data.classes names {full[i]} twice ('{name}'); {known}")
            keep.append(i)
        if len(keep) < 2:
            raise FERUserError(
                f"data.classes must keep at least two classes, got {self.classes}; {known}"
            )
        self.class_names = tuple(full[i] for i in keep)
        self._kept = keep
        if keep != list(range(len(full))):
            self.label_map = np.full(len(full), -1, dtype=np.int64)
            self.label_map[keep] = np.arange(len(keep))

    def kept_classes(self) -> list[int]:
        """The dataset labels that ``classes`` keeps, in their new order (all without it)."""
        return list(self._kept)

    def _keep_classes(self, splits: dict[str, Split]) -> dict[str, Split]:
        """``splits`` with only the images of the kept classes, relabelled in their order
        (float targets keep their columns, a distribution renormalised)."""
        if self.label_map is None:
            return splits
        kept = self.kept_classes()
        out: dict[str, Split] = {}
        dropped = []
        for name, split in splits.items():
            new = self.label_map[split.labels]
            index = np.flatnonzero(new >= 0)
            part = split.subset(index)
            part.labels = new[index]
            if part.targets is not None:
                targets = part.targets[:, kept]
                if np.allclose(split.targets.sum(axis=1), 1.0):  # distributions stay ones
                    totals = targets.sum(axis=1, keepdims=True)
                    targets = targets / np.where(totals > 0, totals, 1.0)
                part.targets = targets.astype(split.targets.dtype)
            out[name] = part
            dropped.append(f"{name} {len(split) - len(part)}")
        log.info(
            "data.classes: %d of %d classes kept (%s); images of the others dropped: %s",
            len(kept),
            len(self.dataset_classes),
            ", ".join(self.class_names),
            ", ".join(dropped),
        )
        return out

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def root(self) -> Path:
        """The dataset folder: ``<data root>/<folder>``, or the data root if it is one."""
        base = data_root(self.data_dir)
        nested = base / self.folder
        return nested if nested.exists() or not base.exists() else base

    def not_found(self, detail: str) -> DataError:
        """The dataset is not where it was looked for: say where that was and what it holds."""
        base = data_root(self.data_dir)
        return DataError(
            f"{self.title or type(self).__name__} not found: {detail}; looked for "
            f"{base / self.folder}/ (or --data.data_dir naming that folder itself) holding "
            f"{self.layout}; set FER_DATA_DIR or --data.data_dir to the folder that holds "
            f"{self.folder}/"
        )

    def layout_problem(self, root: Path) -> str | None:
        """What is wrong with the dataset folder ``root`` at a glance (no file is decoded),
        or None; subclasses check their own layout."""
        return None if root.is_dir() else f"{root} does not exist"

    def check_location(self) -> None:
        """Refuse a wrong data root (:meth:`not_found`) before anything is loaded or created."""
        problem = self.layout_problem(self.root)
        if problem:
            raise self.not_found(problem)

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            splits = self._keep_classes(self.load_splits(self.root))
            if stage == "fit" and len(splits["train"]) == 0:  # Lightning would skip to test
                raise DataError(
                    f"{type(self).__name__}: data.split '{getattr(self, 'split', None)}' has "
                    "no training images, so there is nothing to fit; it is for testing a model "
                    "trained elsewhere (fer-lightning test --ckpt_path CKPT)"
                )
            self.splits = splits
            for name, split in self.splits.items():
                log.info(
                    "%s %s: %d images %s",
                    type(self).__name__,
                    name,
                    len(split),
                    np.bincount(split.labels, minlength=self.num_classes).tolist(),
                )

    def _split(self, name: str) -> Split:
        if self.splits is None:
            self.setup()
        assert self.splits is not None
        return self.splits[name]

    @property
    def val_from_train(self) -> bool:
        """Whether the validation split was carved from the training images (most protocols);
        False where it is a split the dataset publishes apart (FER2013's PublicTest)."""
        return True

    def copy_reference(self) -> tuple[np.ndarray, str]:
        """The images the test images are checked against for copies
        (:mod:`fer_lightning.data.copies`) and what they are: the training images, i.e. the
        train split and the validation split where it was carved from them."""
        train = self._split("train")
        if not self.val_from_train:
            return train.images, "train"
        return np.concatenate([train.images, self._split("val").images]), "train+val"

    def class_counts(self, split: str = "train") -> np.ndarray:
        return np.bincount(self._split(split).labels, minlength=self.num_classes)

    def class_weights(self) -> torch.Tensor:
        """Inverse-frequency weights of the training split, ``N / (K * n_c)`` (mean 1 when
        balanced); a class absent from train gets weight 0."""
        counts = self.class_counts("train").astype(np.float64)
        weights = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0)
        return torch.tensor(weights, dtype=torch.float32)

    def pipeline(self, train: bool, native_size: int | None = None) -> Any:
        seed = int(torch.randint(0, 2**31 - 1, ()).item()) if train else 0
        return build_pipeline(
            image_size=self.image_size,
            mean=self.mean,
            std=self.std,
            augment=self.augment,
            train=train,
            seed=seed,
            native_size=native_size,
            robust=self.robust_augment,
        )

    def dataset(self, split: str, train: bool = False, tta: bool | None = None) -> Dataset:
        """The ``split``'s images through the training (``train``) or evaluation pipeline.
        ``tta``: ten-crop them when ``data.tta`` is ``ten_crop``; default: the test split only
        (the loaders decide per stage, :meth:`_tta_applies`)."""
        data = self._split(split)
        height, width = data.images.shape[1:3]
        native = height if height == width else None
        pipeline = self.pipeline(train, native)
        use_targets = train and (data.targets is not None or self.distill is not None)
        dataset = ArrayDataset(
            data.images,
            self._training_targets() if use_targets else data.labels,
            pipeline,
            self.channels,
            sample=use_targets and self.sample_targets,
        )
        if tta is None:
            tta = split == "test"
        if self.tta == "ten_crop" and tta and not train:
            return TenCropDataset(dataset, self.tta_crop_size, self.image_size)
        if train and (crop := train_ten_crop(self.augment, self.image_size)):
            return TenCropDataset(dataset, crop, self.image_size)  # each crop is a sample
        return dataset

    def _training_targets(self) -> np.ndarray:
        """The training split's float targets: its own (FER+'s votes), mixed with the
        teachers' when ``distill`` is set (computed once per datamodule)."""
        data = self._split("train")
        if self.distill is None:
            assert data.targets is not None
            return data.targets
        if self._distilled is None:
            self._distilled = distill_targets(
                self.distill, data.images, data.labels, self.class_names, data.targets
            )
        return self._distilled

    def train_sampler(self) -> WeightedRandomSampler:
        """Samples training items with probability proportional to their class weight."""
        labels = torch.as_tensor(self._split("train").labels, dtype=torch.long)
        weights = self.class_weights()[labels].double()
        return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)

    def _drops_single_last_batch(self, per_process: int) -> bool:
        """Whether a training epoch of ``per_process`` items on this process (the sampler's
        length: under DDP ``ceil(N / world_size)``) would end in a batch of one image.

        BatchNorm cannot normalise a batch of one in training mode (it raises), so such an
        epoch drops that one image: the order is shuffled, so a different image each epoch."""
        return per_process % self.batch_size == 1

    def _eval_limit(self, stage: str) -> int | float:
        """The trainer's ``limit_<stage>_batches`` (1.0, everything, without a trainer)."""
        limit = getattr(self.trainer, f"limit_{stage}_batches", None)
        return 1.0 if limit is None else limit

    def _limited(self, dataset: Dataset, split: str, stage: str) -> Dataset:
        """``dataset`` in a seeded class-stratified order when the trainer evaluates only its
        first batches (``--trainer.limit_{val,test,predict}_batches``): the items are in class
        order, so those batches would otherwise hold the first class or two only."""
        limit = self._eval_limit(stage)
        if isinstance(limit, float) and limit >= 1.0:
            return dataset
        labels = self._split(split).labels
        log.info(
            "%s: --trainer.limit_%s_batches=%s evaluates a seeded class-stratified subset of "
            "the %d images",
            stage,
            stage,
            limit,
            len(labels),
        )
        return Subset(dataset, stratified_order(labels, self.split_seed).tolist())

    def _epoch_sampler(self, dataset: Dataset) -> EpochSampler:
        """The training order: by ``(seed, epoch)``, resumable mid-epoch, sharded under DDP."""
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        seed = os.environ.get("PL_GLOBAL_SEED")  # set by seed_everything
        if seed is None:  # an unseeded run; all DDP processes must agree on the order
            seed = 0 if world > 1 else int(torch.randint(0, 2**31 - 1, ()).item())
        weights = self.train_sampler().weights if self.weighted_sampler else None
        return EpochSampler(dataset, int(seed), num_replicas=world, rank=rank, weights=weights)

    def workers(self) -> int:
        """``num_workers`` as a number (``auto`` resolved for this machine and run)."""
        if self.num_workers == "auto":
            trainer = self.trainer
            return auto_num_workers(trainer.num_devices if trainer is not None else 1)
        value = self.num_workers
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FERUserError(
                f"data.num_workers must be a whole number >= 0 or 'auto', got {value!r}"
            )
        return value

    def _tta_applies(self, stage: str) -> bool:
        """Test-time augmentation is for the test and predict images, and for the validation
        images when they are evaluated on their own (``fer-lightning validate``: so that a
        choice of TTA can be made on validation data). Fit's validation stays one image each:
        its checkpoint choice and its cost do not change with ``data.tta``."""
        if self.tta == "none":
            return False
        if stage in ("test", "predict"):
            return True
        trainer = getattr(self, "trainer", None)
        return stage == "val" and trainer is not None and trainer.state.fn == "validate"

    def _loader(self, split: str, train: bool, stage: str = "train") -> DataLoader:
        dataset = self.dataset(split, train=train, tta=not train and self._tta_applies(stage))
        if train:  # EpochSampler: an order by (seed, epoch), resumable mid-epoch
            sampler = self._epoch_sampler(dataset)
        else:  # under DDP: each image once (Lightning's sampler pads with repeats)
            dataset = self._limited(dataset, split, stage)
            sampler = eval_sampler(self.trainer, dataset)
        drop_last = train and self._drops_single_last_batch(len(sampler))
        if drop_last:
            log.info(
                "%s %s: %d training samples leave a last batch of one at batch size %d; "
                "it is skipped each epoch (BatchNorm needs two)",
                type(self).__name__,
                split,
                len(dataset),
                self.batch_size,
            )
        workers = self.workers()
        # Workers that outlive an epoch save their start-up (seconds per epoch on a small
        # split); training items carry their augmentation seed, so this keeps resume exact.
        persistent = workers > 0 and split in ("train", "val")
        return (ResumableLoader if train else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=workers,
            pin_memory=self.pin_memory,
            persistent_workers=persistent,
            worker_init_fn=seed_worker_transform,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False, stage="val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False, stage="test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False, stage="predict")
