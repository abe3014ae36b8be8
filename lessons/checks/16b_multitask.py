"""Checks of lesson 16b's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.nn import losses


def check_16b_1(fn):
    rng = np.random.default_rng(0)
    r_pred, r = rng.normal(3.5, 1, 6), rng.integers(1, 6, 6).astype(float)
    z = np.array([-800.0, -2.0, 0.0, 0.5, 3.0, 800.0, 1.0, -1.0])
    y = np.array([1.0, 0, 1, 0, 1, 0, 1, 1])
    for w in (0.0, 0.5, 2.0):
        with np.errstate(all="ignore"):
            got = float(fn(r_pred, r, z, y, w))
        want = (
            losses.mse(Tensor(r_pred), r).item()
            + w * losses.bce_with_logits(Tensor(z), y).item()
        )
        assert np.isfinite(got), f"w={w}: loss {got} is not finite for logits ±800"
        assert np.isclose(got, want, rtol=1e-9), (
            f"w={w}: got {got:.6f}, expected MSE + w BCE = {want:.6f}"
        )


def check_16b_2(fn):
    rng = np.random.default_rng(1)
    k = 5
    p, q, a, c = (rng.normal(size=k) for _ in range(4))
    a0, c0, mu = 0.2, -0.3, 3.5
    for r, y, w in ((4.0, 1.0, 0.5), (1.0, 0.0, 2.0)):
        pt = Tensor(p, requires_grad=True)
        x = pt * Tensor(q)
        r_hat = F.sum(x * Tensor(a)) + (mu + a0)
        z = F.reshape(F.sum(x * Tensor(c)) + c0, (1,))
        L = (r_hat - r) * (r_hat - r) + losses.bce_with_logits(z, np.array([y])) * w
        L.backward()
        got = np.asarray(fn(p, q, a, a0, c, c0, mu, r, y, w), np.float64)
        assert got.shape == p.shape, f"expected shape {p.shape}, got {got.shape}"
        assert np.allclose(got, pt.grad, rtol=1e-8, atol=1e-12), (
            f"r={r}, y={y}, w={w}: got {np.round(got, 4)}, autograd gives "
            f"{np.round(pt.grad, 4)} (add the click head's term w (σ(z) - y) c ⊙ q)"
        )
