"""Start-up noise users cannot act on, hidden from the run's output."""

from __future__ import annotations

import logging
import os
import warnings

#: Where Lightning's ``rank_zero_info`` messages are logged from (fabric and pytorch rebind it).
_LIGHTNING_INFO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)


class _NoTips(logging.Filter):
    """Drops Lightning's advertisements ("💡 Tip: For seamless cloud uploads ... litmodels",
    "... litlogger"): products this package does not use; and its "Using bfloat16 Automatic
    Mixed Precision" line, which our own precision line (after the Trainer is built) replaces."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not (msg.startswith("💡 Tip") or "Automatic Mixed Precision" in msg)


def hide_lightning_tips() -> None:
    """Idempotent: the filter is installed once per logger. Also hides the model summary's
    warning that its size estimate assumes fp32 under bf16 (the parameters are fp32 anyway)."""
    warnings.filterwarnings("ignore", message="Precision .* is not supported by the model summary")
    # Under DDP Lightning advises sync_dist for every epoch value; ours are reduced already, in
    # a hook every process runs (FERClassifier._log_epoch_metrics says why not sync_dist).
    warnings.filterwarnings("ignore", message=r"It is recommended to use `self\.log\(")
    for name in _LIGHTNING_INFO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())


def hide_start_up_noise() -> None:
    """Before a command that imports Lightning: jsonargparse's deprecation notices, which
    Lightning's own use of it triggers (set before jsonargparse is imported), and
    :func:`hide_lightning_tips`."""
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    hide_lightning_tips()
