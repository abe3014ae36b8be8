"""Checks of lesson 06's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.backends import numpy_ops


def check_06_1(fn):
    rng = np.random.default_rng(2)
    m, n, k = 5, 6, 3
    u, i = np.nonzero(rng.random((m, n)) < 0.5)
    r = rng.integers(1, 6, size=len(u)).astype(np.float64)
    order = rng.permutation(len(u))
    start = (
        rng.normal(0, 0.3, (m, k)),
        rng.normal(0, 0.3, (n, k)),
        rng.normal(0, 0.1, m),
        rng.normal(0, 0.1, n),
    )
    mu, lr, reg = float(r.mean()), 0.05, 0.02
    spec = [a.copy() for a in start]
    numpy_ops.sgd_mf_epoch(u, i, r, order, *spec, mu, lr, reg, reg, True)
    got = fn(u, i, r, order, *(a.copy() for a in start), mu, lr, reg)
    assert isinstance(got, tuple) and len(got) == 4, "return (P, Q, bu, bi)"
    for name, g, s, s0 in zip(("P", "Q", "bu", "bi"), got, spec, start, strict=True):
        assert np.allclose(g, s, rtol=1e-9, atol=1e-12), (
            f"{name} after one epoch differs from minirec's spec by up to "
            f"{np.abs(np.asarray(g) - s).max():.3g}"
            + (" (unchanged: did you update it?)" if np.allclose(g, s0) else "")
            + ": e = r - (mu + b_u + b_i + p_u . q_i), then every update with the "
            "values from before this rating's step"
        )
