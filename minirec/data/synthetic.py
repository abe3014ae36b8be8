"""Synthetic data with planted structure: the embedded default when no files exist.

:func:`synthetic_ratings`
    Ratings from a planted low-rank model

        r_ui = clip(round(mu + b_u + b_i + p_u . q_i + eps), 1, 5),
        p_u, q_i ~ N(0, s^2 I_k) with s^2 = 1 / sqrt(k) (so p_u . q_i has variance 1),
        b_u ~ N(0, 0.3^2), b_i ~ N(0, 0.5^2), eps ~ N(0, noise^2), mu = 3.5,

    observed on ``round(density * n_users * n_items)`` (user, item) cells drawn with
    probability proportional to activity_u * popularity_i: popularity is Zipf-like
    (``1 / rank^0.8`` over a random item order) and activity log-normal, so a few
    items get most ratings as in MovieLens. Every user has at least 2 ratings.
    Side information: ``item_features`` with ``title`` ("Synthetic Movie 17 (1994)"),
    ``year`` and ``genre:<Name>`` 0/1 columns tied to the factors (item i has genre g
    when q_i points along factor g mod k, plus a random second genre), so genres carry
    signal; ``user_features`` with ``gender``, ``age`` and ``occupation``; timestamps
    (int64 seconds from 2000-01-01 over three years). ``return_truth=True`` also gives
    the planted ``P, Q, bu, bi, mu`` (internal order) for recovery tests.

:func:`synthetic_sessions`
    Sessions from a planted first-order Markov chain: each item has ``n_next`` likely
    successors that take ``1 - noise`` of the transition mass; the rest is uniform.
    ``return_truth=True`` also gives the transition matrix.

:func:`checkerboard`
    Implicit feedback in blocks: user u is in block ``u * blocks // n_users``, item i
    in block ``i * blocks // n_items``; users interact only with (a random `density`
    share of) the items of their own block. A ranking model should put the unseen
    items of the user's block first.

All generators are deterministic functions of their arguments (``seed``). Raw ids
are 1-based integers, as in MovieLens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import as_rng, check_positive_int
from ..errors import DataError
from .interactions import Interactions
from .sequences import Sessions

__all__ = ["synthetic_ratings", "synthetic_sessions", "checkerboard", "GENRES"]

GENRES = (
    "Action",
    "Comedy",
    "Drama",
    "Romance",
    "Thriller",
    "Sci-Fi",
    "Horror",
    "Animation",
)
OCCUPATIONS = (
    "student",
    "engineer",
    "artist",
    "doctor",
    "writer",
    "educator",
    "programmer",
    "retired",
    "other",
)
AGES = (18, 25, 35, 45, 50, 56)
_T0 = 946684800  # 2000-01-01 UTC


def _check_density(density: float) -> float:
    d = float(density)
    if not 0.0 < d <= 0.5:
        raise ValueError(f"density={density!r}: must be in (0, 0.5]")
    return d


def _sample_cells(rng, act, pop, nnz, n_items, min_per_user):
    """Distinct (u, i) cells: min_per_user per user, the rest ~ act_u * pop_i."""
    n_users = len(act)
    keys = []
    if min_per_user:
        u0 = np.repeat(np.arange(n_users), min_per_user)
        i0 = rng.choice(n_items, size=len(u0), p=pop)
        keys.append(u0.astype(np.int64) * n_items + i0)
    have = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    # per-user repeats collide: re-draw until every user has min_per_user distinct
    for _ in range(50):
        short = np.flatnonzero(
            np.bincount(have // n_items, minlength=n_users) < min_per_user
        )
        if len(short) == 0:
            break
        extra = rng.choice(n_items, size=len(short), p=pop)
        have = np.union1d(have, short.astype(np.int64) * n_items + extra)
    for _ in range(200):
        missing = nnz - len(have)
        if missing <= 0:
            break
        m = int(missing * 1.3) + 16
        u = rng.choice(n_users, size=m, p=act)
        i = rng.choice(n_items, size=m, p=pop)
        new = u.astype(np.int64) * n_items + i
        new = new[~np.isin(new, have)]
        _, first = np.unique(new, return_index=True)
        new = new[np.sort(first)][:missing]
        have = np.union1d(have, new)
    else:
        raise DataError(
            f"could not place {nnz} distinct ratings; lower density (popularity skew "
            "makes dense matrices hard to fill)"
        )
    return have // n_items, have % n_items


def synthetic_ratings(
    n_users: int = 1000,
    n_items: int = 500,
    k: int = 8,
    density: float = 0.05,
    seed: int = 0,
    *,
    noise: float = 0.5,
    return_truth: bool = False,
):
    """Explicit ratings in 1..5 with planted low-rank structure (module docstring).

    Parameters
    ----------
    n_users, n_items : int
        Catalog sizes (raw ids 1..n_users, 1..n_items; every user has >= 2 ratings).
    k : int
        Rank of the planted factors.
    density : float
        Share of the matrix observed, in (0, 0.5].
    seed : int
    noise : float
        Standard deviation of eps before rounding.
    return_truth : bool
        Also return a dict with ``P, Q, bu, bi, mu`` (internal order).

    Returns
    -------
    Interactions, or (Interactions, dict) with `return_truth`.
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    k = check_positive_int("k", k)
    density = _check_density(density)
    if n_items < 2:
        raise ValueError("n_items must be >= 2")
    rng = as_rng(seed)
    s = (1.0 / np.sqrt(k)) ** 0.5
    P = rng.normal(0, s, (n_users, k))
    Q = rng.normal(0, s, (n_items, k))
    bu = rng.normal(0, 0.3, n_users)
    bi = rng.normal(0, 0.5, n_items)
    mu = 3.5
    rank = rng.permutation(n_items) + 1
    pop = 1.0 / rank**0.8
    pop /= pop.sum()
    act = rng.lognormal(0, 0.7, n_users)
    act /= act.sum()
    nnz = max(int(round(density * n_users * n_items)), 2 * n_users)
    u, i = _sample_cells(rng, act, pop, nnz, n_items, min_per_user=2)
    score = mu + bu[u] + bi[i] + np.einsum("nk,nk->n", P[u], Q[i])
    r = np.clip(np.rint(score + rng.normal(0, noise, len(u))), 1, 5)
    t = _T0 + rng.integers(0, 3 * 365 * 86400, len(u))
    perm = rng.permutation(len(u))  # file-like order, not sorted by user
    u, i, r, t = u[perm], i[perm], r[perm], t[perm]

    # side information tied to the factors
    n_g = len(GENRES)
    main = np.argmax(Q, axis=1) % n_g
    second = rng.integers(0, n_g, n_items)
    G = np.zeros((n_items, n_g), dtype=np.uint8)
    G[np.arange(n_items), main] = 1
    has2 = rng.random(n_items) < 0.4
    G[np.flatnonzero(has2), second[has2]] = 1
    years = rng.integers(1950, 2021, n_items)
    items = pd.DataFrame(
        {
            "title": [f"Synthetic Movie {j + 1} ({y})" for j, y in enumerate(years)],
            "year": years.astype(np.float64),
        }
    )
    for g in range(n_g):
        items[f"genre:{GENRES[g]}"] = G[:, g]
    users = pd.DataFrame(
        {
            "gender": rng.choice(np.array(["M", "F"]), n_users),
            "age": rng.choice(np.array(AGES), n_users),
            "occupation": rng.choice(np.array(OCCUPATIONS), n_users),
        }
    )
    data = Interactions.from_arrays(
        u + 1,
        i + 1,
        r,
        t,
        user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1),
        user_features=users,
        item_features=items,
        name="synthetic",
    )
    if return_truth:
        return data, {"P": P, "Q": Q, "bu": bu, "bi": bi, "mu": mu}
    return data


