"""Checks of lesson 06's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F


def check_06_1(fn):
    rng = np.random.default_rng(2)
    m, n, k, reg = 5, 6, 3, 0.1
    u, i = np.nonzero(rng.random((m, n)) < 0.5)
    r = rng.integers(1, 6, size=len(u)).astype(np.float64)
    mu = float(r.mean())
    P, Q = rng.normal(0, 0.3, (m, k)), rng.normal(0, 0.3, (n, k))
    bu, bi = rng.normal(0, 0.1, m), rng.normal(0, 0.1, n)
    got = fn(P.copy(), Q.copy(), bu.copy(), bi.copy(), mu, u, i, r, reg)
    assert isinstance(got, tuple) and len(got) == 2, "return (grad_bu, grad_bi)"
    tbu = Tensor(bu[:, None], requires_grad=True, dtype=np.float64)  # 1-column tables
    tbi = Tensor(bi[:, None], requires_grad=True, dtype=np.float64)
    dot = np.sum(P[u] * Q[i], axis=1)
    biases = F.reshape(F.embedding(tbu, u) + F.embedding(tbi, i), (-1,))
    pred = biases + Tensor(mu + dot, dtype=np.float64)
    e = Tensor(r, dtype=np.float64) - pred
    penalty = F.sum(tbu * tbu) + F.sum(tbi * tbi)
    (0.5 * F.sum(e * e) + reg / 2 * penalty).backward()
    for name, g, want in zip(
        ("bu", "bi"), got, (tbu.grad[:, 0], tbi.grad[:, 0]), strict=True
    ):
        g = np.asarray(g, dtype=np.float64)
        assert g.shape == want.shape, (
            f"grad_{name}: shape {g.shape}, expected {want.shape}"
        )
        assert np.allclose(g, want, rtol=1e-10, atol=1e-12), (
            f"grad_{name} off by up to {np.abs(g - want).max():.3g} from autograd: "
            "dL/db_u = -sum over the user's ratings of e_ui, plus reg b_u "
            "(mind the sign, as in E1)"
        )
