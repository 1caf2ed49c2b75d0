"""Datasets as LightningDataModules: one shared base, one module per dataset.

Every module of this package is imported here, so each dataset module's datamodule registers
itself (:mod:`fer_lightning.data.registry`) and is importable as ``fer_lightning.data.<Class>``,
the class path configs name, without being listed anywhere else.
"""

import importlib
import pkgutil

from fer_lightning.data import registry
from fer_lightning.data.base import FERDataModule, Split
from fer_lightning.data.labels import FER7

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

globals().update({cls.__name__: cls for cls in registry.datamodules()})

__all__ = ["FER7", "FERDataModule", "Split", *(cls.__name__ for cls in registry.datamodules())]
