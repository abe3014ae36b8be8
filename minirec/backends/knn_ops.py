"""Neighbourhood (KNN) kernels: the NumPy spec and its Numba twin side by side.

Similarity between the rows of a sparse matrix X (n_rows x n_cols, CSR with
sorted column indices): rows are items for item-based CF (X = items x users) and
users for user-based CF (doc 000 §2.1, tag ``000-2.1``; doc 004 §2). With
n_ab = number of columns where both rows a and b have an entry:

* cosine: sim(a, b) = Σ_c x_ac x_bc / (‖x_a‖ ‖x_b‖) with the *full* row norms
  (so on 0/1 data it is co-count / sqrt(n_a n_b), the classic top-N item-item
  cosine of Deshpande & Karypis 2004);
* pearson: sim(a, b) = Σ_{c∈common} x_ac x_bc /
  sqrt(Σ_{c∈common} x_ac² · Σ_{c∈common} x_bc²), the norms over the *common*
  columns only (Surprise's definition); the caller centres X first (row means, or
  baseline residuals r − μ − b_u − b_i, which gives Surprise's pearson_baseline);
* shrinkage: sim ← sim · n_ab / (n_ab + shrink) (Koren 2010, §2.2).

Only positive similarities are kept, at most ``keep`` per row (all when ``keep``
≤ 0), sorted by (−sim, column index): a sparse top-k neighbour list as CSR
``(nbr_indptr int64, nbr_indices int32, nbr_sims float32)``, self excluded.

Cost: the Numba kernel walks the co-occurrences through the transposed CSR,
O(Σ_c |column c|²), never forming the dense n_rows² product; it runs rows in
parallel with one reused scratch per thread, in batches of rows whose output
fits a bounded buffer, so memory is the stored neighbours plus that scratch. The NumPy
spec forms dense matrices (fine up to a few thousand rows).

Prediction (:func:`knn_predict_numpy`): for pairs (a, c), the first ``k``
neighbours b of a (in stored order) that have an entry x_bc give
dev = Σ sim(a,b) x_bc / Σ sim(a,b) (0 when none); the model adds the baseline.

Every item of a query (:func:`knn_predict_rows_numpy`, one row a against every
column; :func:`knn_predict_cols_numpy`, every row against one column given by its
entries): the same deviations as the pair walk, computed from the query's own
entries.

Contract names (re-exported by ``numpy_ops`` / ``numba_ops``):
``knn_similarity``, ``knn_predict``, ``knn_predict_rows``, ``knn_predict_cols``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "knn_similarity_numpy",
    "knn_similarity_numba",
    "knn_predict_numpy",
    "knn_predict_numba",
    "knn_predict_rows_numpy",
    "knn_predict_rows_numba",
    "knn_predict_cols_numpy",
    "knn_predict_cols_numba",
    "knn_reverse",
]

_JIT = {"cache": True, "nogil": True}
#: neighbours buffered per batch of rows by the Numba similarity kernel (12 bytes
#: each) before they are compacted into the result
_SCRATCH_ENTRIES = 1 << 22


def _finish_sims(dot, cnt, den, shrink):
    """sim = dot / den · n / (n + shrink), 0 where den or n is 0 (float64)."""
    sim = np.zeros_like(dot)
    ok = (den > 0) & (cnt > 0)
    sim[ok] = dot[ok] / den[ok]
    if shrink > 0:
        sim *= cnt / (cnt + shrink)
    return sim


# ----------------------------------------------------------------------------- NumPy
def knn_similarity_numpy(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    pearson: bool,
    shrink: float,
    keep: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-`keep` positive similarities between the rows of X (the spec).

    Parameters
    ----------
    indptr, indices, data : CSR of X (n_rows x n_cols), column indices sorted.
    t_indptr, t_indices, t_data : CSR of Xᵀ (the Numba twin walks it; the spec
        only uses it for the number of columns).
    pearson : bool
        Norms over common columns (pearson) instead of full row norms (cosine).
    shrink : float
        Shrinkage constant (0: none).
    keep : int
        Neighbours kept per row (≤ 0: every positive one).

    Returns
    -------
    nbr_indptr (n_rows + 1,) int64, nbr_indices int32, nbr_sims float32
    """
    n_rows = len(indptr) - 1
    n_cols = len(t_indptr) - 1
    rows = np.repeat(np.arange(n_rows), np.diff(indptr))
    X = np.zeros((n_rows, n_cols))
    B = np.zeros((n_rows, n_cols))
    X[rows, indices] = data
    B[rows, indices] = 1.0  # structure, also where a (centred) value is 0
    dot = X @ X.T
    cnt = B @ B.T
    if pearson:
        na = (X * X) @ B.T  # na[a, b] = Σ_{c common} x_ac²
        den = np.sqrt(na * na.T)
    else:
        norms = np.sqrt((X * X).sum(axis=1))
        den = np.outer(norms, norms)
    sim = _finish_sims(dot, cnt, den, shrink)
    np.fill_diagonal(sim, 0.0)
    out_ptr = np.zeros(n_rows + 1, dtype=np.int64)
    out_idx, out_sim = [], []
    for a in range(n_rows):
        cand = np.flatnonzero(sim[a] > 0)
        order = np.lexsort((cand, -sim[a, cand]))  # by -sim, then by index
        if keep > 0:
            order = order[:keep]
        out_idx.append(cand[order])
        out_sim.append(sim[a, cand[order]])
        out_ptr[a + 1] = out_ptr[a] + len(order)
    return (
        out_ptr,
        np.concatenate(out_idx).astype(np.int32) if n_rows else np.zeros(0, np.int32),
        np.concatenate(out_sim).astype(np.float32)
        if n_rows
        else np.zeros(0, np.float32),
    )


