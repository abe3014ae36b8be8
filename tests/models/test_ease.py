"""EASE against an independent reference: each column of B solved directly as the
ridge regression of item j on the other items (numpy.linalg.solve), so the
closed form B = I - P diag(1/diag(P)) and its zero diagonal are checked."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions
from minirec.models.linear import EASE


def _data(seed=0, n_users=40, n_items=15, density=0.3):
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    X[np.arange(n_items) % n_users, np.arange(n_items)] = 1.0  # every item seen
    u, i = np.nonzero(X)
    return Interactions.from_arrays(u, i), X


def _ridge_columns(X, reg):
    """B[:, j] = argmin ||x_j - X_{-j} b||² + reg ||b||², B[j, j] = 0."""
    n = X.shape[1]
    B = np.zeros((n, n))
    for j in range(n):
        o = np.delete(np.arange(n), j)
        A = X[:, o]
        B[o, j] = np.linalg.solve(A.T @ A + reg * np.eye(n - 1), A.T @ X[:, j])
    return B


@pytest.mark.parametrize("reg", [0.5, 20.0])
def test_B_is_the_constrained_ridge_solution(reg):
    data, X = _data()
    m = EASE(reg=reg).fit(data)
    ref = _ridge_columns(X, reg)
    order = m.item_index(np.arange(X.shape[1]))
    B = m.B_[np.ix_(order, order)]
    np.testing.assert_allclose(B, ref, rtol=1e-4, atol=1e-5)
    assert np.all(np.diag(m.B_) == 0)
    active = np.flatnonzero(X.any(1))  # users with a training row
    np.testing.assert_allclose(
        m.score_items(m.user_index(active))[:, order],
        X[active] @ ref,
        rtol=1e-4,
        atol=1e-4,
    )


def test_fold_in_is_the_row_times_B():
    data, X = _data(seed=1)
    m = EASE(reg=5.0).fit(data)
    hist = np.array([0, 3, 7])
    m.fold_in([999] * 3, hist)
    x = np.zeros(m.n_items)
    x[m.item_index(hist)] = 1.0
    np.testing.assert_allclose(
        m.score_items(m.user_index([999]))[0], x @ m.B_, rtol=1e-5, atol=1e-6
    )


def test_pruned_variant_is_ease_on_the_popular_items():
    data, X = _data(seed=2, n_items=20)
    keep = 8
    m = EASE(reg=3.0, n_top_items=keep).fit(data)
    pop = X.sum(0)
    top = np.sort(np.argsort(-pop, kind="stable")[:keep])
    ref = _ridge_columns(X[:, top], 3.0)
    assert sorted(m.item_ids_[m.kept_].tolist()) == top.tolist()
    B = m.B_[np.ix_(np.argsort(m.item_ids_[m.kept_]), np.argsort(m.item_ids_[m.kept_]))]
    np.testing.assert_allclose(B, ref, rtol=1e-4, atol=1e-5)
    ids, _ = m.recommend(np.arange(5), n=m.n_items, filter_seen=False)
    for row in ids:  # pruned items after every kept one
        assert set(row[:keep].tolist()) == set(top.tolist())


def test_refusals_are_clear():
    data, _ = _data()
    with pytest.raises(ValueError, match="max_items=10.*n_top_items"):
        EASE(max_items=10).fit(data)
    assert EASE(max_items=10, n_top_items=10).fit(data).B_.shape == (10, 10)
    with pytest.raises(ValueError, match="reg > 0"):
        EASE(reg=0.0).fit(data)
    with pytest.raises(ValueError, match="reg"):
        EASE(reg=-1.0)


def test_pairs_are_the_score_matrix_entries(monkeypatch):
    """predict on shuffled pairs of many users (grouped in blocks of users, here
    forced to several blocks) returns exactly the entries of the score matrix."""
    import minirec.models.base as base

    m = EASE(reg=5.0).fit(_data()[0])
    monkeypatch.setattr(base, "_SCORE_CELLS", 3 * m.n_items)  # 3 users per block
    rng = np.random.default_rng(1)
    u = rng.integers(0, m.n_users, 500)
    i = rng.integers(0, m.n_items, 500)
    want = m.score_items(np.arange(m.n_users))[u, i]
    np.testing.assert_array_equal(m.predict_pairs(u, i), want)
