"""Numba twins of :mod:`minirec.backends.numpy_ops.knn` (read the spec's docstring
for the similarities and predictions).

The similarity kernel walks the co-occurrences through the transposed CSR,
O(Σ_c |column c|²), never forming the dense n_rows² product; it runs rows in
parallel with one reused scratch per thread, in batches of rows whose output fits
a bounded buffer, so memory is the stored neighbours plus that scratch. Each
row's `keep` best candidates are selected by a bounded heap in the spec's order
(−sim, then index), O(m log keep) for m candidates instead of sorting all m.
Compiled without ``fastmath``: the sims follow the spec's float64 formulas exactly.

:func:`knn_vote_scores` (not a contract kernel) gives the top-n scores of many
users at once: their rows times a sparse vote matrix, one float64 row per worker.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..numpy_ops.knn import check_similarity_options, norm_powers

__all__ = [
    "knn_similarity",
    "knn_predict",
    "knn_predict_rows",
    "knn_predict_cols",
    "knn_reverse",
    "knn_vote_scores",
]

_JIT = {"cache": True, "nogil": True}
#: neighbours buffered per batch of rows by the similarity kernel (12 bytes each)
#: before they are compacted into the result
_SCRATCH_ENTRIES = 1 << 22


@njit(inline="always", **_JIT)
def _better(s1, b1, s2, b2):
    """The spec's order: larger sim first, equal sims by the smaller index."""
    return s1 > s2 or (s1 == s2 and b1 < b2)


@njit(**_JIT)
def _sift_down(hs, hb, n, i):
    """Restore the heap below slot i: each slot is no better than its children,
    so the root is the worst of the n kept."""
    while True:
        w = 2 * i + 1
        if w >= n:
            return
        r = w + 1
        if r < n and _better(hs[w], hb[w], hs[r], hb[r]):
            w = r  # the worse child
        if not _better(hs[i], hb[i], hs[w], hb[w]):
            return
        hs[i], hs[w] = hs[w], hs[i]
        hb[i], hb[w] = hb[w], hb[i]
        i = w


@njit(**_JIT)
def _heap_offer(hs, hb, n, cap, s, b):
    """Offer (s, b) to a heap of n <= cap entries (root the worst); returns the
    new size. A full heap takes it only when it beats the root."""
    if n < cap:
        i = n
        hs[i] = s
        hb[i] = b
        while i > 0:  # sift up while the parent is better
            par = (i - 1) // 2
            if not _better(hs[par], hb[par], hs[i], hb[i]):
                break
            hs[i], hs[par] = hs[par], hs[i]
            hb[i], hb[par] = hb[par], hb[i]
            i = par
        return n + 1
    if _better(s, b, hs[0], hb[0]):
        hs[0] = s
        hb[0] = b
        _sift_down(hs, hb, n, 0)
    return n


