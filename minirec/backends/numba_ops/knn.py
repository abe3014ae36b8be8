"""Numba twins of :mod:`minirec.backends.numpy_ops.knn` (read the spec's docstring
for the similarities and predictions).

The similarity kernel walks the co-occurrences through the transposed CSR,
O(Σ_c |column c|²), never forming the dense n_rows² product; it runs rows in
parallel with one reused scratch per thread, in batches of rows whose output fits
a bounded buffer, so memory is the stored neighbours plus that scratch. Compiled
without ``fastmath``: the sims follow the spec's float64 formulas exactly.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "knn_similarity",
    "knn_predict",
    "knn_predict_rows",
    "knn_predict_cols",
    "knn_reverse",
]

_JIT = {"cache": True, "nogil": True}
#: neighbours buffered per batch of rows by the similarity kernel (12 bytes each)
#: before they are compacted into the result
_SCRATCH_ENTRIES = 1 << 22


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


def knn_similarity(
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
    """Numba twin of ``numpy_ops.knn_similarity`` (same arguments and result).

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
def knn_predict(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k
):
    """Numba twin of ``numpy_ops.knn_predict`` (pairs in parallel)."""
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


# A ranking by predicted rating needs the prediction of every (row, column) pair of
# a query; walking the neighbour list of every pair costs n_pairs x neighbours.
# These two kernels give exactly knn_predict's result (the same neighbours, summed
# in the same order, in the same precision) at the cost of the query's own entries.


@njit(parallel=True, **_JIT)
def knn_predict_rows(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, n_cols, k
):
    """Numba twin of ``numpy_ops.knn_predict_rows``: per row a, its neighbours b
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
def knn_predict_cols(
    nbr_indptr, nbr_indices, nbr_sims, rev_indptr, rev_pos, q_indptr, q_rows, q_data, k
):
    """Numba twin of ``numpy_ops.knn_predict_cols``: per query, the neighbour
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
