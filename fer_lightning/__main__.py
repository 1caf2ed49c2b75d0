"""``python -m fer_lightning``: the same as the ``fer-lightning`` command."""

import sys

from fer_lightning.main import main

sys.exit(main())
