"""Top-n ranking of every item for many users, in bounded memory: the serving path
of :meth:`~minirec.models.base.Recommender.recommend` and of :func:`recommend_all`,
for catalogues of tens of thousands of items and users in the hundreds of
thousands.

:func:`top_k` is :func:`minirec.models.base.top_k` (same result, same tie rule:
equal scores by the smaller column, NaN below every number) as one Numba pass per
row: a sorted buffer of the best `k` so far, which a score enters only when it
beats the buffer's worst. The row is read in blocks of :data:`BLOCK` scores whose
maximum (a loop the compiler vectorizes) is compared with that worst, so almost
every block costs one comparison, and the ties need no second pass.

:func:`rank` scores users block by block (the model's ``score_items``: a BLAS
product for factor models, the model's own kernel for the others), then one Numba
pass per row sets the user's seen items (and any excluded item) to -inf, takes the
top `n`, and puts the masked scores back, so a block the model hands out is left
as it was. A block is :data:`CHUNK_CELLS` scores (16 MiB of float32), small enough
to stay in the cache between the product and the top-n pass. Models whose scorer
reads only their fitted state (:func:`scores_concurrently`) are scored on
``numba.get_num_threads()`` Python threads, each with one BLAS thread and its own
blocks; the others are scored block by block in this thread, and the top-n runs in
parallel over the rows of a block. BLAS threads are not used for the product:
OpenBLAS's threads spin after a call and take the cores from the Numba pass that
follows (measured in benchmarks/results/scale.md).

Memory: ``threads x CHUNK_CELLS`` scores (float32) at a time, plus the (users, n)
results, whatever the number of users.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .._utils import progress

__all__ = ["rank", "recommend_all", "scores_concurrently", "top_k"]

#: score cells of one block of users (float32: 16 MiB)
CHUNK_CELLS = 1 << 22
#: scores per block of a row whose maximum is tested against the k-th best
BLOCK = 16
#: blocks of cells above which rank() shows a progress bar (when enabled)
_PROGRESS_CELLS = 1 << 28


@njit(cache=True, nogil=True, inline="always")
def _insert(x, j, cnt, idx, out):
    """Put score x of column j into the sorted buffer out[:cnt + 1] (best first,
    ties to the earlier column, NaN last)."""
    p = cnt
    if not np.isnan(x):
        while p > 0 and (out[p - 1] < x or np.isnan(out[p - 1])):
            p -= 1
    for q in range(cnt, p, -1):
        out[q] = out[q - 1]
        idx[q] = idx[q - 1]
    out[p] = x
    idx[p] = j


@njit(cache=True, nogil=True)
def _top_row(s, k, idx, out):
    """The top `k` of row `s` into idx/out (best first, ties to the smaller
    column, NaN last); returns how many were filled (min(k, len(s)))."""
    n = s.shape[0]
    j = 0
    while j < n and j < k:
        _insert(s[j], j, j, idx, out)
        j += 1
    if j < k:
        return j
    w = out[k - 1]  # the worst of the best k so far
    while j < n:
        end = j + 1
        if not np.isnan(w) and j + BLOCK <= n:
            # NaN never beats a number, so the block's maximum ignores it
            mx = -np.inf
            for q in range(j, j + BLOCK):
                y = s[q]
                mx = y if y > mx else mx
            if not mx > w:
                j += BLOCK
                continue
            end = j + BLOCK
        for q in range(j, end):
            x = s[q]
            if x > w or (np.isnan(w) and not np.isnan(x)):
                _insert(x, q, k - 1, idx, out)  # the worst drops out
                w = out[k - 1]
        j = end
    return k


@njit(cache=True, nogil=True, inline="always")
def _rank_row(S, r, k, users, indptr, indices, masked, excluded, saved, idx, out):
    """Row r of S: the seen items of ``users[r]`` (when `masked` and the user is
    >= 0) and `excluded` set to -inf, its top `k`, then the row put back (saved[r]
    holds the masked scores)."""
    row = S[r]
    u = users[r]
    lo = hi = 0
    if masked and u >= 0:
        lo, hi = indptr[u], indptr[u + 1]
    m = hi - lo
    buf = saved[r]
    for p in range(lo, hi):
        buf[p - lo] = row[indices[p]]
        row[indices[p]] = -np.inf
    for p in range(excluded.shape[0]):
        buf[m + p] = row[excluded[p]]
        row[excluded[p]] = -np.inf
    _top_row(row, k, idx[r], out[r])
    for p in range(excluded.shape[0] - 1, -1, -1):  # reverse: repeated ids
        row[excluded[p]] = buf[m + p]
    for p in range(hi - 1, lo - 1, -1):
        row[indices[p]] = buf[p - lo]


@njit(cache=True, nogil=True)
def _rank_rows(S, k, users, indptr, indices, masked, excluded, saved, idx, out):
    for r in range(S.shape[0]):
        _rank_row(S, r, k, users, indptr, indices, masked, excluded, saved, idx, out)


@njit(parallel=True, cache=True, nogil=True)
def _rank_rows_par(S, k, users, indptr, indices, masked, excluded, saved, idx, out):
    for r in prange(S.shape[0]):
        _rank_row(S, r, k, users, indptr, indices, masked, excluded, saved, idx, out)


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
    none = np.zeros(1, dtype=np.int64)
    users = np.full(s.shape[0], -1, dtype=np.int64)
    saved = np.empty((s.shape[0], 0), dtype=s.dtype)
    _rank_rows_par(
        np.ascontiguousarray(s), k, users, none, none, False, none[:0], saved, idx, out
    )
    return idx


def scores_concurrently(model: Any) -> bool:
    """Whether `model`'s scorer may run in several threads at once: a class that
    says so (``concurrent_scoring = True``), or FactorModel's own ``_score`` behind
    Recommender's ``score_items`` (NumPy reads of the fitted factors and biases)."""
    if getattr(type(model), "concurrent_scoring", False):
        return True
    from .base import Recommender
    from .factor import FactorModel

    cls = type(model)
    return (
        isinstance(model, FactorModel)
        and cls._score is FactorModel._score
        and cls.score_items is Recommender.score_items
    )


