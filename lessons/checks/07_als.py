"""Checks of lesson 07's exercises (called by lessons/_exercises.py)."""

import numpy as np


def check_07_1(fn):
    rng = np.random.default_rng(1)
    n, k, alpha, lam = 12, 3, 4.0, 0.2
    Y = rng.normal(size=(n, k))
    items = np.array([1, 4, 5, 9])
    c, p = np.ones(n), np.zeros(n)
    c[items], p[items] = 1 + alpha, 1
    want = np.linalg.solve((Y.T * c) @ Y + lam * np.eye(k), (Y.T * c) @ p)
    got = np.asarray(fn(Y.copy(), items.copy(), alpha, lam), dtype=np.float64)
    assert got.shape == (k,), f"expected a vector of {k} factors, got {got.shape}"
    assert np.allclose(got, want, rtol=1e-8), (
        f"x_u = {np.round(got, 5)}, the dense formula gives {np.round(want, 5)}: "
        "(Y^T Y + alpha Y_I^T Y_I + lam I) x = (1 + alpha) sum_{i in I} y_i"
    )


def check_07_2(fn):
    rng = np.random.default_rng(2)
    m, n, k, lam = 4, 5, 2, 0.3
    u, i = np.nonzero(rng.random((m, n)) < 0.6)
    r = rng.integers(1, 6, size=len(u)).astype(float)
    P, Q = rng.normal(size=(m, k)), rng.normal(size=(n, k))
    want = 0.0
    for t in range(len(u)):
        want += (r[t] - P[u[t]] @ Q[i[t]]) ** 2
    for a in range(m):
        want += lam * np.sum(u == a) * P[a] @ P[a]
    for b in range(n):
        want += lam * np.sum(i == b) * Q[b] @ Q[b]
    got = float(fn(P.copy(), Q.copy(), u, i, r, lam))
    assert np.isclose(got, want, rtol=1e-10), (
        f"J = {got:.6f}, expected {want:.6f}: squared errors plus lam times each "
        "row's squared norm weighted by its number of ratings"
    )