@njit(**_JIT)
def _heap_sort(hs, hb, n):
    """Sort the heap's n entries best first, in place (heapsort: the root, the
    worst, goes to the end)."""
    for end in range(n - 1, 0, -1):
        hs[0], hs[end] = hs[end], hs[0]
        hb[0], hb[end] = hb[end], hb[0]
        _sift_down(hs, hb, end, 0)


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
    pow_a,
    pow_b,
    pearson,
    binary,
    shrink,
    shrink_norm,
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
    row touched it, so the time is the co-occurrence walk, not n_rows per row.
    The `keep` best candidates are selected with a bounded heap, O(m log keep)
    for a row with m candidates, and only those are sorted. With `binary` (0/1
    data, cosine) the dot product is the common count and is not accumulated."""
    n_rows = len(indptr) - 1
    n_acc = n_rows if (pearson or not binary) else 0
    n_pear = n_rows if pearson else 0
    for w in prange(n_threads):
        dot = np.zeros(n_acc)
        na = np.zeros(n_pear)
        nb = np.zeros(n_pear)
        cnt = np.zeros(n_rows, dtype=np.int32)
        touched = np.empty(n_rows, dtype=np.int32)
        hs = np.empty(keep)
        hb = np.empty(keep, dtype=np.int32)
        for a in range(start + w, stop, n_threads):
            m = 0
            for p in range(indptr[a], indptr[a + 1]):
                c = indices[p]
                xa = np.float64(data[p])
                for q in range(t_indptr[c], t_indptr[c + 1]):
                    b = t_indices[q]
                    if b == a:
                        continue
                    if cnt[b] == 0:
                        touched[m] = b
                        m += 1
                    cnt[b] += 1
                    if n_acc:
                        xb = np.float64(t_data[q])
                        dot[b] += xa * xb
                        if pearson:
                            na[b] += xa * xa
                            nb[b] += xb * xb
            n_heap = 0
            for t in range(m):
                b = touched[t]
                n_ab = np.float64(cnt[b])
                d = dot[b] if n_acc else n_ab
                if pearson:
                    den = np.sqrt(na[b] * nb[b])
                    na[b] = 0.0
                    nb[b] = 0.0
                else:
                    den = pow_a[a] * pow_b[b]
                if n_acc:
                    dot[b] = 0.0
                cnt[b] = 0
                s = 0.0
                if den > 0:
                    if shrink_norm:
                        s = d / (den + shrink)
                    else:
                        s = d / den
                        if shrink > 0:
                            s *= n_ab / (n_ab + shrink)
                if s > 0:
                    n_heap = _heap_offer(hs, hb, n_heap, keep, s, b)
            _heap_sort(hs, hb, n_heap)
            r = a - start
            o = out_off[r]
            for t in range(n_heap):
                out_idx[o + t] = hb[t]
                out_sim[o + t] = hs[t]
            out_cnt[r] = n_heap


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
    alpha: float = 0.5,
    shrink_by: str = "count",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numba twin of ``numpy_ops.knn_similarity`` (same arguments and result).

    Sparse co-occurrence over the transposed CSR, rows in parallel; the sims are
    computed in float64 exactly as the spec's formulas, so on integer-valued data
    the two agree bitwise (in general up to summation order).

    Memory: the result, one n_rows scratch per thread, and an output buffer of
    at most ``_SCRATCH_ENTRIES`` neighbours (or one row's bound, if larger): rows
    go in batches whose neighbour-count bounds, min(keep, co-occurrences), fit
    in it."""
    check_similarity_options(pearson, alpha, shrink_by)
    n_rows = len(indptr) - 1
    width = max(n_rows, 1) if keep <= 0 else min(int(keep), max(n_rows, 1))
    d64 = np.asarray(data, dtype=np.float64)
    owner = np.repeat(np.arange(n_rows), np.diff(indptr))
    norms = np.sqrt(np.bincount(owner, weights=d64 * d64, minlength=n_rows))
    pow_a, pow_b = norm_powers(norms, float(alpha))
    binary = not pearson and bool(np.all(d64 == 1.0)) and bool(np.all(t_data == 1))
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
            pow_a,
            pow_b,
            bool(pearson),
            binary,
            float(shrink),
            shrink_by == "norm",
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


@njit(parallel=True, **_JIT)
def _vote_rows(v_indptr, v_indices, v_sims, q_indptr, q_rows, q_data, n_threads, out):
    """Every row of `out`: each worker accumulates a query in one float64 row,
    then writes the whole row and resets it (one pass, in parallel; cheaper than
    zeroing the output first and tracking the touched columns)."""
    n_q, n_cols = out.shape
    for w in prange(n_threads):
        acc = np.zeros(n_cols)  # float64, the spec's summation
        for t in range(w, n_q, n_threads):
            for e in range(q_indptr[t], q_indptr[t + 1]):
                b = q_rows[e]
                x = np.float64(q_data[e])
                for q in range(v_indptr[b], v_indptr[b + 1]):
                    acc[v_indices[q]] += x * np.float64(v_sims[q])
            for c in range(n_cols):
                out[t, c] = acc[c]
                acc[c] = 0.0


def knn_vote_scores(
    v_indptr, v_indices, v_sims, q_indptr, q_rows, q_data, n_cols, out=None
):
    """Numba twin of ``numpy_ops.knn.knn_vote_scores`` (same result, bit for
    bit): queries in parallel, each worker accumulating one float64 row, so the
    cost is the query's entries times their rows' lengths plus the n_cols of
    the output row. ``out``: a float32 (n_queries, n_cols) array to write every
    entry of (e.g. a slice of a larger block)."""
    n_q = len(q_indptr) - 1
    if out is None:
        out = np.empty((n_q, int(n_cols)), dtype=np.float32)
    elif out.shape != (n_q, n_cols) or out.dtype != np.float32:
        raise ValueError(
            f"out must be float32 of shape {(n_q, n_cols)}, got {out.dtype} {out.shape}"
        )
    if n_q == 0:
        return out
    _vote_rows(
        np.asarray(v_indptr, np.int64),
        v_indices,
        v_sims,
        np.asarray(q_indptr, np.int64),
        q_rows,
        q_data,
        min(numba.get_num_threads(), n_q),
        out,
    )
    return out
