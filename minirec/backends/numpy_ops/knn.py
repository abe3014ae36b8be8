"""Neighbourhood (KNN) kernels: the spec (Numba twins in ``numba_ops/knn.py``).

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
* asymmetric cosine (Aiolli 2013), cosine only: the denominator
  ‖x_a‖^{2α} ‖x_b‖^{2(1−α)}, α = ``alpha`` (0.5: the cosine; row a is the one
  whose neighbour list it is);
* shrinkage, ``shrink_by="count"``: sim ← sim · n_ab / (n_ab + shrink) (Koren
  2010, §2.2); ``shrink_by="norm"``: the shrink added to the denominator,
  sim = Σ x_ac x_bc / (den + shrink) (Ferrari Dacrema et al. 2019's ItemKNN CF).

Only positive similarities are kept, at most ``keep`` per row (all when ``keep``
≤ 0), sorted by (−sim, column index): a sparse top-k neighbour list as CSR
``(nbr_indptr int64, nbr_indices int32, nbr_sims float32)``, self excluded.

Cost: this spec forms dense n_rows x n_cols and n_rows² matrices (fine up to a few
thousand rows); the Numba twin walks the co-occurrences through the transposed CSR,
O(Σ_c |column c|²), and never forms the dense product.

Prediction (:func:`knn_predict`): for pairs (a, c), the first ``k``
neighbours b of a (in stored order) that have an entry x_bc give
dev = Σ sim(a,b) x_bc / Σ sim(a,b) (0 when none); the model adds the baseline.

Every item of a query (:func:`knn_predict_rows`, one row a against every
column; :func:`knn_predict_cols`, every row against one column given by its
entries): the same deviations as the pair walk, computed from the query's own
entries.

Contract names: ``knn_similarity``, ``knn_predict``, ``knn_predict_rows``,
``knn_predict_cols``.
"""

from __future__ import annotations

import numpy as np

#: how the shrink constant enters a similarity (see the module docstring)
SHRINK_BY = ("count", "norm")


def check_similarity_options(pearson, alpha, shrink_by) -> None:
    """Raise for option values the similarity kernels do not define."""
    if shrink_by not in SHRINK_BY:
        raise ValueError(f"shrink_by={shrink_by!r}; choose one of {SHRINK_BY}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r}: must be in [0, 1] (0.5: the cosine)")
    if pearson and alpha != 0.5:
        raise ValueError(
            f"alpha={alpha!r} is the asymmetric cosine; with pearson use alpha=0.5"
        )


def norm_powers(norms: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(‖x‖^{2α}, ‖x‖^{2(1−α)}) per row: the two factors of the asymmetric cosine's
    denominator (both the norms themselves for α = 0.5)."""
    if alpha == 0.5:
        return norms, norms
    return norms ** (2.0 * alpha), norms ** (2.0 * (1.0 - alpha))


def _finish_sims(dot, cnt, den, shrink, shrink_by="count"):
    """sim = dot / den · n / (n + shrink) ("count") or dot / (den + shrink)
    ("norm"), 0 where den or n is 0 (float64)."""
    sim = np.zeros_like(dot)
    ok = (den > 0) & (cnt > 0)
    if shrink_by == "norm":
        sim[ok] = dot[ok] / (den[ok] + shrink)
        return sim
    sim[ok] = dot[ok] / den[ok]
    if shrink > 0:
        sim *= cnt / (cnt + shrink)
    return sim


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
    alpha : float
        Asymmetric cosine exponent in [0, 1] (0.5: the cosine; cosine only).
    shrink_by : {"count", "norm"}
        Shrinkage by common count, n / (n + shrink), or added to the denominator.

    Returns
    -------
    nbr_indptr (n_rows + 1,) int64, nbr_indices int32, nbr_sims float32
    """
    check_similarity_options(pearson, alpha, shrink_by)
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
        # the row sums in the Numba twin's float64 order: bitwise-equal norms
        d64 = np.asarray(data, dtype=np.float64)
        norms = np.sqrt(np.bincount(rows, weights=d64 * d64, minlength=n_rows))
        p_a, p_b = norm_powers(norms, alpha)
        den = np.outer(p_a, p_b)
    sim = _finish_sims(dot, cnt, den, shrink, shrink_by)
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


def knn_predict(
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


# ----------------------------------------------------------------- every-item scoring
# A ranking by predicted rating needs the prediction of every (row, column) pair of
# a query; walking the neighbour list of every pair costs n_pairs x neighbours.
# These two kernels give exactly knn_predict's result (the same neighbours, summed
# in the same order, in the same precision) at the cost of the query's own entries.


def knn_predict_rows(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, n_cols, k
):
    """:func:`knn_predict` for every pair (a, c), a in `rows`, c < n_cols.

    Returns
    -------
    dev (len(rows), n_cols) float32, n_used (len(rows), n_cols) int32
    """
    rows = np.asarray(rows, dtype=np.int64)
    rr = np.repeat(rows, n_cols)
    cc = np.tile(np.arange(n_cols, dtype=np.int64), len(rows))
    dev, used = knn_predict(
        nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rr, cc, k
    )
    return dev.reshape(len(rows), n_cols), used.reshape(len(rows), n_cols)


def knn_predict_cols(
    nbr_indptr, nbr_indices, nbr_sims, rev_indptr, rev_pos, q_indptr, q_rows, q_data, k
):
    """:func:`knn_predict` for every pair (a, t), a < n_rows, where column t
    of X is given by the query CSR ``(q_indptr, q_rows sorted, q_data)`` instead of
    by X (a column X does not hold, e.g. a user folded in after the fit).

    ``rev_indptr, rev_pos`` (``numba_ops.knn_reverse``) list the neighbour slots q with
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
    dev, used = knn_predict(
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


# ----------------------------------------------------------------- top-n scores
def knn_vote_scores(v_indptr, v_indices, v_sims, q_indptr, q_rows, q_data, n_cols):
    """Scores of every column for each query: each entry (b, x) of query t adds
    x · v_sims[q] to column v_indices[q] for every slot q of row b of the vote
    CSR ``(v_indptr, v_indices, v_sims)``:

        out[t, c] = Σ_{(b, x) ∈ query t} x Σ_{q ∈ row b, v_indices[q] = c} v_sims[q]

    (ItemKNN's top-n score, the user's row times the sparse similarity matrix),
    summed in float64 in query-entry order, then stored order, and returned as
    float32. Not a contract kernel: the ranking models call the Numba twin.

    Returns
    -------
    scores (n_queries, n_cols) float32
    """
    q_indptr = np.asarray(q_indptr, dtype=np.int64)
    v_indptr = np.asarray(v_indptr, dtype=np.int64)
    n_q = len(q_indptr) - 1
    owner = np.repeat(np.arange(n_q), np.diff(q_indptr))
    b = np.asarray(q_rows, dtype=np.int64)
    lens = v_indptr[b + 1] - v_indptr[b]
    entry = np.repeat(np.arange(len(b)), lens)
    slot = np.repeat(v_indptr[b] - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
    keys = owner[entry] * n_cols + np.asarray(v_indices, dtype=np.int64)[slot]
    w = np.asarray(q_data, np.float64)[entry] * np.asarray(v_sims, np.float64)[slot]
    out = np.bincount(keys, weights=w, minlength=n_q * n_cols)
    return out.reshape(n_q, n_cols).astype(np.float32)
