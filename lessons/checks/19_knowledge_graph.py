"""Checks of lesson 19's exercises."""

import numpy as np


def check_19_1(fn):
    rng = np.random.default_rng(0)
    B, d = 4, 3
    Eh, Et, Rv = (rng.normal(size=(B, d)) for _ in range(3))
    Mr = rng.normal(size=(B, d, d))
    want = np.array(
        [np.sum((Mr[b] @ Eh[b] + Rv[b] - Mr[b] @ Et[b]) ** 2) for b in range(B)]
    )
    got = np.asarray(fn(Eh, Et, Rv, Mr), np.float64)
    assert got.shape == (B,), (
        f"expected one distance per triple ({B},), got {got.shape}"
    )
    assert np.allclose(got, want), (
        f"got {np.round(got, 3)}, expected {np.round(want, 3)}: project h and t with "
        "M_r (M_r @ h for each row) before adding r"
    )
    eye = np.broadcast_to(np.eye(d), (B, d, d))
    transe = ((Eh + Rv - Et) ** 2).sum(1)
    assert np.allclose(fn(Eh, Et, Rv, eye), transe), "with M_r = I it must be TransE"


def check_19_2(fn):
    triples = np.array([[0, 0, 5], [0, 0, 6], [1, 0, 5], [2, 1, 7], [0, 1, 7]])
    n_ent = 9
    true = {tuple(t) for t in triples.tolist()}
    draws = np.stack(
        [np.asarray(fn(triples, n_ent, np.random.default_rng(s))) for s in range(300)]
    )
    assert draws.shape == (300, len(triples)), (
        f"one tail per triple, got {draws.shape[1:]}"
    )
    for n, (h, r, _) in enumerate(triples.tolist()):
        bad = [t for t in draws[:, n] if (h, r, int(t)) in true]
        assert not bad, (
            f"triple {n} ({h}, {r}, ·): corrupted tail {bad[0]} is a true one"
        )
        allowed = {t for t in range(n_ent) if (h, r, t) not in true}
        seen = set(draws[:, n].tolist())
        assert seen == allowed, (
            f"triple {n}: draws should cover all {len(allowed)} allowed tails, got "
            f"{sorted(seen)}"
        )
