"""KNN kernels: similarities against their definitions, NumPy spec vs Numba twin
(also with NUMBA_DISABLE_JIT=1), top-k truncation and the prediction walk. There
are no tuned KNN variants: ``get_kernels("numba")`` holds these twins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirec.backends import numba_ops as NB
from minirec.backends import numpy_ops as NP
from minirec.backends.numba_ops import knn as numba_knn
from minirec.backends.numpy_ops import knn as NP_knn
from minirec.data import Interactions


def _matrix(seed=0, n_rows=25, n_cols=18, density=0.35, integer=True):
    """A sparse row matrix X and its transpose, as (indptr, indices, data) CSRs."""
    r = np.random.default_rng(seed)
    mask = r.random((n_rows, n_cols)) < density
    mask[3] = False  # an empty row
    mask[-1] = False  # and an empty last row (indptr ends with repeats)
    a, c = np.nonzero(mask)
    vals = r.integers(1, 6, len(a)).astype(np.float64)
    if not integer:
        vals = vals - 3.3 + 0.1 * r.standard_normal(len(a))
    d = Interactions.from_arrays(
        a, c, vals, user_ids=np.arange(n_rows), item_ids=np.arange(n_cols)
    )
    X, T = d.by_user, d.by_item
    pos = np.empty(len(d), np.int64)
    pos[X.rows] = np.arange(len(d))
    x_data = vals[X.rows]
    t_data = vals[T.rows]
    dense = np.full((n_rows, n_cols), np.nan)
    dense[a, c] = vals
    return (X.indptr, X.indices, x_data, T.indptr, T.indices, t_data), dense


def _sim_def(dense, a, b, pearson, shrink):
    """sim(a, b) straight from the definitions, with Python sets."""
    ca = set(np.flatnonzero(~np.isnan(dense[a])).tolist())
    cb = set(np.flatnonzero(~np.isnan(dense[b])).tolist())
    common = sorted(ca & cb)
    if not common:
        return 0.0
    xa, xb = dense[a, common], dense[b, common]
    if pearson:
        den = np.sqrt((xa**2).sum() * (xb**2).sum())
    else:
        den = np.sqrt(np.nansum(dense[a] ** 2) * np.nansum(dense[b] ** 2))
    s = (xa * xb).sum() / den if den > 0 else 0.0
    return s * len(common) / (len(common) + shrink)


@pytest.mark.parametrize("pearson", [False, True])
@pytest.mark.parametrize("shrink", [0.0, 5.0])
def test_similarity_matches_definition(pearson, shrink):
    csr, dense = _matrix(integer=not pearson)
    ptr, idx, sims = NB.knn_similarity(*csr, pearson, shrink, 0)
    n = dense.shape[0]
    got = np.zeros((n, n))
    for a in range(n):
        got[a, idx[ptr[a] : ptr[a + 1]]] = sims[ptr[a] : ptr[a + 1]]
    for a in range(n):
        for b in range(n):
            want = 0.0 if a == b else max(_sim_def(dense, a, b, pearson, shrink), 0.0)
            assert got[a, b] == pytest.approx(want, rel=1e-5, abs=1e-6), (a, b)
    assert ptr[4] - ptr[3] == 0 and ptr[-1] == ptr[-2]  # empty rows: none


@pytest.mark.parametrize("pearson", [False, True])
@pytest.mark.parametrize("keep", [0, 1, 4])
@pytest.mark.parametrize("integer", [True, False])
def test_numpy_and_numba_similarity_agree(pearson, keep, integer):
    csr, _ = _matrix(seed=1, integer=integer)
    a = NP.knn_similarity(*csr, pearson, 3.0, keep)
    b = NB.knn_similarity(*csr, pearson, 3.0, keep)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[2], b[2], rtol=1e-6)
    if integer:  # exact arithmetic: same neighbours, same tie order
        np.testing.assert_array_equal(a[1], b[1])
    # rows are sorted best first, positive, and truncated at keep
    for r in range(len(a[0]) - 1):
        s = b[2][b[0][r] : b[0][r + 1]]
        assert np.all(np.diff(s) <= 0) and np.all(s > 0)
        if keep:
            assert len(s) <= keep


def test_ties_broken_by_smaller_index():
    # rows 1, 2, 3 are identical: row 0 is equally similar to all of them
    d = Interactions.from_arrays(
        [0, 1, 2, 3, 0, 1, 2, 3],
        [0, 0, 0, 0, 1, 1, 1, 1],
        user_ids=np.arange(4),
        item_ids=np.arange(2),
    )
    X, T = d.by_user, d.by_item
    for fn in (NP.knn_similarity, NB.knn_similarity):
        ptr, idx, sims = fn(
            X.indptr, X.indices, X.data, T.indptr, T.indices, T.data, False, 0.0, 2
        )
        np.testing.assert_array_equal(idx[ptr[0] : ptr[1]], [1, 2])
        np.testing.assert_allclose(sims[ptr[0] : ptr[1]], [1.0, 1.0])


def _predict_def(nbrs, dense, a, c, k):
    num = den = 0.0
    used = 0
    for b, s in nbrs[a]:
        if not np.isnan(dense[b, c]):
            num += s * dense[b, c]
            den += s
            used += 1
            if used == k:
                break
    return (num / den if den > 0 else 0.0), used


@pytest.mark.parametrize("k", [1, 3, 50])
def test_predict_walks_neighbours_in_order(k):
    csr, dense = _matrix(seed=2, integer=False)
    nbr = NB.knn_similarity(*csr, True, 2.0, 0)
    n_rows, n_cols = dense.shape
    rows = np.repeat(np.arange(n_rows), n_cols).astype(np.int64)
    cols = np.tile(np.arange(n_cols), n_rows).astype(np.int64)
    X = csr[:3]
    dev_a, used_a = NP.knn_predict(*nbr, *X, rows, cols, k)
    dev_b, used_b = NB.knn_predict(*nbr, *X, rows, cols, k)
    np.testing.assert_array_equal(used_a, used_b)
    np.testing.assert_allclose(dev_a, dev_b, rtol=1e-5, atol=1e-6)
    ptr, idx, sims = nbr
    nbrs = {
        a: list(zip(idx[ptr[a] : ptr[a + 1]], sims[ptr[a] : ptr[a + 1]]))
        for a in range(n_rows)
    }
    for p in range(0, len(rows), 7):
        want, used = _predict_def(nbrs, dense, rows[p], cols[p], k)
        assert used_b[p] == used
        assert dev_b[p] == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert used_b.max() <= k and used_b.max() > 0


def test_kernels_run_without_jit(run_without_jit):
    code = textwrap.dedent(
        """
        import numpy as np, sys
        sys.path.insert(0, HERE)
        from test_knn_kernels import _matrix
        from minirec.backends import numba_ops as NB, numpy_ops as NP
        csr, dense = _matrix(seed=4)
        a = NP.knn_similarity(*csr, True, 1.0, 3)
        b = NB.knn_similarity(*csr, True, 1.0, 3)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-6)
        rows = np.arange(10, dtype=np.int64); cols = np.arange(10, dtype=np.int64)
        pa = NP.knn_predict(*a, *csr[:3], rows, cols, 2)
        pb = NB.knn_predict(*a, *csr[:3], rows, cols, 2)
        for x, y in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-6)
        print("ok")
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    assert run_without_jit(code).strip() == "ok"


