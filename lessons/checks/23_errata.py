"""Checks of lesson 23's exercises."""

import numpy as np


def check_23_1(fn):
    rng = np.random.default_rng(0)
    m, n, k, lam = 6, 5, 3, 0.1
    mask = rng.random((m, n)) < 0.6
    mask[:, 0] = True  # every user has a rating
    R = np.where(mask, rng.integers(1, 6, (m, n)), 0).astype(float)
    Q = rng.normal(0, 0.5, (n, k))
    P = np.asarray(fn(Q.copy(), R.copy(), mask.copy(), lam), np.float64)
    assert P.shape == (m, k), f"P must be (m, k) = {(m, k)}, got {P.shape}"
    grad = -(mask * (R - P @ Q.T)) @ Q + lam * P  # ∂L/∂P
    assert np.abs(grad).max() < 1e-8, (
        f"∂L/∂P is not zero after the solve (max {np.abs(grad).max():.2e}): use only "
        "the items of each user, and lam on the diagonal"
    )


def check_23_2(fn):
    rng = np.random.default_rng(1)
    users = rng.integers(0, 5, 60)
    users[:3] = 4  # user 4 has >= 3 rows
    timestamps = rng.integers(0, 20, 60)  # not in file order, with ties
    n = 3
    got = np.asarray(fn(users, timestamps, n), bool)
    want = np.zeros(60, bool)
    for u in np.unique(users):
        rows = np.flatnonzero(users == u)
        # sort by (timestamp, row): the n last are the test rows
        latest = rows[np.lexsort((rows, timestamps[rows]))][-n:]
        want[latest] = True
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    wrong = np.flatnonzero(got != want)
    assert not len(wrong), (
        f"{len(wrong)} rows marked wrongly (first: row {wrong[0]}, user "
        f"{users[wrong[0]]}): sort each user's rows by timestamp, not by file order"
    )
