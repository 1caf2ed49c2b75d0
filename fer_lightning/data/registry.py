"""The datasets fer-lightning knows, by name.

A :class:`~fer_lightning.data.base.FERDataModule` subclass that sets ``name`` registers itself
here when its module is imported, and ``fer_lightning.data`` imports every module of the
package: so a dataset is added by adding its module, and whatever works on every dataset (the
audit, matching class names across datasets) asks this registry instead of a hand-kept list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fer_lightning.errors import DataError

if TYPE_CHECKING:
    from fer_lightning.data.base import FERDataModule

_DATASETS: dict[str, type[FERDataModule]] = {}


def register(cls: type[FERDataModule]) -> None:
    """Add the datamodule class ``cls`` under ``cls.name``. Refused: a name taken by another
    class, a synonym for a class the dataset does not have, or one that another dataset gives
    a different meaning."""
    name = cls.name
    assert name, "only a datamodule that names its dataset registers"
    known = _DATASETS.get(name)
    if known is not None and _path(known) != _path(cls):
        raise ValueError(f"dataset '{name}' is registered twice: {_path(known)}, {_path(cls)}")
    own = {c.lower() for c in cls.class_names}
    others = {k: v for n, c in _DATASETS.items() if n != name for k, v in c.synonyms.items()}
    for spelling, meaning in cls.synonyms.items():
        if spelling not in own:
            raise ValueError(f"{_path(cls)}: synonym '{spelling}' is not one of its class names")
        if others.get(spelling, meaning) != meaning:
            raise ValueError(
                f"{_path(cls)}: synonym '{spelling}' = '{meaning}', another dataset says "
                f"'{others[spelling]}'"
            )
    _DATASETS[name] = cls


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def names() -> list[str]:
    """The registered dataset names, sorted."""
    return sorted(_DATASETS)


def datamodules() -> list[type[FERDataModule]]:
    """The registered datamodule classes, in name order."""
    return [_DATASETS[name] for name in names()]


def get(name: str) -> type[FERDataModule]:
    """The datamodule class of dataset ``name``; an unknown name is a :class:`DataError`."""
    if name not in _DATASETS:
        raise DataError(f"unknown dataset '{name}'; known: {', '.join(names())}")
    return _DATASETS[name]


def synonyms() -> dict[str, str]:
    """Every registered dataset's other class names (e.g. CK+'s *anger*) -> canonical name."""
    return {k: v for cls in datamodules() for k, v in cls.synonyms.items()}