def test_the_numba_backend_uses_the_knn_twins():
    """No tuned KNN kernels: the numba table holds numba_ops' twins."""
    from minirec.backends import get_kernels

    K = get_kernels("numba")
    for fn in (NB.knn_similarity, NB.knn_predict, NB.knn_predict_rows,
               NB.knn_predict_cols):  # fmt: skip
        assert getattr(K, fn.__name__) is fn


def test_similarity_in_small_batches_is_unchanged(monkeypatch):
    """A buffer of a few neighbours (many batches, rows larger than the buffer)
    gives the same lists as one batch."""
    csr, _ = _matrix(seed=5, n_rows=40, integer=False)
    for pearson, keep in ((True, 0), (False, 3)):
        whole = NB.knn_similarity(*csr, pearson, 2.0, keep)
        monkeypatch.setattr(numba_knn, "_SCRATCH_ENTRIES", 5)
        small = NB.knn_similarity(*csr, pearson, 2.0, keep)
        monkeypatch.undo()
        for x, y in zip(whole, small):
            np.testing.assert_array_equal(x, y)
        want = NP.knn_similarity(*csr, pearson, 2.0, keep)
        np.testing.assert_array_equal(want[0], small[0])
        np.testing.assert_allclose(want[2], small[2], rtol=1e-6)


def test_reverse_lists_the_slots_of_each_neighbour():
    csr, _ = _matrix(seed=6)
    ptr, idx, _ = NB.knn_similarity(*csr, False, 0.0, 0)
    rev_ptr, rev_pos = NB.knn_reverse(ptr, idx)
    for b in range(len(ptr) - 1):
        np.testing.assert_array_equal(
            rev_pos[rev_ptr[b] : rev_ptr[b + 1]], np.flatnonzero(idx == b)
        )


