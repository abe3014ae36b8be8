"""Checks of lesson 12b's exercises."""

import numpy as np
from sklearn.metrics.pairwise import cosine_similarity


def _binary(seed, shape=(30, 12), density=0.3):
    X = (np.random.default_rng(seed).random(shape) < density).astype(np.float64)
    X[:, -1] = 0.0  # an item nobody has
    return X


def check_12b_1(fn):
    for seed, lam in ((0, 3.0), (1, 20.0)):
        X = _binary(seed)
        n = X.shape[1]
        want = np.zeros((n, n))  # column j: ridge of item j on the other items
        for j in range(n):
            o = np.delete(np.arange(n), j)
            A = np.vstack([X[:, o], np.sqrt(lam) * np.eye(n - 1)])
            y = np.concatenate([X[:, j], np.zeros(n - 1)])
            want[o, j] = np.linalg.lstsq(A, y, rcond=None)[0]
        got = np.asarray(fn(X.copy(), lam), np.float64)
        assert got.shape == (n, n), f"B must be {n} x {n}, got shape {got.shape}"
        assert np.allclose(np.diag(got), 0.0, atol=1e-8), (
            f"diag(B) must be 0 (an item does not predict itself), got "
            f"{np.round(np.diag(got), 3)}"
        )
        assert np.allclose(got, want, atol=1e-8), (
            f"lam={lam}: B differs from the per-column ridge regressions by up to "
            f"{np.abs(got - want).max():.3g} (divide column j of P by P_jj)"
        )


def check_12b_2(fn):
    for seed, shrink in ((2, 0.0), (3, 5.0)):
        X = _binary(seed)
        n = X.shape[1]
        co = X.T @ X
        want = cosine_similarity(X.T) * np.divide(
            co, co + shrink, out=np.zeros_like(co), where=co + shrink > 0
        )
        np.fill_diagonal(want, 0.0)
        got = np.asarray(fn(X.copy(), shrink), np.float64)
        assert got.shape == (n, n), f"S must be {n} x {n}, got shape {got.shape}"
        assert np.all(np.isfinite(got)), (
            "S has NaN or inf: an item nobody has must get similarity 0, not 0/0"
        )
        assert np.allclose(np.diag(got), 0.0), "the diagonal of S must be 0"
        assert np.allclose(got, want, atol=1e-10), (
            f"shrink={shrink}: S differs from scikit-learn's cosine times "
            f"n_ij / (n_ij + shrink) by up to {np.abs(got - want).max():.3g}"
        )


def check_12b_3(fn):
    rng = np.random.default_rng(4)
    X = (rng.random((25, 15)) < 0.35).astype(np.float64)
    U, s, vt = np.linalg.svd(X, full_matrices=False)
    for k in (2, 5):
        assert s[k - 1] > s[k], "the check's matrix has tied singular values"
        want = (U[:, :k] * s[:k]) @ vt[:k]  # the rank-k reconstruction of X
        got = np.asarray(fn(X.copy(), k), np.float64)
        assert got.shape == X.shape, f"scores must be {X.shape}, got {got.shape}"
        assert np.allclose(got, want, atol=1e-8), (
            f"k={k}: the scores differ from X V_k V_kᵀ by up to "
            f"{np.abs(got - want).max():.3g} (use the first k rows of Vᵀ)"
        )
