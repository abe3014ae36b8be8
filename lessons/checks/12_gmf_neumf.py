"""Checks of lesson 12's exercises."""

import numpy as np

from minirec.models.ncf import GMFNet


def check_12_1(fn):
    net = GMFNet(6, 7, 4, rng=2, std=0.5)
    net.h.W.data[:, 0] = np.random.default_rng(5).normal(size=4)
    net.h.b.data[:] = 0.3
    u, i = np.array([0, 5, 2, 2]), np.array([6, 1, 3, 0])
    got = np.asarray(
        fn(net.P.W.data, net.Q.W.data, net.h.W.data[:, 0], 0.3, u, i), np.float64
    ).reshape(-1)
    want = net(u, i).numpy()
    assert got.shape == want.shape, f"expected {len(u)} logits, got shape {got.shape}"
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), (
        f"got {np.round(got, 4)}, minirec's GMFNet gives {np.round(want, 4)}"
    )


def check_12_2(fn):
    rng = np.random.default_rng(0)
    kg, km = 4, 3
    h_g, h_m = rng.normal(size=kg), rng.normal(size=km)
    b_g, b_m = 0.7, -0.2
    xg, xm = rng.normal(size=(5, kg)), rng.normal(size=(5, km))
    for alpha in (0.5, 0.8, 1.0):
        h, b = fn(h_g.copy(), b_g, h_m.copy(), b_m, alpha)
        h = np.asarray(h, np.float64)
        assert h.shape == (kg + km,), f"h must have {kg + km} entries, got {h.shape}"
        fused = np.concatenate([xg, xm], axis=1) @ h + b
        want = alpha * (xg @ h_g + b_g) + (1 - alpha) * (xm @ h_m + b_m)
        assert np.allclose(fused, want), (
            f"alpha={alpha}: fused logits {np.round(fused, 3)} != alpha z_GMF + "
            f"(1 - alpha) z_MLP = {np.round(want, 3)} (scale both halves and the bias)"
        )


def check_12_3(fn):
    rng = np.random.default_rng(1)
    for _ in range(3):
        p, q = rng.normal(size=6), rng.normal(size=6)
        q2 = np.asarray(fn(p.copy(), q.copy(), np.random.default_rng(2)), np.float64)
        assert q2.shape == q.shape, f"q2 must have shape {q.shape}, got {q2.shape}"
        assert np.isclose(p @ q2, p @ q), f"p.q2 = {p @ q2:.4f} but p.q = {p @ q:.4f}"
        assert np.linalg.norm(q2 - q) >= 1 - 1e-9, (
            f"|q2 - q| = {np.linalg.norm(q2 - q):.3f}: move q further along a "
            "direction orthogonal to p"
        )
