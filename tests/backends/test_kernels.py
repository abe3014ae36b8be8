"""The kernel contract: NumPy spec vs the readable Numba twins (numba_ops) and the
tuned kernels (numba_fast) on the same orders and samples, reproducibility,
Hogwild, CG vs exact solves, and the NUMBA_DISABLE_JIT=1 run."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from minirec.backends import base, get_kernels
from minirec.backends import numba_fast as NF
from minirec.backends import numba_ops as NB
from minirec.backends import numpy_ops as NP
from minirec.backends._codegen import SPECIALIZED_K
from minirec.backends.numba_ops.shuffle import _bucket_bits

#: the two Numba tables: readable twins and tuned kernels, each tested on the spec
TWINS = pytest.mark.parametrize("JIT", [NB, NF], ids=["numba_ops", "numba_fast"])

ROOT = Path(__file__).resolve().parents[2]


def _params(fn):
    f = getattr(fn, "py_func", fn)
    return list(inspect.signature(f).parameters)


@pytest.mark.parametrize("name", base.KERNELS)
def test_every_backend_has_every_kernel_with_the_contract_signature(name):
    want = [
        p
        for p in inspect.signature(getattr(base.KernelBackend, name)).parameters
        if p != "self"
    ]
    for mod in (NP, NB, NF):
        if name in getattr(mod, "UNSUPPORTED", {}):
            continue
        assert hasattr(mod, name), f"{mod.__name__} lacks {name}"
        assert _params(getattr(mod, name)) == want, f"{mod.__name__}.{name}"
        assert getattr(mod, name).__doc__, f"{mod.__name__}.{name} has no docstring"


def test_get_kernels_names_the_install_command_for_unknown_backends():
    with pytest.raises(ValueError, match="choose one of"):
        get_kernels("tensorflow")
    # the models train with the tuned table (backends/__init__.py)
    assert get_kernels("numpy") is NP and get_kernels("numba") is NF


# ----------------------------------------------------------------------------- data
def _ratings(seed=0, m=30, n=20, nnz=300):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, m, nnz).astype(np.int32)
    i = rng.integers(0, n, nnz).astype(np.int32)
    r = rng.integers(1, 6, nnz).astype(np.float32)
    return u, i, r, m, n


def _factors(m, n, k, seed=1, std=0.1):
    g = np.random.default_rng(seed)
    return (
        g.normal(0, std, (m, k)).astype(np.float32),
        g.normal(0, std, (n, k)).astype(np.float32),
        g.normal(0, std, m).astype(np.float32),
        g.normal(0, std, n).astype(np.float32),
    )


def _csr(rows, cols, vals, n_rows):
    """Deduplicated CSR (first value wins), columns sorted."""
    key = rows.astype(np.int64) * 10_000 + cols
    _, first = np.unique(key, return_index=True)
    rows, cols, vals = rows[first], cols[first], vals[first]
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order].astype(np.int32), vals[order].astype(np.float32)


def _close(a, b, rtol=2e-4, atol=2e-6):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- SGD MF
@TWINS
@pytest.mark.parametrize("k", [6, *SPECIALIZED_K])
@pytest.mark.parametrize("ordering", ["permutation", "identity"])
@pytest.mark.parametrize("biased", [True, False])
def test_sgd_mf_numba_matches_numpy_spec(biased, ordering, k, JIT):
    """Both paths of the tuned kernel: a shuffled `order` (gathered in blocks) and
    the identity (the triples read directly, what the models pass); k = 6 runs
    the loop with k read from the array, the others its copies compiled with k
    constant."""
    u, i, r, m, n = _ratings()
    order = np.random.default_rng(5).permutation(len(u))
    if ordering == "identity":
        u, i, r = u[order], i[order], r[order]
        order = np.arange(len(u))
    out = {}
    for mod in (NP, JIT):
        P, Q, bu, bi = _factors(m, n, k)
        loss = mod.sgd_mf_epoch(
            u, i, r, order, P, Q, bu, bi, 3.0, 0.02, 0.05, 0.01, biased
        )
        out[mod] = (loss, P, Q, bu, bi)
    _close(out[NP][0], out[JIT][0], rtol=1e-5)
    for a, b in zip(out[NP][1:], out[JIT][1:]):
        _close(a, b)
    if not biased:  # Funk SVD leaves the biases alone
        _, _, bu0, bi0 = _factors(m, n, k)
        np.testing.assert_array_equal(out[JIT][3], bu0)


def test_sgd_mf_spec_matches_hand_computed_single_update():
    """One rating, done by hand: the q_i update uses p_u from before its update."""
    P = np.array([[1.0, 2.0]], np.float32)
    Q = np.array([[0.5, -1.0]], np.float32)
    bu = np.array([0.1], np.float32)
    bi = np.array([-0.2], np.float32)
    mu, lr, reg, rb, r = 3.0, 0.1, 0.5, 0.25, 4.0
    err = r - (mu + 0.1 - 0.2 + (0.5 - 2.0))  # = 2.6
    for mod in (NP, NB, NF):
        P1, Q1, bu1, bi1 = P.copy(), Q.copy(), bu.copy(), bi.copy()
        loss = mod.sgd_mf_epoch(
            np.array([0], np.int32),
            np.array([0], np.int32),
            np.array([r], np.float32),
            np.array([0]),
            P1,
            Q1,
            bu1,
            bi1,
            mu,
            lr,
            reg,
            rb,
            True,
        )
        _close(loss, err**2, rtol=1e-6)
        _close(P1[0], P[0] + lr * (err * Q[0] - reg * P[0]), rtol=1e-6)
        _close(Q1[0], Q[0] + lr * (err * P[0] - reg * Q[0]), rtol=1e-6)
        _close(bu1[0], 0.1 + lr * (err - rb * 0.1), rtol=1e-6)
        _close(bi1[0], -0.2 + lr * (err - rb * -0.2), rtol=1e-6)


@TWINS
def test_serial_numba_kernels_are_bitwise_reproducible(JIT):
    u, i, r, m, n = _ratings(3)
    order = np.random.default_rng(0).permutation(len(u))
    res = []
    for _ in range(2):
        P, Q, bu, bi = _factors(m, n, 8)
        JIT.sgd_mf_epoch(u, i, r, order, P, Q, bu, bi, 3.0, 0.02, 0.05, 0.01, True)
        JIT.bpr_epoch(u, i, i[::-1].copy(), P, Q, bi, 0.05, 0.01, 0.01)
        res.append((P, Q, bu, bi))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


@TWINS
def test_hogwild_on_one_thread_is_the_serial_kernel_and_on_two_is_close(JIT):
    u, i, r, m, n = _ratings(4, m=200, n=100, nnz=5000)
    order = np.random.default_rng(0).permutation(len(u))
    P0, Q0, bu0, bi0 = _factors(m, n, 8)
    JIT.sgd_mf_epoch(u, i, r, order, P0, Q0, bu0, bi0, 3.0, 0.01, 0.05, 0.01, True)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        P1, Q1, bu1, bi1 = _factors(m, n, 8)
        JIT.sgd_mf_epoch_hogwild(
            u, i, r, order, P1, Q1, bu1, bi1, 3.0, 0.01, 0.05, 0.01, True
        )
        np.testing.assert_array_equal(P1, P0)
        np.testing.assert_array_equal(Q1, Q0)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        P2, Q2, bu2, bi2 = _factors(m, n, 8)
        loss = JIT.sgd_mf_epoch_hogwild(
            u, i, r, order, P2, Q2, bu2, bi2, 3.0, 0.01, 0.05, 0.01, True
        )
    finally:
        numba.set_num_threads(old)
    assert np.isfinite(loss)
    # Hogwild is nondeterministic but lands near the serial epoch's parameters
    pred0 = 3.0 + bu0[u] + bi0[i] + np.einsum("ij,ij->i", P0[u], Q0[i])
    pred2 = 3.0 + bu2[u] + bi2[i] + np.einsum("ij,ij->i", P2[u], Q2[i])
    assert np.sqrt(np.mean((pred0 - pred2) ** 2)) < 0.05


# ----------------------------------------------------------------------------- BPR
@TWINS
def test_bpr_numba_matches_numpy_spec_including_i_equal_j(JIT):
    u, i, _, m, n = _ratings(6)
    j = np.random.default_rng(7).integers(0, n, len(u)).astype(np.int32)
    j[:5] = i[:5]  # degenerate triples must give the same result in both backends
    out = {}
    for mod in (NP, JIT):
        P, Q, _, bi = _factors(m, n, 5)
        loss = mod.bpr_epoch(u, i, j, P, Q, bi, 0.05, 0.01, 0.02)
        out[mod] = (loss, P, Q, bi)
    _close(out[NP][0], out[JIT][0], rtol=1e-5)
    for a, b in zip(out[NP][1:], out[JIT][1:]):
        _close(a, b)
    # the Hogwild kernel on one thread is the serial one
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        P, Q, _, bi = _factors(m, n, 5)
        loss = JIT.bpr_epoch_hogwild(u, i, j, P, Q, bi, 0.05, 0.01, 0.02)
    finally:
        numba.set_num_threads(before)
    _close(loss, out[JIT][0], rtol=1e-5)
    for a, b in zip((P, Q, bi), out[JIT][1:]):
        _close(a, b)


def test_bpr_single_step_by_hand_and_hogwild_runs():
    P = np.array([[1.0, 0.0]], np.float32)
    Q = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    bi = np.zeros(2, np.float32)
    x = 1.0  # p_u·(q_0 - q_1)
    g = 1 / (1 + np.exp(x))
    for mod in (NP, NB, NF):
        P1, Q1, b1 = P.copy(), Q.copy(), bi.copy()
        loss = mod.bpr_epoch(
            np.array([0], np.int32),
            np.array([0], np.int32),
            np.array([1], np.int32),
            P1,
            Q1,
            b1,
            0.1,
            0.0,
            0.0,
        )
        _close(loss, np.log1p(np.exp(-x)), rtol=1e-6)
        _close(P1[0], P[0] + 0.1 * g * (Q[0] - Q[1]), rtol=1e-6)
        _close(b1, [0.1 * g, -0.1 * g], rtol=1e-6)
    u, i, _, m, n = _ratings(8, nnz=2000)
    P, Q, _, bi = _factors(m, n, 4)
    assert np.isfinite(
        NB.bpr_epoch_hogwild(u, i, i[::-1].copy(), P, Q, bi, 0.05, 0.01, 0.01)
    )


# ----------------------------------------------------------------------------- ALS
@pytest.mark.parametrize("weighted", [True, False])
def test_als_solve_matches_spec_and_normal_equations(weighted):
    u, i, r, m, n = _ratings(9)
    indptr, indices, t = _csr(u, i, r, m)
    _, Q, _, _ = _factors(m, n, 4)
    out = {}
    for mod in (NP, NB):
        X = np.full((m, 4), 7.0, np.float32)  # overwritten for every row
        out[mod] = (mod.als_solve(indptr, indices, t, Q, X, 0.1, weighted), X)
    _close(out[NP][0], out[NB][0], rtol=1e-4)
    _close(out[NP][1], out[NB][1], rtol=1e-4, atol=1e-5)
    X = out[NB][1]
    for row in range(m):
        I = indices[indptr[row] : indptr[row + 1]]
        if len(I) == 0:
            np.testing.assert_array_equal(X[row], 0)
            continue
        lam = 0.1 * len(I) if weighted else 0.1
        Y = Q[I].astype(np.float64)
        grad = Y.T @ (Y @ X[row] - t[indptr[row] : indptr[row + 1]]) + lam * X[row]
        assert np.abs(grad).max() < 1e-4  # the normal equations hold


def _dense_implicit_solution(indptr, indices, conf, Y, reg, m):
    n, k = Y.shape
    X = np.zeros((m, k))
    for row in range(m):
        c = np.ones(n)
        p = np.zeros(n)
        I = indices[indptr[row] : indptr[row + 1]]
        c[I] = conf[indptr[row] : indptr[row + 1]]
        p[I] = 1
        A = (Y.T * c) @ Y + reg * np.eye(k)  # the full YᵀC_uY, no trick
        X[row] = np.linalg.solve(A, (Y.T * c) @ p)
    return X


def test_implicit_als_exact_matches_the_dense_formula_and_cg_converges_to_it():
    u, i, r, m, n = _ratings(10)
    indptr, indices, vals = _csr(u, i, r, m)
    conf = (1 + 2.0 * vals).astype(np.float32)
    P, Q, _, _ = _factors(m, n, 5)
    YtY = (Q.T.astype(np.float64) @ Q).astype(np.float32)
    want = _dense_implicit_solution(indptr, indices, conf, Q.astype(np.float64), 0.1, m)
    for mod in (NP, NB):
        X = P.copy()
        loss = mod.implicit_als_solve(indptr, indices, conf, Q, YtY, X, 0.1)
        _close(X, want, rtol=1e-3, atol=1e-5)
        pred = np.einsum(
            "ij,ij->i", X[np.repeat(np.arange(m), np.diff(indptr))], Q[indices]
        )
        _close(loss, (conf * (1 - pred) ** 2).sum(), rtol=1e-4)
    out = {}
    for mod in (NP, NB):
        X = P.copy()
        losses = [
            mod.implicit_als_cg(indptr, indices, conf, Q, YtY, X, 0.1, 3)
            for _ in range(12)
        ]
        out[mod] = (losses, X)
        _close(X, want, rtol=1e-2, atol=1e-4)  # warm-started CG converges
        assert losses[-1] <= losses[1] + 1e-6
    _close(out[NP][1], out[NB][1], rtol=1e-3, atol=1e-5)
    _close(out[NP][0], out[NB][0], rtol=1e-4)


# ----------------------------------------------------------------------------- shuffle
def test_shuffle_bucket_count_numba_is_the_spec():
    sizes = [0, 1, 256, 257, 512, 513, 15_600, 2**20, 2**30]
    bits = [NP.shuffle_bucket_bits(n) for n in sizes]
    assert bits == [0, 0, 0, 1, 1, 2, 6, 12, 12]
    assert bits == [_bucket_bits(n) for n in sizes]


@pytest.mark.parametrize("n", [0, 1, 2, 7, 300, 5000, 70_000])
def test_shuffle_ratings_numba_is_the_spec_permutation(n):
    u, i, r, _, _ = _ratings(seed=n, m=50, n=40, nnz=n)
    outs = []
    for mod in (NP, NB):
        out = [np.empty_like(a) for a in (u, i, r)]
        mod.shuffle_ratings(u, i, r, 987654321, *out)
        outs.append(out)
    for a, b in zip(*outs):
        assert np.array_equal(a, b)
    # a permutation of the triples: every (u, i, r) kept together, none lost
    key = lambda a, b, c: sorted(zip(a.tolist(), b.tolist(), c.tolist()))  # noqa: E731
    assert key(*outs[0]) == key(u, i, r)


@pytest.mark.parametrize("T", [1, 2, 3])
def test_strata_layout_blocks_share_no_row_and_shuffles_stay_in_blocks(T):
    u, i, r, m, n = _ratings(seed=T, nnz=600)
    perm, bounds = NP.strata_layout(u, i, m, n, T)
    assert sorted(perm.tolist()) == list(range(len(u)))
    assert len(bounds) == T * T + 1 and bounds[0] == 0 and bounds[-1] == len(u)
    su, si, sr = u[perm], i[perm], r[perm]
    for s in range(T):  # the T strata of a sub-epoch touch disjoint users and items
        users = [set(su[bounds[s * T + t] : bounds[s * T + t + 1]]) for t in range(T)]
        items = [set(si[bounds[s * T + t] : bounds[s * T + t + 1]]) for t in range(T)]
        for a in range(T):
            for b in range(a + 1, T):
                assert not users[a] & users[b] and not items[a] & items[b]
    outs = []
    for mod in (NP, NB):
        out = [np.empty_like(a) for a in (su, si, sr)]
        mod.shuffle_ratings_blocks(su, si, sr, bounds, 2**64 - 1, *out)
        outs.append(out)
    for a, b in zip(*outs):
        assert np.array_equal(a, b)
    for b in range(T * T):  # each block keeps its own triples
        sl = slice(bounds[b], bounds[b + 1])
        assert sorted(zip(su[sl], si[sl])) == sorted(
            zip(outs[1][0][sl], outs[1][1][sl])
        )


@TWINS
def test_sgd_mf_strata_numba_matches_spec_and_is_reproducible(JIT):
    u, i, r, m, n = _ratings(seed=5, nnz=800)
    perm, bounds = NP.strata_layout(u, i, m, n, 2)
    u, i, r = u[perm], i[perm], r[perm]
    order = np.arange(len(u), dtype=np.int32)
    res = []
    for mod in (NP, JIT, JIT):
        P, Q, bu, bi = _factors(m, n, 5)
        loss = mod.sgd_mf_epoch_strata(
            u, i, r, order, bounds, P, Q, bu, bi, 3.0, 0.02, 0.05, 0.01, True
        )
        res.append((loss, P, Q, bu, bi))
    for a, b in zip(res[0], res[1]):
        _close(a, b)
    for a, b in zip(res[1], res[2]):
        np.testing.assert_array_equal(a, b)


@TWINS
@pytest.mark.parametrize("B", [2, 3, 4])
def test_sgd_mf_hogwild_strata_on_one_thread_is_the_dsgd_order(B, JIT):
    """Hogwild over the grid: thread t runs its user blocks stratum after stratum
    without barriers; on one thread that is exactly the DSGD (= spec) order."""
    numba = pytest.importorskip("numba")
    u, i, r, m, n = _ratings(seed=B, nnz=900)
    perm, bounds = NP.strata_layout(u, i, m, n, B)
    u, i, r = u[perm], i[perm], r[perm]
    order = np.arange(len(u), dtype=np.int32)
    args = (3.0, 0.02, 0.05, 0.01, True)
    before = numba.get_num_threads()
    res = []
    try:
        numba.set_num_threads(1)
        for fn in (
            JIT.sgd_mf_epoch_strata,
            JIT.sgd_mf_epoch_hogwild_strata,
            NP.sgd_mf_epoch_hogwild_strata,
        ):
            P, Q, bu, bi = _factors(m, n, 5)
            res.append((fn(u, i, r, order, bounds, P, Q, bu, bi, *args), P, Q, bu, bi))
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        P, Q, bu, bi = _factors(m, n, 5)  # two threads: every rating still visited
        loss2 = JIT.sgd_mf_epoch_hogwild_strata(
            u, i, r, order, bounds, P, Q, bu, bi, *args
        )
    finally:
        numba.set_num_threads(before)
    for a, b in zip(res[0], res[1]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(res[1], res[2]):
        _close(a, b)
    assert not np.array_equal(P, _factors(m, n, 5)[0])  # it trained
    np.testing.assert_allclose(loss2, res[0][0], rtol=0.05)


def test_shuffle_ratings_is_uniform_and_changes_with_the_seed():
    """All 24 orders of 4 triples, each about equally often (chi-square, 23 dof:
    the 0.999 quantile is 49.7), and another seed gives another order."""
    n, trials = 4, 12_000
    u = np.arange(n, dtype=np.int32)
    r = u.astype(np.float32)
    counts: dict[tuple, int] = {}
    out = [np.empty_like(a) for a in (u, u, r)]
    for seed in range(trials):
        NB.shuffle_ratings(u, u, r, seed, *out)
        counts[tuple(out[0])] = counts.get(tuple(out[0]), 0) + 1
    assert len(counts) == 24
    expected = trials / 24
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7, counts
    u, i, r, _, _ = _ratings(nnz=300)
    a = [np.empty_like(x) for x in (u, i, r)]
    b = [np.empty_like(x) for x in (u, i, r)]
    NB.shuffle_ratings(u, i, r, 1, *a)
    NB.shuffle_ratings(u, i, r, 2, *b)
    assert not np.array_equal(a[0], b[0]) or not np.array_equal(a[1], b[1])


# ----------------------------------------------------------------------------- no JIT
_NOJIT = """
import numba
import numpy as np
from minirec.backends import numba_fast as NF, numba_ops as NB, numpy_ops as NP
assert not hasattr(NB.sgd_mf_epoch, "py_func"), "JIT was not disabled"
rng = np.random.default_rng(0)
u = rng.integers(0, 8, 60).astype(np.int32); i = rng.integers(0, 6, 60).astype(np.int32)
r = rng.integers(1, 6, 60).astype(np.float32); order = rng.permutation(60)
res = []
for mod in (NP, NB, NF):
    g = np.random.default_rng(1)
    P = g.normal(0, .1, (8, 3)).astype(np.float32)
    Q = g.normal(0, .1, (6, 3)).astype(np.float32)
    bu = np.zeros(8, np.float32); bi = np.zeros(6, np.float32)
    l1 = mod.sgd_mf_epoch(u, i, r, order, P, Q, bu, bi, 3.0, .02, .05, .01, True)
    l1 += mod.sgd_mf_epoch_hogwild(u, i, r, order, P, Q, bu, bi, 3., .02, .05, .01, 1)
    l2 = mod.bpr_epoch(u, i, i[::-1].copy(), P, Q, bi, .05, .01, .01)
    l2 += mod.bpr_epoch_hogwild(u, i, i[::-1].copy(), P, Q, bi, .05, .01, .01)
    key = u.astype(np.int64) * 6 + i
    _, f = np.unique(key, return_index=True)
    uu, ii, rr = u[f], i[f], r[f]
    o = np.lexsort((ii, uu))
    ip = np.zeros(9, np.int64)
    np.cumsum(np.bincount(uu, minlength=8), out=ip[1:])
    X = P.copy(); l3 = mod.als_solve(ip, ii[o], rr[o], Q, X, .1, True)
    YtY = Q.T @ Q
    X2 = P.copy(); l4 = mod.implicit_als_solve(ip, ii[o], 1 + rr[o], Q, YtY, X2, .1)
    X3 = P.copy(); l5 = mod.implicit_als_cg(ip, ii[o], 1 + rr[o], Q, YtY, X3, .1, 3)
    sh = [np.empty_like(a) for a in (u, i, r)]
    mod.shuffle_ratings(u, i, r, 2**63 + 5, *sh)
    perm, bounds = NP.strata_layout(u, i, 8, 6, 2)
    sb = [np.empty_like(a) for a in (u, i, r)]
    mod.shuffle_ratings_blocks(u[perm], i[perm], r[perm], bounds, 7, *sb)
    P2, Q2 = P.copy(), Q.copy()
    l1 += mod.sgd_mf_epoch_strata(*sb, np.arange(60), bounds, P2, Q2, bu.copy(),
                                  bi.copy(), 3.0, .02, .05, .01, True)
    numba.set_num_threads(1)  # else thread 0's strata, then thread 1's
    l1 += mod.sgd_mf_epoch_hogwild_strata(*sb, np.arange(60), bounds, P2, Q2,
                                          bu.copy(), bi.copy(), 3., .02, .05, .01, 1)
    sh += sb + [P2, Q2]
    res.append((l1, l2, l3, l4, l5, P, Q, X, X2, X3, *sh))
for other in res[1:]:
    for a, b in zip(res[0], other):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
print("nojit ok")
"""


def test_numba_kernels_pass_with_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _NOJIT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "nojit ok" in out.stdout
