"""Checks of lesson 06b's exercises (called by lessons/_exercises.py)."""

import numpy as np


def check_06b_1(fn):
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 7, size=40)  # many repeated rows
    rows[:3] = 6  # the last row appears
    values = rng.normal(size=(40, 3))
    want = np.zeros((8, 3))  # row 7 never appears: it must stay 0
    np.add.at(want, rows, values)
    got = np.asarray(fn(rows.copy(), values.copy(), 8))
    assert got.shape == (8, 3), f"expected shape (8, 3), got {got.shape}"
    assert np.allclose(got, want, rtol=1e-12), (
        "differs from np.add.at: a row listed several times must receive the sum of "
        "all its values (plain fancy-index assignment keeps only one of them)"
    )
