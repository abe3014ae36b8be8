"""Checks of lesson 16's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.nn import losses


def check_16_1(fn):
    rng = np.random.default_rng(3)
    X, theta = rng.normal(size=(12, 4)), rng.normal(size=4)
    y = (rng.random(12) < 0.5).astype(np.float64)

    def ce(th):
        p = 1 / (1 + np.exp(-X @ th))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    eps = 1e-6
    numeric = np.array(
        [(ce(theta + eps * e) - ce(theta - eps * e)) / (2 * eps) for e in np.eye(4)]
    )
    th = Tensor(theta, requires_grad=True)
    losses.bce_with_logits(Tensor(X) @ th, y).backward()
    got = np.asarray(fn(X.copy(), y.copy(), theta.copy()), np.float64)
    assert got.shape == theta.shape, f"expected shape {theta.shape}, got {got.shape}"
    assert np.allclose(got, numeric, rtol=1e-5, atol=1e-8), (
        f"got {np.round(got, 5)}, finite differences give {np.round(numeric, 5)}"
    )
    assert np.allclose(got, th.grad, rtol=1e-8, atol=1e-12), "differs from autograd"


def check_16_2(fn):
    rng = np.random.default_rng(0)
    B, du, di, d = 5, 6, 4, 3
    Xu, Xi = rng.normal(size=(B, du)), rng.normal(size=(B, di))
    Wu, Wi = rng.normal(size=(du, d)), rng.normal(size=(di, d))
    bu, bi = rng.normal(size=d), rng.normal(size=d)
    got = np.asarray(fn(Xu, Xi, Wu, bu, Wi, bi), np.float64)
    want = np.array([(Xu[r] @ Wu + bu) @ (Xi[r] @ Wi + bi) for r in range(B)])
    assert got.shape == (B,), f"expected one logit per row ({B},), got {got.shape}"
    assert np.allclose(got, want), (
        f"got {np.round(got, 3)}, row by row u_r . v_r gives {np.round(want, 3)}"
    )
