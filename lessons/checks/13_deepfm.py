"""Checks of lesson 13's exercises."""

import itertools

import numpy as np
from sklearn.metrics import roc_auc_score


def _case():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(9, 3))
    idx = np.array([[0, 3, 5, 6], [1, 4, 7, 5], [2, 3, 8, 8]])
    val = np.array([[1, 1, 0.5, 0.5], [1, 1, 1, 0.0], [1, 1, 0.3, 0.7]])
    return V, idx, val


def check_13_1(fn):
    V, idx, val = _case()
    want = np.array([
        sum(V[r[a]] @ V[r[b]] * x[a] * x[b] for a, b in itertools.combinations(range(4), 2))
        for r, x in zip(idx, val)
    ])  # fmt: skip
    got = np.asarray(fn(V, idx, val), np.float64).reshape(-1)
    assert got.shape == want.shape, (
        f"expected one value per row {want.shape}, got {got.shape}"
    )
    assert np.allclose(got, want), (
        f"got {np.round(got, 4)}, the pairwise double sum gives {np.round(want, 4)}"
    )


def check_13_2(fn):
    V, idx, val = _case()
    slot_field = np.array([0, 1, 2, 2])
    want = np.zeros((3, 3, V.shape[1]))
    for n in range(3):
        for a in range(4):
            want[n, slot_field[a]] += V[idx[n, a]] * val[n, a]
    got = np.asarray(fn(V, idx, val, slot_field, 3), np.float64)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got, want), (
        "field 2 holds two slots: its embedding is the value-weighted sum of both; "
        f"row 0 got {np.round(got[0], 3).tolist()}, expected {np.round(want[0], 3).tolist()}"
    )


def check_13_3(fn):
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounded: many ties
    got = float(fn(labels.astype(int), scores))
    want = roc_auc_score(labels, scores)
    assert np.isclose(got, want, atol=1e-12), (
        f"AUC {got:.5f}, scikit-learn's roc_auc_score gives {want:.5f} (ties count 1/2)"
    )
