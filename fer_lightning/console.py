"""The ``[fer-lightning] ...`` lines on stderr (light: the standard library only)."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("fer_lightning")


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted: notebooks and pytest swap
    it, and a handler holding the stream of an earlier call would write into a closed file."""

    @property
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


def setup_logging() -> None:
    if not log.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("[fer-lightning] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
