"""minirec: a from-scratch recommender-systems engine to learn from and measure with."""

from __future__ import annotations

from .data import Interactions
from .errors import (
    BackendUnavailableError,
    DataError,
    DataNotFoundError,
    DownloadError,
    MinirecError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
    UnknownIdError,
)
from .models import Recommender, get_model_class

__version__ = "0.1.0"

__all__ = [
    "Interactions",
    "Recommender",
    "get_model_class",
    "MinirecError",
    "DataError",
    "DataNotFoundError",
    "DownloadError",
    "UnknownIdError",
    "ModelFileError",
    "BackendUnavailableError",
    "TrainingDivergedError",
    "NotFittedError",
    "__version__",
]
