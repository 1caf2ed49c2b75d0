"""Paper-grade evaluation of a run: classification report, confusion matrices, ROC curves,
training curves, a summary, and comparison tables across runs.

Everything is computed from a run directory's saved test predictions (``predictions.npz``)
and its ``metrics.csv``, so ``fer-lightning report`` and the notebook reproduce the same files.
"""

from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import ClassificationReport, classification_report

__all__ = ["ClassificationReport", "Predictions", "classification_report"]
