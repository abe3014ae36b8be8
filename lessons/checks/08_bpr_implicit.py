"""Checks of lesson 08's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.backends import numpy_ops


def check_08_1(fn):
    rng = np.random.default_rng(3)
    P, Q, bi = rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), rng.normal(size=6)
    lr, reg, reg_bias = 0.1, 0.01, 0.001
    for u, i, j in [(0, 1, 2), (3, 5, 0), (2, 4, 1)]:
        spec = [P.copy(), Q.copy(), bi.copy()]
        numpy_ops.bpr_epoch(
            np.array([u]), np.array([i]), np.array([j]), *spec, lr, reg, reg_bias
        )
        got = fn(P.copy(), Q.copy(), bi.copy(), u, i, j, lr, reg, reg_bias)
        assert isinstance(got, tuple) and len(got) == 3, "return (P, Q, bi)"
        for name, g, s in zip(("P", "Q", "bi"), got, spec, strict=True):
            assert np.allclose(g, s, rtol=1e-10, atol=1e-12), (
                f"triple ({u}, {i}, {j}): {name} differs from minirec's bpr_epoch by "
                f"up to {np.abs(np.asarray(g) - s).max():.3g}: with "
                "x = p_u.(q_i - q_j) + b_i - b_j and g = sigma(-x), step every "
                "parameter by lr (g * d x/d theta - reg theta), old values throughout"
            )


def check_08_2(fn):
    pos = np.array([3.0, 1.0, 0.5, 2.0, -1.0])
    neg = np.tile(np.linspace(-2, 2.5, 9), (5, 1))  # 9 negatives per user
    neg[3, 0] = 2.0  # a tie with the positive counts against it
    ranks = np.array([(neg[u] >= pos[u]).sum() for u in range(5)])
    for k in (1, 2, 3, 5):
        want = float(np.mean(ranks < k))
        got = float(fn(pos.copy(), neg.copy(), k))
        assert np.isclose(got, want), (
            f"HR@{k} = {got}, expected {want}: the positive's rank is the number of "
            "its negatives scoring at least as high (ties count against it)"
        )