def synthetic_sessions(
    n_sessions: int = 1000,
    n_items: int = 100,
    mean_length: float = 5.0,
    n_next: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    *,
    return_truth: bool = False,
):
    """Sessions from a planted first-order Markov chain (module docstring).

    Session lengths are ``2 + Poisson(mean_length - 2)``; the first item is drawn by
    Zipf-like popularity; session ids are 1..n_sessions, item ids 1..n_items; times
    increase within a session (seconds) and across sessions.

    Returns
    -------
    Sessions, or (Sessions, T) with `return_truth`, T the (n_items, n_items)
    transition matrix in internal order (rows sum to 1).
    """
    n_sessions = check_positive_int("n_sessions", n_sessions)
    n_items = check_positive_int("n_items", n_items)
    n_next = check_positive_int("n_next", n_next)
    if n_next >= n_items:
        raise ValueError(f"n_next={n_next} must be < n_items={n_items}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise={noise!r}: must be in [0, 1]")
    if mean_length < 2:
        raise ValueError(f"mean_length={mean_length!r}: must be >= 2")
    rng = as_rng(seed)
    T = np.full((n_items, n_items), noise / n_items)
    for a in range(n_items):
        nxt = rng.choice(np.delete(np.arange(n_items), a), size=n_next, replace=False)
        T[a, nxt] += (1.0 - noise) / n_next
    T /= T.sum(axis=1, keepdims=True)
    cdf = np.cumsum(T, axis=1)
    pop = 1.0 / (rng.permutation(n_items) + 1.0) ** 0.8
    pop /= pop.sum()
    lengths = 2 + rng.poisson(mean_length - 2, n_sessions)
    total = int(lengths.sum())
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.empty(total, dtype=np.int64)
    cur = rng.choice(n_items, size=n_sessions, p=pop)
    items[offsets[:-1]] = cur
    # advance all sessions one step at a time (vectorized over sessions)
    for step in range(1, int(lengths.max())):
        alive = np.flatnonzero(lengths > step)
        u = rng.random(len(alive))
        nxt = (cdf[cur[alive]] < u[:, None]).sum(axis=1)
        nxt = np.minimum(nxt, n_items - 1)
        cur[alive] = nxt
        items[offsets[alive] + step] = nxt
    start = _T0 + np.cumsum(rng.integers(60, 3600, n_sessions))
    within = (np.arange(total) - np.repeat(offsets[:-1], lengths)) * 30.0
    times = np.repeat(start, lengths).astype(np.float64) + within
    s = Sessions(
        session_ids=np.arange(1, n_sessions + 1),
        offsets=offsets,
        items=items.astype(np.int32),
        times=times,
        item_ids=np.arange(1, n_items + 1),
        name="synthetic sessions",
        dropped={"events_unknown_item": 0, "sessions_short": 0},
    )
    return (s, T) if return_truth else s


