"""Checks of lesson 00's exercises (called by lessons/_exercises.py)."""

import numpy as np


def _gini_pairs(x):
    """Gini as the mean absolute difference over all pairs / (2 mean)."""
    x = np.asarray(x, dtype=np.float64)
    return np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean())


def check_00_1(fn):
    equal = float(fn(np.full(8, 5)))
    assert abs(equal) < 1e-12, f"equal counts have Gini 0, got {equal}"
    one = float(fn(np.array([0, 0, 0, 12])))
    assert np.isclose(one, 0.75), (
        f"one item of 4 holding everything has Gini (n-1)/n = 0.75, got {one}"
    )
    x = np.random.default_rng(0).poisson(3, size=200) ** 2
    got, want = float(fn(x.copy())), _gini_pairs(x)
    assert np.isclose(got, want, rtol=1e-9), (
        f"Gini {got:.6f}, expected {want:.6f} = sum_ij |x_i - x_j| / (2 n^2 mean)"
    )
    shuffled = float(fn(np.random.default_rng(1).permutation(x)))
    assert np.isclose(shuffled, want, rtol=1e-9), "the Gini must not depend on order"


def check_00_2(fn):
    users = np.array([0, 0, 1, 2, 2, 2, 0])
    items = np.array([1, 3, 1, 0, 1, 2, 1])  # (0, 1) appears twice
    got = float(fn(users, items, 4, 5))
    dense = np.zeros((4, 5), bool)
    dense[users, items] = True
    want = dense.mean()
    assert np.isclose(got, want), (
        f"density {got}, expected {want} (6 distinct cells of 4 x 5): count each "
        "(user, item) pair once, and every user and item, rated or not"
    )
