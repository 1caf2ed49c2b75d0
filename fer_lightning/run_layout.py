"""Moved to :mod:`fer_lightning.run.layout`; this name stays for the modules that import it
(``fer_lightning.models.classifier``)."""

from fer_lightning.run.layout import *  # noqa: F403
from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV  # noqa: F401 - named by the tests
