"""Checks of lesson 05's exercises (called by lessons/_exercises.py)."""

import math

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F


def check_05_1(fn):
    rng = np.random.default_rng(0)
    C = rng.integers(0, 3, size=(6, 5)).astype(float)
    C[0] = 0
    C[0, 1] = 2  # document 0: a single repeated term (and the next one)
    C[:, 0] = 1  # a term in every document: idf 0
    N = len(C)
    want = np.zeros_like(C)
    for d in range(N):
        for t in range(C.shape[1]):
            df = sum(C[e, t] > 0 for e in range(N))
            want[d, t] = C[d, t] / C[d].sum() * math.log(N / df)
        norm = math.sqrt(sum(w * w for w in want[d]))
        want[d] = want[d] / norm if norm > 0 else want[d]
    got = np.asarray(fn(C.copy()), dtype=np.float64)
    assert got.shape == C.shape, f"expected shape {C.shape}, got {got.shape}"
    assert np.allclose(got[:, 0], 0), "a term in every document has idf log(N/N) = 0"
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12), (
        f"weights off by up to {np.abs(got - want).max():.3g}: tf = c / sum(c) per "
        "document, idf = log(N / df), then each row scaled to unit length"
    )


def check_05_2(fn):
    rng = np.random.default_rng(5)
    vc, uo, U = rng.normal(size=4), rng.normal(size=4), rng.normal(size=(3, 4))
    loss, grad = fn(vc.copy(), uo.copy(), U.copy())
    v = Tensor(vc, requires_grad=True, dtype=np.float64)
    pos = F.sum(v * Tensor(uo, dtype=np.float64))
    neg = F.sum(Tensor(U, dtype=np.float64) * F.reshape(v, (1, -1)), axis=1)
    want = -(F.log_sigmoid(pos) + F.sum(F.log_sigmoid(-neg)))
    want.backward()
    assert np.isclose(float(loss), want.item(), rtol=1e-10), (
        f"loss {float(loss):.6f}, expected {want.item():.6f} = "
        "-log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c)"
    )
    grad = np.asarray(grad, dtype=np.float64)
    assert np.allclose(grad, v.grad, rtol=1e-10), (
        f"gradient {np.round(grad, 5)}, autograd gives {np.round(v.grad, 5)}: "
        "(sigma(u_o . v_c) - 1) u_o + sum_k sigma(u_k . v_c) u_k"
    )
