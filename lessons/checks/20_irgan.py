"""Checks of lesson 20's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.nn import losses


def check_20_1(fn):
    f_real = np.array([2.0, -1.0, 0.3, 500.0, -500.0])
    f_fake = np.array([-1.0, 0.5, 0.0, 500.0, -500.0])
    with np.errstate(all="ignore"):
        got = float(fn(f_real.copy(), f_fake.copy()))
    z = np.concatenate([f_real, f_fake])
    y = np.concatenate([np.ones(5), np.zeros(5)])
    want = 2 * losses.bce_with_logits(Tensor(z), y).item()  # two means, one per half
    assert np.isfinite(got), f"loss {got} is not finite for logits ±500"
    assert np.isclose(got, want, rtol=1e-9), (
        f"got {got:.6f}, expected {want:.6f} (-log sigma(x) = softplus(-x))"
    )


def check_20_2(fn):
    rng = np.random.default_rng(0)
    a, R = rng.normal(size=7), rng.random(7)
    at = Tensor(a, requires_grad=True)
    F.sum(F.softmax(at, axis=0) * Tensor(R)).backward()
    got = np.asarray(fn(a.copy(), R.copy()), np.float64)
    assert got.shape == a.shape, f"expected shape {a.shape}, got {got.shape}"
    assert np.allclose(got, at.grad, atol=1e-12), (
        f"got {np.round(got, 4)}, autograd of sum(softmax(a) * R) gives "
        f"{np.round(at.grad, 4)}: p * (R - p . R)"
    )
    assert abs(got.sum()) < 1e-12, "adding a constant to every logit changes nothing"
