"""How a configured model starts and trains, in words, read from the config dict alone.

One description serves every table: ``results/tables.md`` reads a published run's
``config.yaml`` and ``docs/experiments.md`` an experiment's YAML, and both say the same thing
about the same settings. Nothing is built or imported from Lightning here: the defaults below
are :class:`~fer_lightning.models.regimes.Finetune`'s (a test keeps them equal).
"""

from __future__ import annotations

from typing import Any

#: ``Finetune``'s defaults, for a YAML that leaves them out.
FINETUNE_DEFAULTS: dict[str, Any] = {
    "unfreeze_at_epoch": 10,
    "unfreeze": (),
    "lr_ratio": 0.1,
    "trainable": (),
}


def _callbacks(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(class name, init_args)`` of each callback ``trainer.callbacks`` configures."""
    return [
        (str(c.get("class_path", "")).rsplit(".", 1)[-1], dict(c.get("init_args") or {}))
        for c in (config.get("trainer") or {}).get("callbacks") or []
        if isinstance(c, dict)
    ]


def regime_callback(config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(class name, init_args)`` of the training-regime callback (``Transfer`` or
    ``Finetune``) in ``trainer.callbacks``; None when every layer trains."""
    return next(((n, a) for n, a in _callbacks(config) if n in ("Transfer", "Finetune")), None)


#: ``EMAWeightAveraging``'s default decay, for a YAML that leaves it out (a test keeps it equal).
EMA_DEFAULT_DECAY = 0.999


def describe_averaging(config: dict[str, Any]) -> str | None:
    """Lightning's weight averaging in ``trainer.callbacks``, in words; None without it."""
    for name, args in _callbacks(config):
        if name == "EMAWeightAveraging":
            return f"EMA of the weights (decay {args.get('decay', EMA_DEFAULT_DECAY):g})"
        if name in ("StochasticWeightAveraging", "WeightAveraging"):
            return "weights averaged (SWA)"
    return None


def describe_regime(config: dict[str, Any]) -> str:
    """One phrase: which layers train, and from when, at which learning rate."""
    found = regime_callback(config)
    if found is None:
        return "every layer trains"
    name, args = found
    if name == "Transfer":
        kept = args.get("trainable") or []
        return "transfer: backbone frozen" + (f" except {', '.join(kept)}" if kept else "")
    args = {**FINETUNE_DEFAULTS, **args}
    blocks = ", ".join(args["unfreeze"]) or "all layers"
    ratio, start = args["lr_ratio"], args["unfreeze_at_epoch"]
    if start == 0:
        return f"fine-tune: {blocks} from the start, backbone at {ratio:g} x lr"
    return f"fine-tune: backbone frozen; from epoch {start} {blocks} at {ratio:g} x lr"


def describe_start(config: dict[str, Any], pretrained_weights: str = "ImageNet") -> str:
    """Where the weights start: one of our FER models (``model.init_from``), the backbone's
    pretrained weights (named by ``pretrained_weights``) when ``model.pretrained``, else random."""
    model = config.get("model") or {}
    if model.get("init_from"):
        return f"`{model['init_from']}` (ours, `model.init_from`)"
    return pretrained_weights if model.get("pretrained") else "random"
