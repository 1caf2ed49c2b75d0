"""Class names. The canonical order is FER2013's csv order and the default for every 7-class
basic-emotion dataset; other names of the canonical classes map onto them, so a model trained
on one dataset can be tested on another."""

from fer_lightning.data import registry

FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Other spellings of the canonical classes that no particular dataset owns. A dataset's own
#: class names that differ are its datamodule's ``synonyms`` (e.g. CK+'s *anger*).
SYNONYMS: dict[str, str] = {
    "angriness": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "happiness": "happy",
    "joy": "happy",
    "surprised": "surprise",
    "neutrality": "neutral",
}


def canonical(name: str) -> str:
    """The canonical spelling of a class name (lower case, synonyms resolved)."""
    key = name.strip().lower()
    return (SYNONYMS | registry.synonyms()).get(key, key)
