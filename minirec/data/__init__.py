"""Datasets, splits and negative sampling.

Loaders read the original file formats from a path, from ``$MINIREC_DATA`` or from
the download cache (:func:`find_dataset`); splits share the id maps of their input.

=========================  ==========================================================
``movielens``              :func:`load_movielens`, :func:`load_ml100k_split`
``download``               :func:`find_dataset`, :func:`datasets`, downloads
``ncf``                    :func:`load_ncf_test`, :func:`ncf_protocol`
``sequences``              :func:`load_sasrec`, :func:`sasrec_split`,
                           :class:`Sessions`, :func:`load_sessions`
``synthetic``              :func:`synthetic_ratings`, :func:`synthetic_sessions`,
                           :func:`checkerboard`
``scale``                  :func:`movielens_shaped` (ML-1M / 20M / 25M sizes)
``split``                  random / per-user / leave-last-out / temporal
``sampling``               :func:`sample_negatives`
=========================  ==========================================================
"""

from __future__ import annotations

from .download import (
    datasets,
    download_and_extract,
    download_movielens,
    download_url,
    find_dataset,
)
from .interactions import CSR, Interactions
from .movielens import load_ml100k_split, load_movielens
from .ncf import NCFTest, load_ncf_test, ncf_protocol
from .sampling import sample_negatives
from .scale import movielens_shaped
from .sequences import (
    Sessions,
    as_sequences,
    load_sasrec,
    load_session_split,
    load_sessions,
    sasrec_negatives,
    sasrec_split,
    user_sequences,
)
from .split import leave_last_out, per_user_split, random_split, temporal_split
from .synthetic import checkerboard, synthetic_ratings, synthetic_sessions

__all__ = [
    "CSR",
    "Interactions",
    "NCFTest",
    "Sessions",
    "as_sequences",
    "checkerboard",
    "datasets",
    "download_and_extract",
    "download_movielens",
    "download_url",
    "find_dataset",
    "leave_last_out",
    "load_ml100k_split",
    "load_movielens",
    "load_ncf_test",
    "load_sasrec",
    "load_session_split",
    "load_sessions",
    "movielens_shaped",
    "ncf_protocol",
    "per_user_split",
    "random_split",
    "sample_negatives",
    "sasrec_negatives",
    "sasrec_split",
    "synthetic_ratings",
    "synthetic_sessions",
    "temporal_split",
    "user_sequences",
]
