"""Neighbourhood (KNN) kernels on the GPU: ``knn_similarity`` and ``knn_predict``.

Spec: :func:`minirec.backends.numpy_ops.knn_similarity` and
:func:`~minirec.backends.numpy_ops.knn_predict`. ``knn_similarity``: one thread
per row of X, the co-occurrence walk of the Numba twin into a dense float64 row
of sims (rows chunked to bound the scratch); the per-row top-``keep`` selection
runs on the host. ``knn_predict``: one thread per (row, column) pair. Both
deterministic.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64

from . import _launch
from ._launch import Launch, empty, to_host


@cuda.jit
def _knn_sim_kernel(
    start, stop, indptr, indices, data, t_indptr, t_indices, t_data, norms,
    pearson, shrink, dot, cnt, na, nb,
):  # fmt: skip
    """Rows a in [start, stop): sims to every row b into dot[b, a - start]."""
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    n_rows = indptr.shape[0] - 1
    for a in range(start + t, stop, T):
        r = a - start
        for b in range(n_rows):
            dot[b, r] = 0.0
            cnt[b, r] = 0
            if pearson:
                na[b, r] = 0.0
                nb[b, r] = 0.0
        for p in range(indptr[a], indptr[a + 1]):  # co-occurrences through Xᵀ
            c = indices[p]
            xa = float64(data[p])
            for q in range(t_indptr[c], t_indptr[c + 1]):
                b = t_indices[q]
                if b == a:
                    continue
                xb = float64(t_data[q])
                cnt[b, r] += 1
                dot[b, r] += xa * xb
                if pearson:
                    na[b, r] += xa * xa
                    nb[b, r] += xb * xb
        for b in range(n_rows):  # dot -> sim, in place
            s = 0.0
            n_ab = cnt[b, r]
            if n_ab > 0:
                if pearson:
                    den = math.sqrt(na[b, r] * nb[b, r])
                else:
                    den = norms[a] * norms[b]
                if den > 0:
                    s = dot[b, r] / den
                if shrink > 0:
                    s *= n_ab / (n_ab + shrink)
            dot[b, r] = s


def knn_similarity(
    indptr,
    indices,
    data,
    t_indptr,
    t_indices,
    t_data,
    pearson: bool,
    shrink: float,
    keep: int,
    alpha: float = 0.5,
    shrink_by: str = "count",
):
    """Top-`keep` positive similarities between the rows of X (spec:
    :func:`minirec.backends.numpy_ops.knn_similarity`): returns the CSR
    ``(nbr_indptr int64, nbr_indices int32, nbr_sims float32)`` on the host, rows
    sorted by (-sim, column index), self excluded.

    CUDA: one thread per row walks its co-occurrences through Xᵀ (the Numba twin's
    O(Σ_c |column c|²) walk) and writes its dense row of float64 sims, thread-last
    (``[b, a]``, coalesced); rows go in chunks that keep the device scratch under
    :data:`._launch.SCRATCH_BYTES`. Each chunk's sims come back to the host (an
    explicit copy), where the per-row selection is one stable vectorised sort, so
    ties break exactly as the spec's. Deterministic. Only the spec's defaults
    ``alpha=0.5`` (the plain cosine) and ``shrink_by="count"`` run here.
    """
    if alpha != 0.5 or shrink_by != "count":
        raise NotImplementedError(
            f"knn_similarity on cuda: alpha={alpha!r}, shrink_by={shrink_by!r}; the "
            "CUDA kernel has only alpha=0.5 and shrink_by='count': use "
            "backend='numba' or 'numpy' for the asymmetric cosine or norm shrink"
        )
    n_rows = len(indptr) - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    if n_rows == 0:
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.float32)
    pearson = bool(pearson)
    d64 = np.asarray(to_host(data), dtype=np.float64)
    owner = np.repeat(np.arange(n_rows), np.diff(to_host(indptr)))
    norms = np.sqrt(np.bincount(owner, weights=d64 * d64, minlength=n_rows))
    per_row = n_rows * (8 + 4 + (16 if pearson else 0))  # dot, cnt (, na, nb)
    chunk = max(1, min(n_rows, _launch.SCRATCH_BYTES // per_row))
    run = Launch("knn_similarity", chunk)
    csr = run.inputs(indptr=indptr, indices=indices, data=data)
    csr += run.inputs(t_indptr=t_indptr, t_indices=t_indices, t_data=t_data)
    csr += run.inputs(norms=norms)
    dot = empty((n_rows, chunk), np.float64)
    cnt = empty((n_rows, chunk), np.int32)
    shape = (n_rows, chunk) if pearson else (1, 1)
    na, nb = empty(shape, np.float64), empty(shape, np.float64)
    width = n_rows if keep <= 0 else min(int(keep), n_rows)
    args = (*csr, pearson, float(shrink), dot, cnt, na, nb)
    idx_parts, sim_parts = [], []
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        run(_knn_sim_kernel, start, stop, *args, n_work=stop - start)
        S = to_host(dot)[:, : stop - start].T  # device -> host, (rows, n)
        # by -sim, ties by column (a stable sort keeps the column order)
        order = np.argsort(-S, axis=1, kind="stable")[:, :width]
        top = np.take_along_axis(S, order, axis=1)
        n_out = np.minimum((S > 0).sum(axis=1), width)
        mask = np.arange(order.shape[1])[None, :] < n_out[:, None]
        idx_parts.append(order[mask].astype(np.int32))
        sim_parts.append(top[mask].astype(np.float32))
        ptr[start + 1 : stop + 1] = ptr[start] + np.cumsum(n_out)
    return ptr, np.concatenate(idx_parts), np.concatenate(sim_parts)


@cuda.jit
def _knn_predict_kernel(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k, dev, used
):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    for p in range(t, rows.shape[0], T):
        a = rows[p]
        c = cols[p]
        num = 0.0
        den = 0.0
        u = 0
        for q in range(nbr_indptr[a], nbr_indptr[a + 1]):
            b = nbr_indices[q]
            hi = indptr[b + 1]
            left = indptr[b]
            right = hi
            while left < right:  # binary search for column c in row b
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
        dev[p] = num / den if den > 0 else 0.0


def knn_predict(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k: int
):
    """Weighted deviation of the first `k` neighbours that have an entry (spec:
    :func:`minirec.backends.numpy_ops.knn_predict`): returns ``(dev float32,
    n_used int32)``, GPU arrays when `rows` is on the GPU, else NumPy arrays.
    CUDA: one thread per pair, a binary search per neighbour. Deterministic."""
    n = len(rows)
    run = Launch("knn_predict", n)
    args = run.inputs(nbr_indptr=nbr_indptr, nbr_indices=nbr_indices, nbr_sims=nbr_sims)
    args += run.inputs(indptr=indptr, indices=indices, data=data)
    args += run.inputs(rows=rows, cols=cols)
    dev = empty((n,), np.float32, like=rows)
    used = empty((n,), np.int32, like=rows)
    if n:
        run(_knn_predict_kernel, *args, int(k), dev, used)
    return run.results(rows, dev, used)
