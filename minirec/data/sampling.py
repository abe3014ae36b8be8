"""Negative sampling: items a user has not interacted with.

:func:`sample_negatives` draws, for each entry of ``users``, ``n`` items that are never
in that user's row of ``data`` (and never in ``exclude``), either uniformly over the
catalog (``alpha=0``) or with probability proportional to ``count_i ** alpha``
(popularity-biased; items nobody interacted with then have probability 0).

How: vectorized rejection sampling. Candidates for all pending rows are drawn at once
as a matrix (uniform integers, or through a Walker alias table for popularity: O(1)
per draw). Membership in the forbidden set is a gather from a dense bitmap of the
keys ``u * n_items + i`` when ``n_users * n_items <= 64M``, else one
``np.searchsorted`` over the sorted keys. Within-row repeats are removed by sorting
each row. Rows still short are redrawn with more candidates (a few rounds at most
for realistic densities); rows that keep failing (a user who has seen almost every
item) finish with an exact draw over their allowed items. Everything is seeded by
``seed``; the draws do not depend on the membership method.

Cost per round: O(len(users) * m) with m ~ n / acceptance rate (bitmap) or
O(len(users) * m * log nnz) (search); memory O(len(users) * m).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive_int
from ..errors import DataError
from .interactions import CSR, Interactions

__all__ = ["sample_negatives"]

_ROUNDS = 16  # vectorized rounds before the exact per-row fallback
_DENSE_CELLS = 64_000_000  # n_users * n_items up to which a bitmap tests membership


def _user_keys(csr: CSR, n_items: int) -> np.ndarray:
    rows = np.repeat(np.arange(csr.n_rows, dtype=np.int64), csr.lengths())
    return rows * n_items + csr.indices


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table: draw k uniformly, keep it with probability prob[k],
    else take alias[k]; item i then comes out with probability w_i / sum(w)."""
    n = len(weights)
    prob = weights * (n / weights.sum())
    alias = np.arange(n, dtype=np.int64)
    small = [int(i) for i in np.flatnonzero(prob < 1.0)]
    large = [int(i) for i in np.flatnonzero(prob >= 1.0)]
    prob = prob.tolist()
    while small and large:
        s, g = small.pop(), large.pop()
        alias[s] = g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    for i in small + large:  # numerical leftovers
        prob[i] = 1.0
    return np.asarray(prob), alias


def _raw(x: Any) -> Any:
    """A NumPy scalar as a plain Python value (for readable messages)."""
    return x.item() if isinstance(x, np.generic) else x


def _isin_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _exclude_parts(
    exclude: Any, n_rows: int, n_users: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """(extra user-level keys, row-level keys row * n_items + item), both sorted."""
    none = np.zeros(0, dtype=np.int64)
    if exclude is None:
        return none, none
    if isinstance(exclude, Interactions):
        exclude = exclude.by_user
    if isinstance(exclude, CSR):
        if exclude.n_rows != n_users:
            raise ValueError(
                f"exclude has {exclude.n_rows} rows but the data has {n_users} users; "
                "pass a CSR indexed by internal user (e.g. test.by_user)"
            )
        return np.unique(_user_keys(exclude, n_items)), none
    ex = np.asarray(exclude)
    if ex.ndim == 1:
        ex = ex[:, None]
    if ex.ndim != 2 or ex.shape[0] != n_rows:
        raise ValueError(
            f"exclude has shape {np.shape(exclude)}; expected ({n_rows},) or "
            f"({n_rows}, m) aligned with users, or a CSR / Interactions by user"
        )
    if ex.size and ex.max() >= n_items:
        raise ValueError(f"exclude holds item indices >= n_items={n_items}")
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), ex.shape[1])
    flat = ex.ravel().astype(np.int64)
    keep = flat >= 0  # -1 pads ragged rows
    return none, np.unique(rows[keep] * n_items + flat[keep])


