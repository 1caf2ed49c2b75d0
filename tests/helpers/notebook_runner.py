"""``notebooks/run.py`` (``make notebooks``) as a module for the tests: the notebooks folder is
not a package, so it is loaded from its file."""

from __future__ import annotations

import importlib.util

from tests.helpers.paths import REPO

_spec = importlib.util.spec_from_file_location("notebooks_run", REPO / "notebooks" / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)
