"""Checks of lesson 21's exercises."""

import numpy as np


def check_21_1(fn):
    n, s = np.array([3.0, 0.0, 2.0, 0.0]), np.array([1.0, 0.0, 2.0, 0.0])
    assert int(fn(n, s, 5)) == 1, "arm 1 was never played: UCB1 plays it first"
    n, s = np.array([50.0, 2.0, 30.0]), np.array([30.0, 1.0, 20.0])
    bonus = s / n + np.sqrt(2 * np.log(82) / n)
    assert int(fn(n, s, 82)) == int(np.argmax(bonus)) == 1, (
        f"got arm {int(fn(n, s, 82))}: arm 1's mean is the lowest but its bonus "
        f"sqrt(2 ln t / n) is the largest (scores {np.round(bonus, 3)})"
    )
    n, s = np.array([400.0, 400.0, 400.0]), np.array([100.0, 300.0, 200.0])
    assert int(fn(n, s, 1200)) == 1, "with equal counts the best mean wins"


def check_21_2(fn):
    mu = np.array([0.2, 0.5, 0.1])
    chosen = np.array([0, 2, 1, 1, 0])
    got = np.asarray(fn(mu, chosen), np.float64)
    want = np.cumsum([0.3, 0.4, 0.0, 0.0, 0.3])
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got, want), f"got {got}, expected {want}"


def check_21_3(fn):
    n = np.array([10.0, 3.0, 0.0, 25.0])
    s = np.array([4.0, 1.0, 0.0, 12.0])
    hits = 0
    for seed in range(50):
        got = int(fn(n, s, np.random.default_rng(seed)))
        want = int(np.argmax(np.random.default_rng(seed).beta(1 + s, 1 + n - s)))
        hits += got == want
    assert hits == 50, (
        f"{hits}/50 draws match argmax(rng.beta(1 + s, 1 + n - s)) with the same rng; "
        "sample every arm's posterior, do not take the posterior mean"
    )
