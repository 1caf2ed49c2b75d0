"""Datasets as LightningDataModules: one shared base, one subclass per on-disk layout."""

from fer_lightning.data.base import FERDataModule, Split
from fer_lightning.data.ckplus import CKPlusDataModule
from fer_lightning.data.fer2013 import FER2013DataModule
from fer_lightning.data.labels import FER7
from fer_lightning.data.rafdb import RAFDBDataModule

__all__ = [
    "FER7",
    "CKPlusDataModule",
    "FER2013DataModule",
    "FERDataModule",
    "RAFDBDataModule",
    "Split",
]
