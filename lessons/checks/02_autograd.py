"""Checks of lesson 02's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F


def check_02_1(fn):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    got = np.asarray(fn(lambda v: float(np.sum(np.sin(v) * v**2)), x, 1e-6))
    want = np.cos(before) * before**2 + 2 * before * np.sin(before)
    assert np.array_equal(x, before), "x was changed: restore each element after use"
    assert got.shape == x.shape, (
        f"expected a gradient of shape {x.shape}, got {got.shape}"
    )
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8), (
        f"gradient of sum(sin(x) x^2) off by up to {np.abs(got - want).max():.3g}: "
        "use (f(x + eps e_k) - f(x - eps e_k)) / (2 eps) for each element k"
    )
    y = np.array([0.5, -2.0])
    got = np.asarray(fn(lambda v: float(v[0] ** 3 * v[1]), y, 1e-6))
    assert np.allclose(got, [3 * 0.25 * -2.0, 0.125], rtol=1e-6), (
        f"gradient of x0^3 x1 at (0.5, -2) should be [-1.5, 0.125], got {got}"
    )


def check_02_2(fn):
    a = np.array([-800.0, -30.0, -1.5, 0.0, 0.3, 4.0, 800.0])
    with np.errstate(all="ignore"):
        value, grad = (np.asarray(v, dtype=np.float64) for v in fn(a.copy()))
    assert value.shape == a.shape and grad.shape == a.shape, "return two arrays like a"
    assert np.isfinite(value).all() and np.isfinite(grad).all(), (
        f"not finite at ±800: value {value}, derivative {grad}"
    )
    want = np.logaddexp(0, a)
    assert np.allclose(value, want, rtol=1e-10, atol=1e-12), (
        f"softplus {np.round(value, 5)}, expected {np.round(want, 5)}"
    )
    t = Tensor(a, requires_grad=True, dtype=np.float64)
    F.sum(F.log_sigmoid(-t) * -1.0).backward()  # softplus(a) = -log sigmoid(-a)
    assert np.allclose(grad, t.grad, rtol=1e-10, atol=1e-12), (
        f"derivative {np.round(grad, 5)}, expected sigmoid(a) = {np.round(t.grad, 5)}"
    )


def check_02_3(fn):
    rng = np.random.default_rng(3)
    m, n, k, lam = 5, 4, 3, 0.1
    u, i = np.nonzero(rng.random((m, n)) < 0.6)
    r = rng.integers(1, 6, size=len(u)).astype(float)
    P, Q = rng.normal(size=(m, k)), rng.normal(size=(n, k))
    got = np.asarray(fn(P.copy(), Q.copy(), u, i, r, lam), dtype=np.float64)
    Pt = Tensor(P, dtype=np.float64)
    Qt = Tensor(Q, requires_grad=True, dtype=np.float64)
    e = Tensor(r, dtype=np.float64) - F.sum(
        F.embedding(Pt, u) * F.embedding(Qt, i), axis=1
    )
    (0.5 * F.sum(e * e) + lam / 2 * (F.sum(Pt * Pt) + F.sum(Qt * Qt))).backward()
    assert got.shape == Q.shape, f"expected shape {Q.shape}, got {got.shape}"
    printed = lam * Q
    np.add.at(printed, i, (r - np.sum(P[u] * Q[i], axis=1))[:, None] * P[u])
    assert not np.allclose(got, printed), (
        "this is the printed gradient of doc 000 (E1): the error term needs a minus sign"
    )
    assert np.allclose(got, Qt.grad, rtol=1e-8, atol=1e-10), (
        f"off by up to {np.abs(got - Qt.grad).max():.3g} from autograd: "
        "dL/dq_i = -sum_u (r_ui - p_u . q_i) p_u + lam q_i, summed over every rating of i"
    )
