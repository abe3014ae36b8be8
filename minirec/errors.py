"""The exceptions minirec raises. Each message names the file, line, id or argument
at fault and says what to do about it."""

from __future__ import annotations


class MinirecError(Exception):
    """Base class of every minirec error."""


class DataError(MinirecError, ValueError):
    """Input data that cannot be used (malformed line, NaN rating, empty data...)."""


class DataNotFoundError(MinirecError, FileNotFoundError):
    """A dataset that is neither at the given path, under MINIREC_DATA, nor cached."""


class DownloadError(MinirecError, OSError):
    """A download that failed, was truncated, or does not match its checksum."""


class UnknownIdError(MinirecError, KeyError):
    """A user or item id that the model or dataset has never seen."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class ModelFileError(MinirecError, ValueError):
    """A file that is not a minirec model, is truncated, or was written by another
    model class or format version."""


class BackendUnavailableError(MinirecError, ImportError):
    """A backend (numba, cupy, cuda) that is not installed or has no device."""


class TrainingDivergedError(MinirecError, FloatingPointError):
    """Training produced NaN or inf; the message says which epoch and what to try."""


class NotFittedError(MinirecError, RuntimeError):
    """A model method that needs `fit` to have been called first."""
