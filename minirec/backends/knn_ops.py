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
parallel, ``_CHUNK`` rows at a time so the scratch memory stays small. The NumPy
spec forms dense matrices (fine up to a few thousand rows).

Prediction (:func:`knn_predict_numpy`): for pairs (a, c), the first ``k``
neighbours b of a (in stored order) that have an entry x_bc give
dev = Σ sim(a,b) x_bc / Σ sim(a,b) (0 when none); the model adds the baseline.

Contract names (re-exported by ``numpy_ops`` / ``numba_ops``):
``knn_similarity``, ``knn_predict``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "knn_similarity_numpy",
    "knn_similarity_numba",
    "knn_predict_numpy",
    "knn_predict_numba",
]

_JIT = {"cache": True, "nogil": True}
_CHUNK = 512  # rows per parallel batch of the Numba similarity kernel


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
def _sim_chunk(
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
    out_idx,
    out_sim,
    out_cnt,
):
    """Rows start..stop-1: top-`keep` positive sims into out_*[a - start]."""
    n_rows = len(indptr) - 1
    for a in prange(start, stop):
        dot = np.zeros(n_rows)
        na = np.zeros(n_rows)
        nb = np.zeros(n_rows)
        cnt = np.zeros(n_rows, dtype=np.int64)
        touched = np.empty(n_rows, dtype=np.int64)
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
        order = np.argsort(-sims, kind="mergesort")  # stable: ties by index
        r = a - start
        n_out = 0
        for t in range(m):
            s = sims[order[t]]
            if s <= 0 or n_out == keep:
                break
            out_idx[r, n_out] = cand[order[t]]
            out_sim[r, n_out] = s
            n_out += 1
        out_cnt[r] = n_out


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
    the two agree bitwise (in general up to summation order)."""
    n_rows = len(indptr) - 1
    width = n_rows if keep <= 0 else min(int(keep), max(n_rows, 1))
    d64 = np.asarray(data, dtype=np.float64)
    owner = np.repeat(np.arange(n_rows), np.diff(indptr))
    norms = np.sqrt(np.bincount(owner, weights=d64 * d64, minlength=n_rows))
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    idx_parts, sim_parts = [], []
    for start in range(0, n_rows, _CHUNK):
        stop = min(start + _CHUNK, n_rows)
        o_idx = np.empty((stop - start, width), dtype=np.int32)
        o_sim = np.empty((stop - start, width), dtype=np.float64)
        o_cnt = np.zeros(stop - start, dtype=np.int64)
        _sim_chunk(
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
            o_idx,
            o_sim,
            o_cnt,
        )
        mask = np.arange(width)[None, :] < o_cnt[:, None]
        idx_parts.append(o_idx[mask])
        sim_parts.append(o_sim[mask].astype(np.float32))
        ptr[start + 1 : stop + 1] = ptr[start] + np.cumsum(o_cnt)
    if not idx_parts:
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.float32)
    return ptr, np.concatenate(idx_parts), np.concatenate(sim_parts)


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
