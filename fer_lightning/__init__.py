"""fer-lightning: PyTorch Lightning experiments for facial expression recognition."""

__version__ = "0.1.0"
