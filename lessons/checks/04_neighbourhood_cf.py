"""Checks of lesson 04's exercises (called by lessons/_exercises.py)."""

import numpy as np


def check_04_1(fn):
    rng = np.random.default_rng(3)
    X = (rng.random((30, 8)) < 0.3).astype(float)
    X[:, 7] = 0  # an item nobody interacted with
    got = np.asarray(fn(X.copy()), dtype=np.float64)
    assert got.shape == (8, 8), f"expected an items x items matrix, got {got.shape}"
    want = np.zeros((8, 8))
    for i in range(8):
        for j in range(8):
            ni, nj = np.linalg.norm(X[:, i]), np.linalg.norm(X[:, j])
            if i != j and ni > 0 and nj > 0:
                want[i, j] = X[:, i] @ X[:, j] / (ni * nj)
    assert np.isfinite(got).all(), "an item with no interactions must give 0, not NaN"
    assert np.allclose(np.diag(got), 0), (
        "set the diagonal to 0 (an item is not its own neighbour)"
    )
    assert np.allclose(got, want, atol=1e-6), (
        f"cosines off by up to {np.abs(got - want).max():.3g}: "
        "cos(i, j) = x_i . x_j / (|x_i| |x_j|) over the item columns"
    )


def check_04_2(fn):
    rng = np.random.default_rng(4)
    m, n = 6, 7
    rated = rng.random((m, n)) < 0.6
    X = np.where(rated, rng.normal(size=(m, n)), 0.0)
    B = 3.5 + rng.normal(0, 0.3, size=(m, n))
    S = rng.uniform(-0.5, 1, size=(n, n))
    S = (S + S.T) / 2
    np.fill_diagonal(S, 0)
    for u, i, k in [(0, 1, 2), (3, 0, 3), (5, 6, 1), (2, 4, 10)]:
        cands = [j for j in range(n) if j != i and rated[u, j] and S[i, j] > 0]
        cands.sort(key=lambda j: -S[i, j])
        nb = cands[:k]
        want = B[u, i] + (
            sum(S[i, j] * X[u, j] for j in nb) / sum(S[i, j] for j in nb) if nb else 0.0
        )
        got = float(fn(S.copy(), X.copy(), B.copy(), rated.copy(), u, i, k))
        assert np.isclose(got, want, rtol=1e-10), (
            f"user {u}, item {i}, k={k}: predicted {got:.5f}, expected {want:.5f} = "
            "b_ui + sum s_ij x_uj / sum s_ij over the k most similar items the user "
            "rated, with s_ij > 0 (b_ui alone when there is none)"
        )
