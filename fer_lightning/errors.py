"""User-facing errors.

Anything a user can cause by pointing the package at the wrong file or writing a wrong value
raises :class:`FERUserError` with one sentence that names the file, row or key. The CLI prints
that sentence without a traceback; every other exception is a bug and is allowed to raise.
"""


class FERUserError(Exception):
    """A problem with the user's input (data, config, paths), explained in one sentence."""


class DataError(FERUserError, ValueError):
    """A dataset on disk is missing, malformed or inconsistent."""
