"""Every tuned kernel of numba_fast against the NumPy spec over several epochs
with seeded orders: the same trajectory (per-epoch losses and final parameters)
to float32 tolerance. The single-epoch cases (both read paths of SGD-MF, every
specialised k, FM padding shapes) are in test_kernels.py and test_fm_kernels.py,
parametrized over numba_ops and numba_fast."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from minirec.backends import numba_fast as NF
from minirec.backends import numpy_ops as NP
from minirec.backends._codegen import SPECIALIZED_K

N_EPOCHS = 3


def _mf_problem(k, seed=0, m=40, n=30, nnz=600):
    r = np.random.default_rng(seed)
    u = r.integers(0, m, nnz).astype(np.int32)
    i = r.integers(0, n, nnz).astype(np.int32)
    y = r.integers(1, 6, nnz).astype(np.float32)
    g = np.random.default_rng(seed + 1)
    params = (
        g.normal(0, 0.1, (m, k)).astype(np.float32),
        g.normal(0, 0.1, (n, k)).astype(np.float32),
        np.zeros(m, np.float32),
        np.zeros(n, np.float32),
    )
    return u, i, y, m, n, params


def _mf_run(mod, name, k):
    """N_EPOCHS of `name`, each on a fresh seeded shuffle, as the models run them
    (triples copied shuffled, the identity order; the grid kernels on the DSGD
    layout, shuffled block by block)."""
    u, i, y, m, n, params = _mf_problem(k)
    P, Q, bu, bi = (p.copy() for p in params)
    args = (3.0, 0.02, 0.05, 0.01, True)
    grid = name.endswith("_strata")
    if grid:
        perm, bounds = NP.strata_layout(u, i, m, n, 3)
        u, i, y = u[perm], i[perm], y[perm]
    out = [np.empty_like(a) for a in (u, i, y)]
    order = np.arange(len(u))
    losses = []
    for epoch in range(N_EPOCHS):
        if grid:
            NP.shuffle_ratings_blocks(u, i, y, bounds, epoch, *out)
            losses.append(getattr(mod, name)(*out, order, bounds, P, Q, bu, bi, *args))
        else:
            NP.shuffle_ratings(u, i, y, epoch, *out)
            losses.append(getattr(mod, name)(*out, order, P, Q, bu, bi, *args))
    return losses, (P, Q, bu, bi)


def _bpr_run(mod, name, k):
    u, i, _, m, n, params = _mf_problem(k, seed=2)
    P, Q, _, bi = (p.copy() for p in params)
    losses = []
    for epoch in range(N_EPOCHS):
        r = np.random.default_rng(epoch)
        j = r.integers(0, n, len(u)).astype(np.int32)
        sel = r.permutation(len(u))
        kernel = getattr(mod, name)
        losses.append(kernel(u[sel], i[sel], j, P, Q, bi, 0.05, 0.01, 0.02))
    return losses, (P, Q, bi)


def _fm_problem(k, seed=3, n=300, n_users=15, n_items=12):
    """Users: id + one of 3 groups; items: id + 0-3 of 5 genres (padding)."""
    r = np.random.default_rng(seed)
    uidx = np.stack(
        [np.arange(n_users), n_users + r.integers(0, 3, n_users)], axis=1
    ).astype(np.int32)
    uval = np.ones(uidx.shape, np.float32)
    base = n_users + 3
    iidx = np.full((n_items, 4), base + n_items, np.int32)
    ival = np.zeros((n_items, 4), np.float32)
    for it in range(n_items):
        g = r.choice(5, size=r.integers(0, 4), replace=False)
        iidx[it, 0], ival[it, 0] = base + it, 1.0
        iidx[it, 1 : 1 + len(g)] = base + n_items + g
        ival[it, 1 : 1 + len(g)] = 1.0 / max(len(g), 1)
    n_feat = base + n_items + 5
    users = r.integers(0, n_users, n).astype(np.int32)
    items = r.integers(0, n_items, n).astype(np.int32)
    y = r.integers(1, 6, n).astype(np.float32)
    params = (
        np.array([3.0], np.float32),
        (0.1 * r.standard_normal(n_feat)).astype(np.float32),
        (0.1 * r.standard_normal((n_feat, k))).astype(np.float32),
    )
    return users, items, y, (uidx, uval, iidx, ival), params


def _fm_run(mod, name, k):
    users, items, y, blocks, params = _fm_problem(k)
    w0, w, V = (p.copy() for p in params)
    uidx, uval, iidx, ival = blocks
    idx = np.ascontiguousarray(np.concatenate([uidx[users], iidx[items]], axis=1))
    val = np.ascontiguousarray(np.concatenate([uval[users], ival[items]], axis=1))
    losses = []
    for epoch in range(N_EPOCHS):
        order = np.random.default_rng(epoch).permutation(len(y))
        hyper = (0.02 * 0.9**epoch, 0.01, 0.02, False)
        if name == "sgd_fm_epoch":
            loss = mod.sgd_fm_epoch(idx, val, y, order, w0, w, V, *hyper)
        else:
            loss = mod.sgd_fm_blocks_epoch(
                users, items, y, order, *blocks, w0, w, V, *hyper
            )
        losses.append(loss)
    return losses, (w0, w, V)


RUNS = {
    "sgd_mf_epoch": _mf_run,
    "sgd_mf_epoch_hogwild": _mf_run,
    "sgd_mf_epoch_strata": _mf_run,
    "sgd_mf_epoch_hogwild_strata": _mf_run,
    "bpr_epoch": _bpr_run,
    "bpr_epoch_hogwild": _bpr_run,
    "sgd_fm_epoch": _fm_run,
    "sgd_fm_blocks_epoch": _fm_run,
}


def test_every_tuned_kernel_has_a_trajectory_test():
    assert sorted(RUNS) == sorted(NF.TUNED)


@pytest.mark.parametrize("k", [7, SPECIALIZED_K[1]])
@pytest.mark.parametrize("name", sorted(RUNS))
def test_tuned_kernel_follows_the_spec_trajectory(name, k):
    """Hogwild kernels on one thread (then they are the serial order; races on
    more threads are nondeterministic by design)."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        got_loss, got = RUNS[name](NF, name, k)
    finally:
        numba.set_num_threads(before)
    want_loss, want = RUNS[name](NP, name, k)
    np.testing.assert_allclose(got_loss, want_loss, rtol=2e-4)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5)
    assert want_loss[-1] < want_loss[0]  # it trained