@pytest.mark.parametrize("k", [1, 3, 50])
def test_every_column_of_rows_equals_the_pair_walk(k):
    csr, dense = _matrix(seed=7, integer=False)
    nbr = NB.knn_similarity(*csr, True, 2.0, 0)
    X = (csr[0], csr[1], csr[2].astype(np.float32))
    n_rows, n_cols = dense.shape
    rows = np.array([0, 3, 5, 5, n_rows - 1], dtype=np.int64)
    rr = np.repeat(rows, n_cols)
    cc = np.tile(np.arange(n_cols, dtype=np.int64), len(rows))
    for K in (NB, NP):  # each against its own pair walk, bit for bit
        pair = K.knn_predict(*nbr, *X, rr, cc, k)
        dev, used = K.knn_predict_rows(*nbr, *X, rows, n_cols, k)
        np.testing.assert_array_equal(dev.ravel(), pair[0])
        np.testing.assert_array_equal(used.ravel(), pair[1])


@pytest.mark.parametrize("k", [1, 3, 50])
def test_every_row_of_a_given_column_equals_the_pair_walk(k):
    """Queries given by their entries: columns of X (the pair walk over X is the
    reference), an empty query, and a column X does not hold (the reference is
    then the pair walk over X with that column added)."""
    csr, dense = _matrix(seed=8, integer=False)
    nbr = NB.knn_similarity(*csr, True, 2.0, 0)
    rev = NB.knn_reverse(nbr[0], nbr[1])
    n_rows, n_cols = dense.shape
    r = np.random.default_rng(0)
    new_col = np.full(n_rows, np.nan)
    new_col[r.choice(n_rows, 9, replace=False)] = r.normal(size=9)
    full = np.column_stack([dense, new_col])
    cols = [0, 4, n_cols - 1]
    queries = [full[:, c] for c in cols] + [np.full(n_rows, np.nan), new_col]
    q_ptr = np.cumsum([0] + [int((~np.isnan(q)).sum()) for q in queries])
    q_rows = np.concatenate([np.flatnonzero(~np.isnan(q)) for q in queries])
    q_data = np.concatenate([q[~np.isnan(q)] for q in queries]).astype(np.float32)
    # X with the new column appended, as (indptr, indices, data) by rows
    a, c = np.nonzero(~np.isnan(full))
    X_ptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(a, minlength=n_rows), out=X_ptr[1:])
    X = (X_ptr, c.astype(np.int32), full[a, c].astype(np.float32))
    rr = np.tile(np.arange(n_rows, dtype=np.int64), len(queries))
    cc = np.repeat(np.array(cols + [n_cols + 5, n_cols], np.int64), n_rows)
    for K in (NB, NP):  # each against its own pair walk, bit for bit
        ref_dev, ref_used = K.knn_predict(*nbr, *X, rr, cc, k)
        dev, used = K.knn_predict_cols(*nbr, *rev, q_ptr, q_rows, q_data, k)
        assert dev.shape == (len(queries), n_rows)
        np.testing.assert_array_equal(dev.ravel(), ref_dev)
        np.testing.assert_array_equal(used.ravel(), ref_used)
    assert ref_used.max() > 0 and (ref_used[3 * n_rows : 4 * n_rows] == 0).all()


def _sim_def_options(dense, a, b, alpha, shrink, shrink_by):
    """Cosine sim(a, b) with the asymmetric exponent and either shrinkage,
    straight from the definitions (full row norms, a the listing row)."""
    xa, xb = np.nan_to_num(dense[a]), np.nan_to_num(dense[b])
    n_ab = int(((~np.isnan(dense[a])) & (~np.isnan(dense[b]))).sum())
    na, nb = np.sqrt((xa**2).sum()), np.sqrt((xb**2).sum())
    den = na ** (2 * alpha) * nb ** (2 * (1 - alpha))
    if n_ab == 0 or den == 0:
        return 0.0
    if shrink_by == "norm":
        return (xa @ xb) / (den + shrink)
    return (xa @ xb) / den * n_ab / (n_ab + shrink)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("shrink_by", ["count", "norm"])
def test_asymmetric_cosine_and_shrink_by_match_definition(alpha, shrink_by):
    csr, dense = _matrix(seed=9)
    n = dense.shape[0]
    for K in (NP, NB):
        ptr, idx, sims = K.knn_similarity(*csr, False, 4.0, 0, alpha, shrink_by)
        got = np.zeros((n, n))
        for a in range(n):
            got[a, idx[ptr[a] : ptr[a + 1]]] = sims[ptr[a] : ptr[a + 1]]
        want = np.array(
            [[0.0 if a == b else _sim_def_options(dense, a, b, alpha, 4.0, shrink_by)
              for b in range(n)] for a in range(n)]
        )  # fmt: skip
        np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-5, atol=1e-7)
    if alpha != 0.5:  # asymmetric: sim(a, b) != sim(b, a) somewhere
        assert not np.allclose(got, got.T)