def sample_negatives(
    data: Interactions,
    users: Any,
    n: int,
    alpha: float = 0.0,
    seed: int | np.random.Generator | None = 0,
    exclude: Any = None,
    *,
    unique: bool = True,
) -> np.ndarray:
    """Sample `n` negative items for each entry of `users`.

    Parameters
    ----------
    data : Interactions
        The interactions whose items count as seen (usually the *whole* data, so that
        no test positive is drawn as a negative) and whose counts define popularity.
    users : array of int
        Internal user indices (repeats allowed: each entry gets its own row).
    n : int
        Negatives per entry.
    alpha : float
        0 for uniform sampling; > 0 samples item i with probability proportional to
        ``count_i ** alpha`` (1 = proportional to popularity).
    seed : int or Generator
        Seed; the result is a deterministic function of the arguments.
    exclude : CSR, Interactions, or array, optional
        More items to avoid: a CSR / Interactions indexed by internal user, or an
        array of item indices aligned with `users` (shape ``(len(users),)`` or
        ``(len(users), m)``; -1 entries are ignored).
    unique : bool
        Distinct items within a row (default). With ``False`` items may repeat.

    Returns
    -------
    ndarray of int32, shape (len(users), n)

    Raises
    ------
    DataError
        When a user has fewer than `n` allowed items (names the user) -- or none at
        all with ``unique=False``.
    """
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be an Interactions, got {type(data).__name__}")
    n = check_positive_int("n", n)
    alpha = check_nonnegative("alpha", alpha)
    users = np.asarray(users)
    if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
        raise ValueError("users must be a 1-d array of internal user indices (int)")
    n_users, n_items = data.n_users, data.n_items
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"users holds indices outside [0, {n_users})")
    users = users.astype(np.int64)
    n_rows = len(users)
    rng = as_rng(seed)
    if n_rows == 0:
        return np.zeros((0, n), dtype=np.int32)

    # -- forbidden sets
    ex_user, ex_row = _exclude_parts(exclude, n_rows, n_users, n_items)
    seen = np.sort(
        np.concatenate([data.users.astype(np.int64) * n_items + data.items, ex_user])
    )
    if len(seen) > 1:  # drop repeats (event logs, exclude overlapping data)
        seen = seen[np.concatenate([[True], seen[1:] != seen[:-1]])]
    # membership test: a dense bitmap when it is small, else binary search
    if n_users * n_items <= _DENSE_CELLS:
        bitmap = np.zeros(n_users * n_items, dtype=bool)
        bitmap[seen] = True

        def is_seen(keys):
            return bitmap[keys]
    else:

        def is_seen(keys):
            return _isin_sorted(keys, seen)

    # -- sampling distribution
    if alpha == 0.0:
        weights = None
        allowed_item = np.ones(n_items, dtype=bool)
    else:
        weights = data.item_counts().astype(np.float64) ** alpha
        allowed_item = weights > 0
        prob, alias = _alias_table(weights)

    # -- how many allowed items each row has
    seen_ok = seen[allowed_item[seen % n_items]]
    per_user_seen = np.bincount(seen_ok // n_items, minlength=n_users)
    avail = int(allowed_item.sum()) - per_user_seen[users]
    if len(ex_row):
        r, it = ex_row // n_items, ex_row % n_items
        extra = allowed_item[it] & ~is_seen(users[r] * n_items + it)
        avail -= np.bincount(r[extra], minlength=n_rows)
    need = n if unique else 1
    short = np.flatnonzero(avail < need)
    if len(short):
        k = int(short[0])
        u = int(users[k])
        raise DataError(
            f"user {_raw(data.user_ids[u])!r} (internal {u}) has {int(avail[k])} "
            "items it has not interacted with"
            f"{' at nonzero popularity' if alpha else ''}, "
            f"fewer than n={n} negatives; lower n"
            + (" or pass unique=False" if unique and avail[k] > 0 else "")
        )

    def draw(shape):
        k = rng.integers(0, n_items, size=shape, dtype=np.int64)
        if weights is None:
            return k
        return np.where(rng.random(shape) < prob[k], k, alias[k])

    out = np.full((n_rows, n), -1, dtype=np.int64)
    filled = np.zeros(n_rows, dtype=np.int64)
    pending = np.arange(n_rows)
    # candidates per row: enough for one round at the typical acceptance rate
    if weights is None:
        acc = avail / n_items
    else:
        w_seen = np.bincount(
            seen_ok // n_items, weights=weights[seen_ok % n_items], minlength=n_users
        )
        acc = 1.0 - w_seen[users] / weights.sum()
    acc_typ = max(float(np.median(acc)), 1e-3)
    m = int(np.ceil(n / acc_typ * 1.25)) + 2
    for _ in range(_ROUNDS):
        if len(pending) == 0:
            break
        cand = draw((len(pending), m))
        bad = is_seen(users[pending, None] * n_items + cand)
        if len(ex_row):
            bad |= _isin_sorted(pending[:, None] * n_items + cand, ex_row)
        cand[bad] = -1
        merged = np.concatenate([out[pending], cand], axis=1)
        if unique and n > 1:
            order = np.argsort(merged, axis=1, kind="stable")
            srt = np.take_along_axis(merged, order, axis=1)
            dup = np.zeros_like(srt, dtype=bool)
            dup[:, 1:] = srt[:, 1:] == srt[:, :-1]
            dup_orig = np.zeros_like(dup)
            np.put_along_axis(dup_orig, order, dup, axis=1)
            merged[dup_orig] = -1
        valid = merged >= 0
        # keep the first n valid entries of each row, in draw order
        rank = np.cumsum(valid, axis=1)
        take = valid & (rank <= n)
        cnt = take.sum(axis=1)
        rows_idx, cols_idx = np.nonzero(take)
        slot = rank[rows_idx, cols_idx] - 1
        block = np.full((len(pending), n), -1, dtype=np.int64)
        block[rows_idx, slot] = merged[rows_idx, cols_idx]
        out[pending] = block
        filled[pending] = cnt
        pending = pending[cnt < n]
        m = min(2 * m, max(4 * n, n_items * 2))
    for r in pending:  # rare: users who have seen nearly everything
        u = int(users[r])
        ok = allowed_item.copy()
        ok[data.by_user.row(u)] = False
        if exclude is not None:
            row_keys = ex_row[(ex_row // n_items) == r] % n_items
            ok[row_keys] = False
            user_keys = ex_user[(ex_user // n_items) == u] % n_items
            ok[user_keys] = False
        cands = np.flatnonzero(ok)
        p = None if weights is None else weights[cands] / weights[cands].sum()
        out[r] = rng.choice(cands, size=n, replace=not unique, p=p)
    return out.astype(np.int32)