def checkerboard(
    n_users: int = 60,
    n_items: int = 40,
    blocks: int = 4,
    seed: int = 0,
    *,
    density: float = 0.5,
) -> Interactions:
    """Implicit feedback where users of block b interact only with items of block b.

    Each user interacts with a random `density` share (at least one) of the items of
    their block. Blocks are contiguous ranges of internal indices:
    ``block(u) = u * blocks // n_users`` and ``block(i) = i * blocks // n_items``.
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    blocks = check_positive_int("blocks", blocks)
    if blocks > min(n_users, n_items):
        raise ValueError(f"blocks={blocks} must be <= min(n_users, n_items)")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density={density!r}: must be in (0, 1]")
    rng = as_rng(seed)
    ub = np.arange(n_users) * blocks // n_users
    ib = np.arange(n_items) * blocks // n_items
    same = ub[:, None] == ib[None, :]
    pick = same & (rng.random((n_users, n_items)) < density)
    # at least one item per user
    for u in np.flatnonzero(~pick.any(axis=1)):
        pick[u, rng.choice(np.flatnonzero(same[u]))] = True
    u, i = np.nonzero(pick)
    return Interactions.from_arrays(
        u + 1,
        i + 1,
        None,
        None,
        user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1),
        name=f"checkerboard {blocks} blocks",
    )