@pytest.mark.parametrize("keep", [0, 1, 3, 7])
@pytest.mark.parametrize("options", [(0.5, "count"), (0.3, "norm"), (0.8, "count")])
def test_numpy_and_numba_agree_with_options_and_many_ties(keep, options):
    """0/1 data (the twin's count-only path) in few columns: many equal sims, so
    the bounded selection must break ties by index exactly as the spec's sort."""
    r = np.random.default_rng(10)
    mask = r.random((60, 6)) < 0.5
    a, c = np.nonzero(mask)
    d = Interactions.from_arrays(a, c, user_ids=np.arange(60), item_ids=np.arange(6))
    X, T = d.by_user, d.by_item
    csr = (X.indptr, X.indices, np.ones(len(d)), T.indptr, T.indices, np.ones(len(d)))
    want = NP.knn_similarity(*csr, False, 1.0, keep, *options)
    got = NB.knn_similarity(*csr, False, 1.0, keep, *options)
    for x, y in zip(want, got):
        np.testing.assert_array_equal(x, y)
    sims = want[2]
    assert len(np.unique(sims)) < len(sims) / 4  # the case has many ties


def test_similarity_options_are_checked():
    csr, _ = _matrix(seed=11)
    for K in (NP, NB):
        with pytest.raises(ValueError, match="shrink_by"):
            K.knn_similarity(*csr, False, 1.0, 0, 0.5, "both")
        with pytest.raises(ValueError, match="alpha"):
            K.knn_similarity(*csr, False, 1.0, 0, 1.5, "count")
        with pytest.raises(ValueError, match="pearson"):
            K.knn_similarity(*csr, True, 1.0, 0, 0.3, "count")


def test_vote_scores_match_the_sparse_product():
    """knn_vote_scores = the queries' rows times the vote matrix (scipy.sparse),
    and the twin equals the spec bit for bit."""
    sparse = pytest.importorskip("scipy.sparse", reason="scipy is not installed")
    csr, _ = _matrix(seed=12, integer=False)
    v = NB.knn_similarity(*csr, True, 2.0, 4)
    n_rows = len(v[0]) - 1
    r = np.random.default_rng(12)
    lens = r.integers(0, 6, 9)
    lens[2] = 0  # an empty query
    q_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    q_rows = np.concatenate([np.sort(r.choice(n_rows, n, replace=False)) for n in lens])
    q_data = r.normal(size=len(q_rows)).astype(np.float32)
    a = NP_knn.knn_vote_scores(*v, q_ptr, q_rows, q_data, n_rows)
    b = numba_knn.knn_vote_scores(*v, q_ptr, q_rows, q_data, n_rows)
    np.testing.assert_array_equal(a, b)
    V = sparse.csr_matrix((v[2].astype(np.float64), v[1], v[0]), (n_rows, n_rows))
    Q = sparse.csr_matrix((q_data.astype(np.float64), q_rows, q_ptr), (9, n_rows))
    np.testing.assert_allclose(b, (Q @ V).toarray(), rtol=1e-6, atol=1e-6)
    assert (b[2] == 0).all() and np.abs(b).sum() > 0


def test_vote_scores_write_into_a_given_block():
    csr, _ = _matrix(seed=13)
    v = NB.knn_similarity(*csr, False, 0.0, 3)
    n = len(v[0]) - 1
    q_ptr = np.array([0, 2, 2, 5], np.int64)
    q_rows = np.array([1, 4, 0, 2, 9], np.int64)
    q_data = np.ones(5, np.float32)
    want = NP_knn.knn_vote_scores(*v, q_ptr, q_rows, q_data, n)
    block = np.full((5, n), 7.0, np.float32)  # stale values must be overwritten
    got = numba_knn.knn_vote_scores(*v, q_ptr, q_rows, q_data, n, block[1:4])
    assert got.base is block or got is block[1:4] or np.shares_memory(got, block)
    np.testing.assert_array_equal(block[1:4], want)
    assert (block[0] == 7).all() and (block[4] == 7).all()
    with pytest.raises(ValueError, match="out must be float32"):
        numba_knn.knn_vote_scores(*v, q_ptr, q_rows, q_data, n, block[:2])
