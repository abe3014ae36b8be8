"""KNN kernels: similarities against their definitions, NumPy spec vs Numba twin
(also with NUMBA_DISABLE_JIT=1), top-k truncation and the prediction walk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirec.backends import knn_ops
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
    ptr, idx, sims = knn_ops.knn_similarity_numba(*csr, pearson, shrink, 0)
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
    a = knn_ops.knn_similarity_numpy(*csr, pearson, 3.0, keep)
    b = knn_ops.knn_similarity_numba(*csr, pearson, 3.0, keep)
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
    for fn in (knn_ops.knn_similarity_numpy, knn_ops.knn_similarity_numba):
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
    nbr = knn_ops.knn_similarity_numba(*csr, True, 2.0, 0)
    n_rows, n_cols = dense.shape
    rows = np.repeat(np.arange(n_rows), n_cols).astype(np.int64)
    cols = np.tile(np.arange(n_cols), n_rows).astype(np.int64)
    X = csr[:3]
    dev_a, used_a = knn_ops.knn_predict_numpy(*nbr, *X, rows, cols, k)
    dev_b, used_b = knn_ops.knn_predict_numba(*nbr, *X, rows, cols, k)
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


def test_kernels_run_without_jit():
    code = textwrap.dedent(
        """
        import numpy as np, sys
        sys.path.insert(0, HERE)
        from test_knn_ops import _matrix
        from minirec.backends import knn_ops
        csr, dense = _matrix(seed=4)
        a = knn_ops.knn_similarity_numpy(*csr, True, 1.0, 3)
        b = knn_ops.knn_similarity_numba(*csr, True, 1.0, 3)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-6)
        rows = np.arange(10, dtype=np.int64); cols = np.arange(10, dtype=np.int64)
        pa = knn_ops.knn_predict_numpy(*a, *csr[:3], rows, cols, 2)
        pb = knn_ops.knn_predict_numba(*a, *csr[:3], rows, cols, 2)
        for x, y in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-6)
        print("ok")
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_contract_names_are_re_exported(backend):
    from minirec.backends import get_kernels

    K = get_kernels(backend)
    assert K.knn_similarity is getattr(knn_ops, f"knn_similarity_{backend}")
    assert K.knn_predict is getattr(knn_ops, f"knn_predict_{backend}")
