"""Synthetic generators: shapes, determinism, planted structure."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import checkerboard, synthetic_ratings, synthetic_sessions


def test_synthetic_ratings_shape_and_features():
    d = synthetic_ratings(200, 100, k=4, density=0.1, seed=3)
    assert d.shape == (200, 100) and len(d) == 2000
    assert set(np.unique(d.ratings)) <= {1, 2, 3, 4, 5}
    assert d.user_counts().min() >= 2 and d.has_timestamps
    f = d.item_features
    assert f["title"][16].startswith("Synthetic Movie 17 (") and len(f) == 100
    genres = [c for c in f if c.startswith("genre:")]
    assert len(genres) >= 5 and (f[genres].sum(axis=1) >= 1).all()
    assert list(d.user_features.columns) == ["gender", "age", "occupation"]
    # popularity skew: the top 10% of items hold far more than 10% of ratings
    c = np.sort(d.item_counts())[::-1]
    assert c[:10].sum() > 0.2 * c.sum()


def test_synthetic_deterministic():
    a, b = synthetic_ratings(seed=1), synthetic_ratings(seed=1)
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.ratings, b.ratings)
    assert not np.array_equal(a.ratings, synthetic_ratings(seed=2).ratings)


def test_planted_low_rank_explains_ratings():
    d, truth = synthetic_ratings(300, 200, k=4, density=0.2, seed=0, return_truth=True)
    P, Q = truth["P"], truth["Q"]
    pred = truth["mu"] + truth["bu"][d.users] + truth["bi"][d.items]
    pred = np.clip(pred + np.sum(P[d.users] * Q[d.items], axis=1), 1, 5)
    rmse_truth = np.sqrt(np.mean((pred - d.ratings) ** 2))
    rmse_mean = d.ratings.std()
    assert rmse_truth < 0.6 * rmse_mean


def test_synthetic_sessions_markov():
    s, T = synthetic_sessions(
        500, 30, mean_length=6, n_next=2, noise=0.05, seed=0, return_truth=True
    )
    assert s.lengths().min() >= 2 and s.n_items == 30
    np.testing.assert_allclose(T.sum(axis=1), 1)
    # most observed transitions are the planted likely ones
    sess = s.session_index()
    same = sess[1:] == sess[:-1]
    a, b = s.items[:-1][same], s.items[1:][same]
    assert (T[a, b] > 0.3).mean() > 0.85
    assert (np.diff(s.times)[same] > 0).all()


def test_checkerboard_blocks():
    d = checkerboard(40, 20, blocks=4, seed=0)
    ub = d.users * 4 // 40
    ib = d.items * 4 // 20
    assert (ub == ib).all() and d.implicit and d.user_counts().min() >= 1


@pytest.mark.parametrize("kw", [{"density": 0}, {"density": 0.9}, {"n_users": 0}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        synthetic_ratings(**kw)
