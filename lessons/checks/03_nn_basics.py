"""Checks of lesson 03's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F


def check_03_1(fn):
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(7, 6)), rng.normal(size=(3, 2))
    for stride in (1, 2):
        got = np.asarray(fn(x.copy(), w.copy(), stride), dtype=np.float64)
        want = F.conv2d(
            Tensor(x[None, None], dtype=np.float64),
            Tensor(w[None, None], dtype=np.float64),
            stride=stride,
        ).numpy()[0, 0]
        assert got.shape == want.shape, (
            f"stride {stride}: output shape {got.shape}, expected {want.shape} = "
            "((H - kh) // s + 1, (W - kw) // s + 1)"
        )
        assert np.allclose(got, want, rtol=1e-10), (
            f"stride {stride}: differs from minirec's conv2d by up to "
            f"{np.abs(got - want).max():.3g}: y[r, c] = sum(w * x[r s : r s + kh, "
            "c s : c s + kw]) (no kernel flip)"
        )


def check_03_2(fn):
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(6, 8)), rng.normal(size=(3, 4))
    got = np.asarray(fn(x.copy(), g.copy()), dtype=np.float64)
    xt = Tensor(x[None, None], requires_grad=True, dtype=np.float64)
    (F.max_pool2d(xt, 2) * Tensor(g[None, None], dtype=np.float64)).sum().backward()
    want = xt.grad[0, 0]
    assert got.shape == x.shape, f"gradient shape {got.shape}, expected {x.shape}"
    assert np.allclose(got, want), (
        "differs from minirec's max_pool2d backward: each window's upstream gradient "
        "goes to the position of its maximum, 0 elsewhere"
    )
