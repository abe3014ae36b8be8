"""Checks of lesson 17's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.nn import GRUCell, losses
from minirec.nn.module import Parameter
from minirec.optim import clip_grad_norm


def check_17_1(fn):
    cell = GRUCell(3, 4, rng=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    h = rng.normal(size=(2, 4)).astype(np.float32)
    want = cell(Tensor(x), Tensor(h)).numpy()
    w = [p.data.copy() for p in (cell.Wx, cell.Wh, cell.bx, cell.bh)]
    got = np.asarray(fn(x.copy(), h.copy(), *w), np.float64)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), (
        f"got {np.round(got[0], 4)}, minirec's GRUCell gives {np.round(want[0], 4)} "
        "(r and z from the first two blocks, n = tanh(a_n + r * u_n))"
    )


def check_17_2(fn):
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=4), rng.normal(size=(4, 7)) * 2
    for reg in (1.0, 0.0):
        got = float(fn(pos.copy(), neg.copy(), reg))
        want = losses.bpr_max(Tensor(pos), Tensor(neg), reg=reg).item()
        assert np.isclose(got, want, rtol=1e-6), (
            f"reg={reg}: {got:.6f}, minirec's bpr_max gives {want:.6f}"
        )


def check_17_3(fn):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    for max_norm in (1.0, 100.0):
        got = fn([g.copy() for g in grads], max_norm)
        params = [Parameter(np.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        clip_grad_norm(params, max_norm)
        norm = np.sqrt(sum((np.asarray(g) ** 2).sum() for g in got))
        want = min(max_norm, np.sqrt(sum((g**2).sum() for g in grads)))
        assert np.isclose(norm, want, rtol=1e-5), (
            f"max_norm={max_norm}: norm after clipping {norm:.4f}, expected {want:.4f}"
        )
        for a, p in zip(got, params):
            assert np.allclose(a, p.grad, rtol=1e-5), (
                f"max_norm={max_norm}: differs from minirec.optim.clip_grad_norm "
                "(scale every array by one factor)"
            )
