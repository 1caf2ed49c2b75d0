"""Class names. The canonical order is FER2013's csv order and the default for every 7-class
basic-emotion dataset."""

FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