def _block_scores(model: Any, uu: np.ndarray) -> np.ndarray:
    """float32 scores (len(uu), n_items) of internal users `uu`, a writable
    C-contiguous array; users < 0 (unknown) get the items' popularity."""
    known = uu >= 0
    if known.all():
        S = np.asarray(model.score_items(uu), dtype=np.float32)
    else:
        S = np.empty((len(uu), model.n_items), dtype=np.float32)
        if known.any():
            S[known] = model.score_items(uu[known])
        S[~known] = model.item_popularity_
    if S.shape != (len(uu), model.n_items):
        raise ValueError(
            f"{type(model).__name__}.score_items returned shape {S.shape}, expected "
            f"({len(uu)}, {model.n_items})"
        )
    if not (S.flags.writeable and S.flags.c_contiguous):
        S = np.array(S, dtype=np.float32, order="C")  # the mask writes into it
    return S


def rank(
    model: Any,
    u: np.ndarray,
    n: int,
    filter_seen: bool = True,
    exclude: np.ndarray | None = None,
    show_progress: bool | None = None,
    threads: int | None = None,
    cells: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` items of internal users `u` (-1: a user unknown to the model, who
    gets the most popular items) as ``(internal item indices, float32 scores)``,
    both (len(u), n), best first, ties to the smaller item index. With
    `filter_seen` each user's training items are left out, and `exclude`
    (internal item indices) for every user; a user with fewer than `n` items
    left gets -inf scores at the tail. `threads` (default
    ``numba.get_num_threads()``) bounds the threads and `cells` (default
    :data:`CHUNK_CELLS`) the scores of one block; memory and threads are as the
    module docstring says. The arguments are not checked (the callers do)."""
    u = np.asarray(u, dtype=np.int64)
    n_items = model.n_items
    seen = model._seen
    indptr, indices = seen.indptr, seen.indices
    excl = np.zeros(0, np.int64) if exclude is None else np.asarray(exclude, np.int64)
    max_seen = int(np.diff(indptr).max(initial=0)) if filter_seen else 0
    idx = np.empty((len(u), n), dtype=np.int64)
    out = np.empty((len(u), n), dtype=np.float32)
    step = max(1, (CHUNK_CELLS if cells is None else cells) // max(n_items, 1))
    starts = range(0, len(u), step)
    if show_progress is None and len(u) * n_items < _PROGRESS_CELLS:
        show_progress = False
    threads = numba.get_num_threads() if threads is None else int(threads)
    concurrent = threads > 1 and len(starts) > 1 and scores_concurrently(model)

    def block(a: int, kernel) -> None:
        uu = u[a : a + step]
        S = _block_scores(model, uu)
        saved = np.empty((len(uu), max_seen + len(excl)), dtype=np.float32)
        kernel(S, n, uu, indptr, indices, bool(filter_seen), excl, saved,
               idx[a : a + len(uu)], out[a : a + len(uu)])  # fmt: skip

    bar = progress(range(len(starts)), "rank", len(starts), show_progress, "block")
    if not concurrent:
        for a, _ in zip(starts, bar):
            block(a, _rank_rows_par)
        return idx, out
    from threadpoolctl import threadpool_limits

    todo = iter(starts)
    lock = threading.Lock()
    errors: list[BaseException] = []
    done = threading.Semaphore(0)

    def worker() -> None:
        while not errors:
            with lock:
                a = next(todo, None)
            if a is None:
                return
            try:
                block(a, _rank_rows)
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)
            done.release()

    with threadpool_limits(1, "blas"):  # one BLAS thread per worker
        pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in pool:
            t.start()
        for _ in bar:
            done.acquire()
            if errors:
                break
        for t in pool:
            t.join()
    if errors:
        raise errors[0]
    return idx, out


def recommend_all(
    model: Any,
    users: Any = None,
    n: int = 10,
    filter_seen: bool = True,
    show_progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` unseen items of internal users (default: all of them) as
    ``(internal item indices, scores)``, both (len(users), n): what
    ``model.recommend(model.user_ids_[users], n, filter_seen)`` returns before the
    ids are mapped back (the same :func:`rank`). Users with fewer than `n` unseen
    items get -inf scores at the tail."""
    model._check_fitted()
    n_items = model.n_items
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n={n!r} must be an integer between 1 and {n_items:,}")
    if not 0 < n <= n_items:
        raise ValueError(f"n={n} must be between 1 and the {n_items:,} items")
    u = np.arange(model.n_users) if users is None else np.asarray(users, np.int64)
    if u.ndim != 1 or (len(u) and (u.min() < 0 or u.max() >= model.n_users)):
        raise ValueError(
            f"users must be internal user indices in 0..{model.n_users - 1}"
        )
    return rank(model, u, int(n), filter_seen, None, show_progress)
