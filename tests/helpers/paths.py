"""Where the repository is, for tests that read its files (docs, results, notebooks, configs)
or run its scripts. One constant here, not ``Path(__file__).parent.parent`` in each test file,
so that a test file can move between the tier folders (``tests/unit``, ``tests/cli``,
``tests/slow``, ``tests/real_data``) without pointing into ``tests/``."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (holds ``pyproject.toml``, ``fer_lightning/``, ``tests/``).
REPO = Path(__file__).resolve().parents[2]
#: The test suite's root (``tests/``).
TESTS = REPO / "tests"
