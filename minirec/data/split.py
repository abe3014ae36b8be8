"""Train/test splits of an :class:`~minirec.data.Interactions`.

Every function returns ``(train, test)`` built with :meth:`Interactions.subset`, so
both parts share the id maps and side tables of the input: an internal index means the
same user/item in each. The parts are disjoint and together hold every interaction
(each row of the input lands in exactly one of them).

=====================  ============================================================
``random_split``       exactly ``round(test_fraction * n)`` interactions, drawn
                       uniformly at random, go to test
``per_user_split``     per user, ``round(test_fraction * n_u)`` of their
                       interactions go to test, keeping at least ``min_train`` in
                       train (users with ``n_u <= min_train`` stay in train only)
``leave_last_out``     per user, the ``n`` latest by timestamp (ties: later row
                       first) go to test, keeping at least one in train
``temporal_split``     one global cutoff: the latest ``test_fraction`` of all
                       interactions (by timestamp) are the test part
=====================  ============================================================

``leave_last_out`` and ``temporal_split`` need timestamps; data without them (the
shared ml-1m copy) raises a DataError naming the dataset.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_rng, check_positive_int
from ..errors import DataError
from .interactions import Interactions

__all__ = ["random_split", "per_user_split", "leave_last_out", "temporal_split"]


def _check_fraction(test_fraction: float) -> float:
    try:
        f = float(test_fraction)
    except (TypeError, ValueError):
        raise ValueError(
            f"test_fraction={test_fraction!r}: must be a number in (0, 1)"
        ) from None
    if not 0.0 < f < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r}: must be in (0, 1)")
    return f


def _parts(data: Interactions, test_mask: np.ndarray, how: str):
    base = data.name or "data"
    return (
        data.subset(~test_mask, name=f"{base} train ({how})"),
        data.subset(test_mask, name=f"{base} test ({how})"),
    )


def random_split(
    data: Interactions, test_fraction: float = 0.1, seed: int = 0
) -> tuple[Interactions, Interactions]:
    """Uniformly random holdout of ``round(test_fraction * len(data))`` interactions.

    Users or items may end up with no training data (cold start); use
    :func:`per_user_split` when every user must keep some.
    """
    f = _check_fraction(test_fraction)
    n = len(data)
    n_test = int(round(f * n))
    if n_test == 0 or n_test == n:
        raise DataError(
            f"{data.name or 'data'}: test_fraction={test_fraction} of {n} interactions "
            f"gives {n_test} test rows; use more data or another fraction"
        )
    rng = as_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_test]] = True
    return _parts(data, mask, f"random {f:g}, seed {seed}")


def _ranks_within_user(users: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, ...]:
    """Order rows by (user, key); return (order, position within user, user count)."""
    order = np.lexsort((key, users))
    su = users[order]
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(order)) - starts[su]
    return order, pos, counts[su]


def per_user_split(
    data: Interactions, test_fraction: float = 0.2, seed: int = 0, min_train: int = 1
) -> tuple[Interactions, Interactions]:
    """Per user, a random ``round(test_fraction * n_u)`` of their interactions go to
    test, capped so that at least ``min_train`` stay in train."""
    f = _check_fraction(test_fraction)
    min_train = check_positive_int("min_train", min_train)
    rng = as_rng(seed)
    order, pos, count = _ranks_within_user(data.users, rng.random(len(data)))
    n_test = np.minimum(np.rint(f * count).astype(np.int64), count - min_train)
    n_test = np.maximum(n_test, 0)
    mask = np.zeros(len(data), dtype=bool)
    mask[order[pos < n_test]] = True
    if not mask.any():
        raise DataError(
            f"{data.name or 'data'}: per_user_split(test_fraction={test_fraction}, "
            f"min_train={min_train}) puts nothing in test; users have too few "
            "interactions"
        )
    return _parts(data, mask, f"per-user {f:g}, seed {seed}")


def _need_timestamps(data: Interactions, fn: str) -> np.ndarray:
    if data.timestamps is None:
        raise DataError(
            f"{fn} needs timestamps but dataset {data.name or '(unnamed)'!r} has none "
            "(e.g. the shared ml-1m copy ratings_no_timestamp.dat); use random_split "
            "or per_user_split, or load a ratings file with a timestamp column"
        )
    return data.timestamps


def leave_last_out(data: Interactions, n: int = 1) -> tuple[Interactions, Interactions]:
    """Per user, the `n` latest interactions (by timestamp; ties broken by row order,
    later rows count as later) are the test part. Users with ``<= n`` interactions
    keep at least one in train (they get fewer test rows)."""
    n = check_positive_int("n", n)
    t = _need_timestamps(data, "leave_last_out")
    # descending time: sort by (-t, -row) within user
    rows = np.arange(len(data))
    order = np.lexsort((-rows, -t, data.users))
    su = data.users[order]
    counts = np.bincount(data.users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(order)) - starts[su]
    n_test = np.minimum(n, counts[su] - 1)
    mask = np.zeros(len(data), dtype=bool)
    mask[order[pos < n_test]] = True
    return _parts(data, mask, f"leave-last-{n}-out")


def temporal_split(
    data: Interactions, test_fraction: float = 0.2
) -> tuple[Interactions, Interactions]:
    """A global time cutoff: the latest ``round(test_fraction * len(data))``
    interactions (ties at the cutoff broken by row order) form the test part, so
    every test event happens at or after every train event."""
    f = _check_fraction(test_fraction)
    t = _need_timestamps(data, "temporal_split")
    n = len(data)
    n_test = int(round(f * n))
    if n_test == 0 or n_test == n:
        raise DataError(
            f"{data.name or 'data'}: test_fraction={test_fraction} of {n} interactions "
            f"gives {n_test} test rows"
        )
    order = np.lexsort((np.arange(n), t))
    mask = np.zeros(n, dtype=bool)
    mask[order[n - n_test :]] = True
    return _parts(data, mask, f"temporal {f:g}")
