"""Checks of lesson 07b's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.backends import get_kernels


def _ratings(seed, n_users=40, n_items=25, n=300):
    rng = np.random.default_rng(seed)
    key = np.unique(rng.integers(0, n_users * n_items, n))
    return (key // n_items).astype(np.int32), (key % n_items).astype(np.int32)


def check_07b_1(fn):
    users, items = _ratings(0)
    for n_blocks in (1, 3, 7):
        want = sum(
            len({int(i) for u, i in zip(users, items) if u % n_blocks == b})
            for b in range(n_blocks)
        )
        got = fn(users.copy(), items.copy(), n_blocks)
        assert int(got) == want, (
            f"n_blocks={n_blocks}: {got} factors, but the {n_blocks} user blocks "
            f"need {want} (item, block) pairs: an item rated by 3 users of one block "
            "is sent to that block once"
        )


def check_07b_2(fn):
    rng = np.random.default_rng(1)
    for T in (2, 3, 5):
        ub, ib = rng.integers(0, T, 400), rng.integers(0, T, 400)
        s = np.asarray(fn(ub.copy(), ib.copy(), T))
        assert s.shape == ub.shape, f"one stratum per rating: shape {s.shape}"
        assert s.min() >= 0 and s.max() < T, f"strata must lie in 0..{T - 1}"
        for st in range(T):
            pairs = set(zip(ub[s == st].tolist(), ib[s == st].tolist()))
            u_blocks = [p[0] for p in pairs]
            i_blocks = [p[1] for p in pairs]
            assert len(set(u_blocks)) == len(u_blocks), (
                f"T={T}, stratum {st}: a user block works on two item blocks "
                f"{sorted(pairs)}"
            )
            assert len(set(i_blocks)) == len(i_blocks), (
                f"T={T}, stratum {st}: two user blocks share an item block "
                f"{sorted(pairs)}: their item factors would race"
            )


def check_07b_3(fn):
    users, items = _ratings(2)
    rng = np.random.default_rng(3)
    ratings = rng.integers(1, 6, len(users)).astype(np.float32)
    Q = rng.normal(0, 0.3, (25, 4)).astype(np.float32)
    block = np.flatnonzero(np.arange(40) % 3 == 1)  # the users of block 1 of 3
    order = np.argsort(users, kind="stable")
    u, i, r = users[order], items[order], ratings[order]
    keep = np.isin(u, block)
    u, i, r = u[keep], i[keep], r[keep]
    local = np.searchsorted(block, u)
    indptr = np.r_[0, np.cumsum(np.bincount(local, minlength=len(block)))]
    shipped = {int(j): Q[j].astype(np.float64) for j in np.unique(i)}
    got = np.asarray(fn(indptr.copy(), i.copy(), r.copy(), shipped, 0.1))
    want = np.empty((len(block), 4), np.float32)
    get_kernels("numpy").als_solve(indptr.astype(np.int64), i, r, Q, want, 0.1, True)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got, want, rtol=1e-3, atol=1e-4), (
        "not the ALS-WR solve: for each user, A = Q_Iᵀ Q_I + lam |I_u| I, "
        f"b = Q_Iᵀ r_u; first row {np.round(got[0], 4)}, expected "
        f"{np.round(want[0], 4)}"
    )
