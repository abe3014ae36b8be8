"""Checks of lesson 09's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F


def _fm_pairwise(x, w0, w, V):
    """The FM prediction with every pair i < j of doc 000 §4.2 (upper triangle)."""
    pairs = np.triu((V @ V.T) * np.outer(x, x), k=1)
    return w0 + w @ x + pairs.sum()


def check_09_1(fn):
    rng = np.random.default_rng(4)
    n_users, n_items, k = 3, 4, 2
    mu, bu, bi = 3.6, rng.normal(size=n_users), rng.normal(size=n_items)
    P, Q = rng.normal(size=(n_users, k)), rng.normal(size=(n_items, k))
    out = fn(mu, bu.copy(), bi.copy(), P.copy(), Q.copy())
    assert isinstance(out, tuple) and len(out) == 3, "return (w0, w, V)"
    w0, w, V = float(out[0]), np.asarray(out[1]), np.asarray(out[2])
    n = n_users + n_items
    assert w.shape == (n,) and V.shape == (n, k), (
        f"w must have {n} entries and V shape ({n}, {k}): users first, then items"
    )
    for u in range(n_users):
        for i in range(n_items):
            x = np.zeros(n)
            x[u], x[n_users + i] = 1, 1
            got = _fm_pairwise(x, w0, w, V)
            want = mu + bu[u] + bi[i] + P[u] @ Q[i]
            assert np.isclose(got, want, rtol=1e-10), (
                f"user {u}, item {i}: the FM predicts {got:.5f}, MF {want:.5f}"
            )


def check_09_2(fn):
    rng = np.random.default_rng(6)
    n, k, lr, y = 7, 3, 0.05, 4.0
    x = rng.random(n) * (rng.random(n) < 0.6)
    w0, w, V = 0.5, rng.normal(size=n), rng.normal(0, 0.3, (n, k))
    t0 = Tensor(np.array(w0), requires_grad=True, dtype=np.float64)
    tw = Tensor(w, requires_grad=True, dtype=np.float64)
    tV = Tensor(V, requires_grad=True, dtype=np.float64)
    xt = Tensor(x[None, :], dtype=np.float64)
    s = F.matmul(xt, tV)
    sq = F.matmul(Tensor((x**2)[None, :], dtype=np.float64), tV * tV)
    y_hat = t0 + F.sum(tw * Tensor(x, dtype=np.float64)) + 0.5 * F.sum(s * s - sq)
    d = y_hat - y
    (0.5 * d * d).backward()
    out = fn(x.copy(), y, w0, w.copy(), V.copy(), lr)
    assert isinstance(out, tuple) and len(out) == 3, "return (w0, w, V)"
    names = ("w0", "w", "V")
    for name, got, p0, g in zip(names, out, (w0, w, V), (t0.grad, tw.grad, tV.grad)):
        want = p0 - lr * g
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12), (
            f"{name} after the step differs from autograd's by up to "
            f"{np.abs(np.asarray(got) - want).max():.3g}: theta -= lr (y_hat - y) "
            "d y_hat / d theta, with doc 000 §4.2.3's gradient"
        )
