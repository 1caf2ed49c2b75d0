"""Optimizers the papers name that torch spells as options of another class.

With these, every optimizer of a sweep is one class path (``--optimizer=<class>``), which is
what a W&B grid over ``optimizer`` values needs; their options stay overridable
(``--optimizer.momentum=0.8``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class AMSGrad(torch.optim.Adam):
    """Adam with ``amsgrad=True`` (bodapati2024's best optimizer, at lr 0.01)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=True
        )


class NesterovSGD(torch.optim.SGD):
    """SGD with Nesterov momentum (0.9 by default)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True)