def knn_predict_numpy(
    nbr_indptr: np.ndarray,
    nbr_indices: np.ndarray,
    nbr_sims: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted deviation of the first `k` neighbours that have an entry.

    For each pair p, a = rows[p], c = cols[p]: walk the neighbours b of a in
    stored order (best first); those with an entry x_bc in X (CSR indptr,
    indices, data) contribute until `k` were used:
    dev_p = Σ sim(a,b) x_bc / Σ sim(a,b), 0 when no neighbour has an entry.

    Returns
    -------
    dev (n,) float32, n_used (n,) int32
    """
    n = len(rows)
    dev = np.zeros(n, dtype=np.float32)
    used = np.zeros(n, dtype=np.int32)
    for p in range(n):
        a, c = rows[p], cols[p]
        num = den = 0.0
        for q in range(nbr_indptr[a], nbr_indptr[a + 1]):
            b = nbr_indices[q]
            lo, hi = indptr[b], indptr[b + 1]
            pos = lo + np.searchsorted(indices[lo:hi], c)
            if pos < hi and indices[pos] == c:
                num += nbr_sims[q] * data[pos]
                den += nbr_sims[q]
                used[p] += 1
                if used[p] == k:
                    break
        if den > 0:
            dev[p] = num / den
    return dev, used


# ----------------------------------------------------------------------------- Numba
@njit(parallel=True, **_JIT)
def _sim_rows(
    start,
    stop,
    indptr,
    indices,
    data,
    t_indptr,
    t_indices,
    t_data,
    norms,
    pearson,
    shrink,
    keep,
    n_threads,
    out_off,
    out_idx,
    out_sim,
    out_cnt,
):
    """Rows start..stop-1: top-`keep` positive sims of row a into
    out_*[out_off[a - start]:], their number into out_cnt[a - start].

    Each of the `n_threads` workers takes every n_threads-th row and owns one
    dense scratch of n_rows accumulators, allocated once and reset only where a
    row touched it, so the time is the co-occurrence walk, not n_rows per row."""
    n_rows = len(indptr) - 1
    for w in prange(n_threads):
        dot = np.zeros(n_rows)
        na = np.zeros(n_rows)
        nb = np.zeros(n_rows)
        cnt = np.zeros(n_rows, dtype=np.int64)
        touched = np.empty(n_rows, dtype=np.int64)
        for a in range(start + w, stop, n_threads):
            m = 0
            for p in range(indptr[a], indptr[a + 1]):
                c = indices[p]
                xa = np.float64(data[p])
                for q in range(t_indptr[c], t_indptr[c + 1]):
                    b = t_indices[q]
                    if b == a:
                        continue
                    xb = np.float64(t_data[q])
                    if cnt[b] == 0:
                        touched[m] = b
                        m += 1
                    cnt[b] += 1
                    dot[b] += xa * xb
                    if pearson:
                        na[b] += xa * xa
                        nb[b] += xb * xb
            cand = np.sort(touched[:m])
            sims = np.empty(m)
            for t in range(m):
                b = cand[t]
                if pearson:
                    den = np.sqrt(na[b] * nb[b])
                else:
                    den = norms[a] * norms[b]
                s = 0.0
                if den > 0:
                    s = dot[b] / den
                if shrink > 0:
                    s *= cnt[b] / (cnt[b] + shrink)
                sims[t] = s
                dot[b] = 0.0
                na[b] = 0.0
                nb[b] = 0.0
                cnt[b] = 0
            order = np.argsort(-sims, kind="mergesort")  # stable: ties by index
            r = a - start
            o = out_off[r]
            n_out = 0
            for t in range(m):
                s = sims[order[t]]
                if s <= 0 or n_out == keep:
                    break
                out_idx[o + n_out] = cand[order[t]]
                out_sim[o + n_out] = s
                n_out += 1
            out_cnt[r] = n_out


def _row_bounds(indptr, indices, t_indptr, width):
    """Upper bound of each row's neighbour count: min(width, co-occurrences)."""
    col_len = np.diff(t_indptr)
    n_rows = len(indptr) - 1
    owner = np.repeat(np.arange(n_rows), np.diff(indptr))
    co = np.bincount(owner, weights=col_len[indices] - 1, minlength=n_rows)
    return np.minimum(co.astype(np.int64), width)


def knn_similarity_numba(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    pearson: bool,
    shrink: float,
    keep: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numba twin of :func:`knn_similarity_numpy` (same arguments and result).

    Sparse co-occurrence over the transposed CSR, rows in parallel; the sims are
    computed in float64 exactly as the spec's formulas, so on integer-valued data
    the two agree bitwise (in general up to summation order).

    Memory: the result, one n_rows scratch per thread, and an output buffer of
    at most ``_SCRATCH_ENTRIES`` neighbours (or one row's bound, if larger): rows
    go in batches whose neighbour-count bounds, min(keep, co-occurrences), fit
    in it."""
    n_rows = len(indptr) - 1
    width = n_rows if keep <= 0 else min(int(keep), max(n_rows, 1))
    d64 = np.asarray(data, dtype=np.float64)
    owner = np.repeat(np.arange(n_rows), np.diff(indptr))
    norms = np.sqrt(np.bincount(owner, weights=d64 * d64, minlength=n_rows))
    bound = _row_bounds(indptr, indices, t_indptr, width)
    ends = np.cumsum(bound)
    n_threads = numba.get_num_threads()
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    idx_parts, sim_parts = [], []
    start = 0
    while start < n_rows:
        base = ends[start] - bound[start]
        stop = int(np.searchsorted(ends, base + _SCRATCH_ENTRIES, side="right"))
        stop = min(max(stop, start + 1), n_rows)
        off = ends[start:stop] - bound[start:stop] - base
        size = int(ends[stop - 1] - base)
        o_idx = np.empty(size, dtype=np.int32)
        o_sim = np.empty(size, dtype=np.float32)
        o_cnt = np.zeros(stop - start, dtype=np.int64)
        _sim_rows(
            start,
            stop,
            indptr,
            indices,
            data,
            t_indptr,
            t_indices,
            t_data,
            norms,
            bool(pearson),
            float(shrink),
            width,
            min(n_threads, stop - start),
            off,
            o_idx,
            o_sim,
            o_cnt,
        )
        keep_mask = _first_of_segments(off, o_cnt, size)
        idx_parts.append(o_idx[keep_mask])
        sim_parts.append(o_sim[keep_mask])
        ptr[start + 1 : stop + 1] = ptr[start] + np.cumsum(o_cnt)
        start = stop
    if not idx_parts:
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.float32)
    return ptr, np.concatenate(idx_parts), np.concatenate(sim_parts)


def _first_of_segments(off, cnt, size):
    """Mask of the first cnt[r] slots of each segment starting at off[r]."""
    mask = np.zeros(size + 1, dtype=np.int8)
    np.add.at(mask, off, 1)
    np.add.at(mask, off + cnt, -1)
    return np.cumsum(mask[:size]) > 0


@njit(parallel=True, **_JIT)
def knn_predict_numba(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k
):
    """Numba twin of :func:`knn_predict_numpy` (pairs in parallel)."""
    n = len(rows)
    dev = np.zeros(n, dtype=np.float32)
    used = np.zeros(n, dtype=np.int32)
    for p in prange(n):
        a = rows[p]
        c = cols[p]
        num = 0.0
        den = 0.0
        u = 0
        for q in range(nbr_indptr[a], nbr_indptr[a + 1]):
            b = nbr_indices[q]
            lo = indptr[b]
            hi = indptr[b + 1]
            # binary search for column c in row b
            left = lo
            right = hi
            while left < right:
                mid = (left + right) // 2
                if indices[mid] < c:
                    left = mid + 1
                else:
                    right = mid
            if left < hi and indices[left] == c:
                num += nbr_sims[q] * data[left]
                den += nbr_sims[q]
                u += 1
                if u == k:
                    break
        used[p] = u
        if den > 0:
            dev[p] = num / den
    return dev, used


# ----------------------------------------------------------------- every-item scoring
# A ranking by predicted rating needs the prediction of every (row, column) pair of
# a query; walking the neighbour list of every pair costs n_pairs x neighbours.
# These two kernels give exactly knn_predict's result (the same neighbours, summed
# in the same order, in the same precision) at the cost of the query's own entries.


def knn_predict_rows_numpy(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, n_cols, k
):
    """:func:`knn_predict_numpy` for every pair (a, c), a in `rows`, c < n_cols.

    Returns
    -------
    dev (len(rows), n_cols) float32, n_used (len(rows), n_cols) int32
    """
    rows = np.asarray(rows, dtype=np.int64)
    rr = np.repeat(rows, n_cols)
    cc = np.tile(np.arange(n_cols, dtype=np.int64), len(rows))
    dev, used = knn_predict_numpy(
        nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rr, cc, k
    )
    return dev.reshape(len(rows), n_cols), used.reshape(len(rows), n_cols)


def knn_predict_cols_numpy(
    nbr_indptr, nbr_indices, nbr_sims, rev_indptr, rev_pos, q_indptr, q_rows, q_data, k
):
    """:func:`knn_predict_numpy` for every pair (a, t), a < n_rows, where column t
    of X is given by the query CSR ``(q_indptr, q_rows sorted, q_data)`` instead of
    by X (a column X does not hold, e.g. a user folded in after the fit).

    ``rev_indptr, rev_pos`` (:func:`knn_reverse`) list the neighbour slots q with
    nbr_indices[q] == b by b; the spec only takes n_rows from them.

    Returns
    -------
    dev (n_queries, n_rows) float32, n_used (n_queries, n_rows) int32
    """
    n_rows = len(nbr_indptr) - 1
    n_q = len(q_indptr) - 1
    q_indptr = np.asarray(q_indptr, dtype=np.int64)
    lens = np.diff(q_indptr)
    # the queries as the columns of an n_rows x n_q CSR, rows sorted
    col = np.repeat(np.arange(n_q), lens)
    order = np.lexsort((col, q_rows))
    x_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(q_rows, minlength=n_rows), out=x_indptr[1:])
    rr = np.tile(np.arange(n_rows, dtype=np.int64), n_q)
    cc = np.repeat(np.arange(n_q, dtype=np.int64), n_rows)
    dev, used = knn_predict_numpy(
        nbr_indptr,
        nbr_indices,
        nbr_sims,
        x_indptr,
        col[order],
        np.asarray(q_data, dtype=np.float32)[order],
        rr,
        cc,
        k,
    )
    return dev.reshape(n_q, n_rows), used.reshape(n_q, n_rows)


@njit(parallel=True, **_JIT)
def knn_predict_rows_numba(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, n_cols, k
):
    """Numba twin of :func:`knn_predict_rows_numpy`: per row a, its neighbours b
    in stored order each add x_bc to every column c of row b that has used fewer
    than k; the cost is Σ_b |row b|, not n_cols x neighbours."""
    n = len(rows)
    dev = np.zeros((n, n_cols), dtype=np.float32)
    used = np.zeros((n, n_cols), dtype=np.int32)
    for r in prange(n):
        a = rows[r]
        num = np.zeros(n_cols)
        den = np.zeros(n_cols)
        for q in range(nbr_indptr[a], nbr_indptr[a + 1]):
            b = nbr_indices[q]
            for p in range(indptr[b], indptr[b + 1]):
                c = indices[p]
                if used[r, c] < k:
                    num[c] += nbr_sims[q] * data[p]
                    den[c] += nbr_sims[q]
                    used[r, c] += 1
        for c in range(n_cols):
            if den[c] > 0:
                dev[r, c] = num[c] / den[c]
    return dev, used


@njit(parallel=True, **_JIT)
def knn_predict_cols_numba(
    nbr_indptr, nbr_indices, nbr_sims, rev_indptr, rev_pos, q_indptr, q_rows, q_data, k
):
    """Numba twin of :func:`knn_predict_cols_numpy`: per query, the neighbour
    slots q whose neighbour the query holds (through the reverse index), sorted
    by q, i.e. by row a and then in stored order; each row takes its first k.
    The cost is Σ_b |rev(b)| over the query's entries b plus n_rows."""
    n_rows = len(nbr_indptr) - 1
    n_q = len(q_indptr) - 1
    dev = np.zeros((n_q, n_rows), dtype=np.float32)
    used = np.zeros((n_q, n_rows), dtype=np.int32)
    for t in prange(n_q):
        m = 0
        for e in range(q_indptr[t], q_indptr[t + 1]):
            b = q_rows[e]
            m += rev_indptr[b + 1] - rev_indptr[b]
        slot = np.empty(m, dtype=np.int64)
        val = np.empty(m, dtype=np.float32)
        m = 0
        for e in range(q_indptr[t], q_indptr[t + 1]):
            b = q_rows[e]
            for j in range(rev_indptr[b], rev_indptr[b + 1]):
                slot[m] = rev_pos[j]
                val[m] = q_data[e]
                m += 1
        order = np.argsort(slot)  # slots are distinct: any sort is the same
        a = 0
        num = 0.0
        den = 0.0
        u = 0
        for j in range(m):
            q = slot[order[j]]
            if q >= nbr_indptr[a + 1]:  # a new row: close the previous one
                if den > 0:
                    dev[t, a] = num / den
                used[t, a] = u
                num = 0.0
                den = 0.0
                u = 0
                while q >= nbr_indptr[a + 1]:
                    a += 1
            if u < k:
                num += nbr_sims[q] * val[order[j]]
                den += nbr_sims[q]
                u += 1
        if m:
            if den > 0:
                dev[t, a] = num / den
            used[t, a] = u
    return dev, used


@njit(**_JIT)
def _reverse(nbr_indices, n_rows, rev_indptr, rev_pos):
    fill = rev_indptr[:-1].copy()
    for q in range(len(nbr_indices)):
        b = nbr_indices[q]
        rev_pos[fill[b]] = q
        fill[b] += 1


def knn_reverse(nbr_indptr, nbr_indices) -> tuple[np.ndarray, np.ndarray]:
    """The neighbour lists inverted: ``rev_pos[rev_indptr[b]:rev_indptr[b + 1]]``
    are the slots q (ascending) with nbr_indices[q] == b. ``rev_pos`` is int32
    when the slots fit, else int64."""
    n_rows = len(nbr_indptr) - 1
    rev_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(nbr_indices, minlength=n_rows), out=rev_indptr[1:])
    dtype = np.int32 if len(nbr_indices) < 2**31 else np.int64
    rev_pos = np.empty(len(nbr_indices), dtype=dtype)
    _reverse(nbr_indices, n_rows, rev_indptr, rev_pos)
    return rev_indptr, rev_pos
