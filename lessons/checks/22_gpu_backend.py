"""Checks of lesson 22's exercises."""

from collections import Counter

import numpy as np


def check_22_1(fn):
    rows = np.array([3, 1, 3, 3, 0, 1, 2, 3, 5, 5])
    lost, lost_top = fn(rows, 2)
    counts = Counter(rows.tolist())
    want = 1 - len(counts) / len(rows)  # each row keeps one update
    top = [r for r, _ in counts.most_common(2)]  # rows 3 (4 updates) and 1 or 5 (2)
    n_top = sum(counts[r] for r in top)
    want_top = 1 - len(top) / n_top
    assert np.isclose(lost, want), f"share lost {lost}, expected {want:.3f} (5 of 10)"
    assert np.isclose(lost_top, want_top), (
        f"share lost on the 2 busiest rows {lost_top}, expected {want_top:.3f}"
    )


def check_22_2(fn):
    rng = np.random.default_rng(0)
    P = rng.normal(size=(5, 3))
    rows = np.array([0, 2, 2, 4, 2, 0])
    deltas = rng.normal(size=(6, 3))
    want = P.copy()
    for r, d in zip(rows, deltas):
        want[r] += d
    P_before = P.copy()
    got = np.asarray(fn(P, rows, deltas))
    assert np.array_equal(P, P_before), "return a copy: P itself must not change"
    assert np.allclose(got, want), (
        "row 2 gets three deltas and row 0 two: every one must be added "
        f"(row 2 got {np.round(got[2], 3)}, expected {np.round(want[2], 3)})"
    )
