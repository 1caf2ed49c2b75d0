"""Run loggers. Lightning's CSVLogger deletes an existing ``metrics.csv`` when it starts; a
resumed run must keep the epochs it already logged, so ours appends instead."""

from __future__ import annotations

import csv
import os

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as fh:
                self.metrics_keys = next(csv.reader(fh), [])


class RunCSVLogger(CSVLogger):
    """``metrics.csv`` directly in the run directory, appended to on resume.

    Written through at every logging call (Lightning buffers 100 steps), so a run that is
    killed keeps on disk every metric it logged, as its checkpoints do."""

    def __init__(self, run_dir: str) -> None:
        super().__init__(save_dir=run_dir, name="", version="", flush_logs_every_n_steps=1)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
