"""A name -> builder registry (as timm's ``register_model`` / ``create_model``), so YAML can
name a backbone or a head and pass it keyword arguments.

Every entry carries an :class:`Info` (family, source, a one-line summary; backbones add their
input and weights), read through :meth:`Registry.info`: the generated docs tables
(:mod:`fer_lightning.results.experiments_table`) take it from there, not from hand-typed text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fer_lightning.errors import FERUserError

T = TypeVar("T")


@dataclass(frozen=True)
class Info:
    """What the docs say about a registered builder."""

    #: Who implements it: ``own`` (this package), ``torchvision`` or ``timm``.
    family: str
    #: Where it comes from: the paper key(s) it follows, or the library's model name.
    source: str
    #: One line for the docs tables.
    summary: str


InfoT = TypeVar("InfoT", bound=Info)


@dataclass(frozen=True)
class Entry(Generic[T, InfoT]):
    builder: Callable[..., T]
    info: InfoT


class Registry(Generic[T, InfoT]):
    """Builders registered under names; ``key`` is the config key that selects one."""

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        self._entries: dict[str, Entry[T, InfoT]] = {}

    def register(
        self, name: str | None, info: InfoT
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """A decorator registering its function under ``name``, or under the function's own
        name when ``name`` is None; a name that is taken is an error (a second builder would
        silently replace the first)."""

        def wrap(fn: Callable[..., T]) -> Callable[..., T]:
            key = fn.__name__ if name is None else name
            if key in self._entries:
                taken = self._entries[key].builder
                raise ValueError(
                    f"{self.what} '{key}' is registered already (by "
                    f"{taken.__module__}.{taken.__qualname__}); choose another name"
                )
            self._entries[key] = Entry(fn, info)
            return fn

        return wrap

    def names(self) -> list[str]:
        return sorted(self._entries)

    def _entry(self, name: str) -> Entry[T, InfoT]:
        """The entry ``name``; an unknown name is a user error naming the config key."""
        if name not in self._entries:
            known = ", ".join(self.names())
            raise FERUserError(f"{self.key}: unknown {self.what} '{name}'; known: {known}")
        return self._entries[name]

    def info(self, name: str) -> InfoT:
        """What the docs say about ``name``."""
        return self._entry(name).info

    def accepts(self, name: str, parameter: str) -> bool:
        """Whether builder ``name`` takes a keyword ``parameter``."""
        return parameter in inspect.signature(self._entry(name).builder).parameters

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Call builder ``name``; an unknown name or a wrong keyword is a user error naming the
        config key (checked against the signature, so errors inside a builder still raise)."""
        fn = self._entry(name).builder
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as err:
            raise FERUserError(f"{self.key}_kwargs: bad arguments for '{name}': {err}") from None
        return fn(*args, **kwargs)
