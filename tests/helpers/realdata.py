"""Where the real datasets are: ``$FER_DATA_DIR`` (CI points it at ../shared/datasets).
Tests on them are marked ``real_data`` and skipped when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

REAL_FER2013 = Path(os.environ.get("FER_DATA_DIR", "data")) / "fer2013"
