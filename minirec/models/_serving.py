"""Top-n ranking of every item for many users, in bounded memory: the serving path
for catalogues of tens of thousands of items and users in the hundreds of
thousands.

:func:`top_k` is :func:`minirec.models.base.top_k` (same result, same tie rule:
equal scores by the smaller column, NaN below every number) as one Numba pass per
row: a sorted buffer of the best `k` so far, which a score enters only when it
beats the buffer's worst. Almost every entry of a long row fails that one
comparison, where ``np.argpartition`` moves the whole row, and the ties need no
second pass.

:func:`recommend_all` ranks internal users chunk by chunk: the model scores a
chunk (``score_items``: a BLAS product for factor models), then one Numba kernel
per chunk sets each user's seen items to -inf and takes the top `n` of every row
in parallel, so the memory is one chunk of scores whatever the number of users.
The scoring stays the model's, as a Numba dot-product loop would be slower than
the BLAS product for factor models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

__all__ = ["recommend_all", "top_k"]

#: score cells per chunk of users (float32: 64 MiB)
CHUNK_CELLS = 1 << 24


@njit(cache=True, nogil=True)
def _top_row(s, k, idx, out):
    """The top `k` of row `s` into idx/out (best first, ties to the smaller
    column, NaN last); returns how many were filled (min(k, len(s)))."""
    cnt = 0
    for j in range(s.shape[0]):
        x = s[j]
        x_nan = np.isnan(x)
        if cnt == k:
            w = out[k - 1]
            if not (x > w or (np.isnan(w) and not x_nan)):
                continue
            cnt = k - 1  # the worst drops out
        p = cnt
        if not x_nan:
            while p > 0 and (out[p - 1] < x or np.isnan(out[p - 1])):
                p -= 1
        for q in range(cnt, p, -1):
            out[q] = out[q - 1]
            idx[q] = idx[q - 1]
        out[p] = x
        idx[p] = j
        cnt += 1
    return cnt


@njit(parallel=True, cache=True, nogil=True)
def _mask_top_rows(S, k, users, seen_indptr, seen_indices, idx, out):
    """Per row r of S (in parallel): the seen items of ``users[r]`` (a CSR; skipped
    when the CSR is empty or the user is < 0) set to -inf, then its top `k`."""
    masked = seen_indptr.shape[0] > 0
    for r in prange(S.shape[0]):
        u = users[r]
        if masked and u >= 0:
            for p in range(seen_indptr[u], seen_indptr[u + 1]):
                S[r, seen_indices[p]] = -np.inf
        _top_row(S[r], k, idx[r], out[r])


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` largest entries of each row, best first: the
    result of :func:`minirec.models.base.top_k` (ties to the smaller column, NaN
    below every number, every column when ``k >= n_cols``)."""
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-d (n_rows, n_items), got shape {s.shape}")
    if s.dtype.kind not in "biuf":
        raise ValueError(f"scores must be real numbers, got dtype {s.dtype}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k={k!r}: must be a positive integer")
    if s.dtype.kind != "f":  # integers compare exactly as float64 up to 2**53
        s = s.astype(np.float64)
    k = min(int(k), s.shape[1])
    idx = np.empty((s.shape[0], k), dtype=np.int64)
    out = np.empty((s.shape[0], k), dtype=s.dtype)
    empty = np.zeros(0, dtype=np.int64)
    users = np.full(s.shape[0], -1, dtype=np.int64)
    _mask_top_rows(np.ascontiguousarray(s), k, users, empty, empty, idx, out)
    return idx


def recommend_all(
    model: Any, users: Any = None, n: int = 10, filter_seen: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` unseen items of internal users (default: all of them) as
    ``(internal item indices, scores)``, both (len(users), n): what
    ``model.recommend(model.user_ids_[users], n, filter_seen)`` returns (before
    the ids are mapped back), with bounded memory (:data:`CHUNK_CELLS` scores at
    a time). Users with fewer than `n` unseen items get -inf scores at the tail.
    """
    model._check_fitted()
    n_items = model.n_items
    n = int(n)
    if not 0 < n <= n_items:
        raise ValueError(f"n={n} must be between 1 and the {n_items:,} items")
    u = np.arange(model.n_users) if users is None else np.asarray(users, np.int64)
    if u.ndim != 1 or (len(u) and (u.min() < 0 or u.max() >= model.n_users)):
        raise ValueError(
            f"users must be internal user indices in 0..{model.n_users - 1}"
        )
    seen = model._seen
    indptr = seen.indptr.astype(np.int64) if filter_seen else np.zeros(0, np.int64)
    indices = seen.indices.astype(np.int64) if filter_seen else indptr
    idx = np.empty((len(u), n), dtype=np.int64)
    out = np.empty((len(u), n), dtype=np.float32)
    step = max(1, CHUNK_CELLS // max(n_items, 1))
    for a in range(0, len(u), step):
        uu = u[a : a + step]
        S = np.asarray(model.score_items(uu), dtype=np.float32)
        if not (S.flags.owndata and S.flags.writeable and S.flags.c_contiguous):
            S = np.array(S, dtype=np.float32, order="C")  # the mask writes into it
        _mask_top_rows(S, n, uu, indptr, indices, idx[a : a + len(uu)],
                       out[a : a + len(uu)])  # fmt: skip
    return idx, out
