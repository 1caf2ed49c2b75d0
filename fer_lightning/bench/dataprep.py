"""Data preparation: from nothing to the first training batch of the real FER2013, with an empty
decode cache (cold: every JPEG decoded) and with the cache filled by that run (warm)."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from fer_lightning.bench.common import datamodule
from fer_lightning.errors import DataError
from fer_lightning.paths import CACHE_ENV


def time_to_first_batch(experiment: str) -> dict[str, float]:
    """Seconds for setup (list files, decode or load the cache, split) and the first batch
    (DataLoader workers start, augment one batch)."""
    dm = datamodule(experiment)
    start = time.perf_counter()
    dm.setup("fit")
    ready = time.perf_counter()
    iterator = iter(dm.train_dataloader())
    next(iterator)
    done = time.perf_counter()
    del iterator
    return {
        "setup_s": round(ready - start, 3),
        "first_batch_s": round(done - ready, 3),
        "total_s": round(done - start, 3),
    }


def measure(experiment: str, warm_runs: int, log: Any = print) -> dict[str, Any] | None:
    dm = datamodule(experiment)
    try:
        dm.check_location()
    except DataError as err:
        log(f"data prep: skipped, {err}")
        return None
    root = dm.root
    previous = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory(prefix="fer-bench-cache-") as cache:
        os.environ[CACHE_ENV] = cache
        try:
            cold = time_to_first_batch(experiment)
            log(f"data prep cold: {cold}")
            warm = []
            for _ in range(warm_runs):
                warm.append(time_to_first_batch(experiment))
                log(f"data prep warm: {warm[-1]}")
        finally:
            if previous is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = previous
    totals = sorted(w["total_s"] for w in warm)
    return {
        "experiment": experiment,
        "data": str(root),
        "cold": cold,
        "warm": warm,
        "warm_median_s": totals[len(totals) // 2],
        "goal_warm_s": 1.0,
        "note": "cold = empty decode cache (a fresh FER_CACHE_DIR); the operating system's file "
        "cache may hold the JPEGs already. Python and library imports are not included.",
    }
