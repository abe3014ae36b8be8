"""PureSVD against a dense numpy.linalg.svd of the same users x items matrix: the
projector Q Qᵀ (independent of singular-vector signs), the singular values, the
scores X Q Qᵀ and the exact fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions
from minirec.models.linear import PureSVD


def _data(seed=0, n_users=30, n_items=12):
    rng = np.random.default_rng(seed)
    R = np.where(
        rng.random((n_users, n_items)) < 0.4, rng.integers(1, 6, (n_users, n_items)), 0
    )
    R[np.arange(n_items) % n_users, np.arange(n_items)] = 3  # every item seen
    u, i = np.nonzero(R)
    return Interactions.from_arrays(u, i, R[u, i].astype(np.float32)), R.astype(
        np.float64
    )


@pytest.mark.parametrize("k", [1, 4])
def test_factors_match_a_dense_svd(k):
    data, R = _data()
    m = PureSVD(k=k).fit(data)
    _, s, vt = np.linalg.svd(R, full_matrices=False)
    V = vt[:k].T
    items = m.item_index(np.arange(R.shape[1]))
    users = m.user_index(np.arange(R.shape[0]))
    Q = m.Q_[items].astype(np.float64)
    np.testing.assert_allclose(Q @ Q.T, V @ V.T, atol=1e-5)
    np.testing.assert_allclose(m.singular_values_, s[:k], rtol=1e-5)
    np.testing.assert_allclose(
        m.score_items(users)[:, items], R @ V @ V.T, rtol=1e-4, atol=1e-4
    )


def test_fold_in_reproduces_a_training_user():
    data, R = _data(seed=1)
    m = PureSVD(k=3).fit(data)
    u0 = m.user_index([5])[0]
    items = np.flatnonzero(R[5])
    m.fold_in([999] * len(items), items, R[5, items])
    np.testing.assert_allclose(
        m.score_items(m.user_index([999])), m.score_items([u0]), rtol=1e-5, atol=1e-5
    )


def test_deterministic_and_k_checked():
    data, _ = _data()
    a = PureSVD(k=3, seed=4).fit(data).score_items(np.arange(5))
    b = PureSVD(k=3, seed=4).fit(data).score_items(np.arange(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="k=12 must be below"):
        PureSVD(k=12).fit(data)
    with pytest.raises(ValueError, match="k"):
        PureSVD(k=0)
