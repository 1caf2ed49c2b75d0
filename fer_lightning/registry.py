"""A name -> builder registry (as timm's ``register_model`` / ``create_model``), so YAML can
name a backbone or a head and pass it keyword arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fer_lightning.errors import FERUserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Builders registered under names; ``key`` is the config key that selects one."""

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        self._builders: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def wrap(fn: Callable[..., T]) -> Callable[..., T]:
            self._builders[name] = fn
            return fn

        return wrap

    def names(self) -> list[str]:
        return sorted(self._builders)

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Call builder ``name``; an unknown name or a wrong keyword is a user error naming the
        config key (checked against the signature, so errors inside a builder still raise)."""
        if name not in self._builders:
            known = ", ".join(self.names())
            raise FERUserError(f"{self.key}: unknown {self.what} '{name}'; known: {known}")
        fn = self._builders[name]
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as err:
            raise FERUserError(f"{self.key}_kwargs: bad arguments for '{name}': {err}") from None
        return fn(*args, **kwargs)
