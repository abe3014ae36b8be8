"""Datasets, splits and negative sampling.

Loaders read the original file formats from a path, from ``$MINIREC_DATA`` or from
the download cache (:func:`find_dataset`); splits share the id maps of their input.
"""

from __future__ import annotations

from .download import datasets, download_movielens, download_url, find_dataset
from .interactions import CSR, Interactions
from .movielens import load_ml100k_split, load_movielens
from .split import leave_last_out, per_user_split, random_split, temporal_split

__all__ = [
    "CSR",
    "Interactions",
    "datasets",
    "download_movielens",
    "download_url",
    "find_dataset",
    "load_ml100k_split",
    "load_movielens",
    "leave_last_out",
    "per_user_split",
    "random_split",
    "temporal_split",
]
