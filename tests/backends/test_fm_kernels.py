"""FM kernels: NumPy spec vs the readable Numba twins (numba_ops) and the tuned
kernels (numba_fast), the O(kn) identity, the gradient, and reproducibility (also
with NUMBA_DISABLE_JIT=1)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirec.backends import numba_fast as NF
from minirec.backends import numba_ops as NB
from minirec.backends import numpy_ops as NP
from minirec.backends._codegen import SPECIALIZED_K


@pytest.fixture(params=[NB, NF], ids=["numba_ops", "numba_fast"])
def JIT(request):
    """The two Numba tables: readable twins and tuned kernels."""
    return request.param


def _problem(seed=0, n=200, n_users=12, n_items=9, k=5):
    """Random blocks (user: id + 2 one-hot fields; item: id + 3-slot multi-hot)."""
    r = np.random.default_rng(seed)
    nf_u = n_users + 2 + 3
    n_feat = nf_u + n_items + 4
    uidx = np.stack(
        [
            np.arange(n_users),
            n_users + r.integers(0, 2, n_users),
            n_users + 2 + r.integers(0, 3, n_users),
        ],
        axis=1,
    ).astype(np.int32)
    uval = np.ones(uidx.shape, np.float32)
    iidx = np.zeros((n_items, 4), np.int32)
    ival = np.zeros((n_items, 4), np.float32)
    for i in range(n_items):
        g = r.choice(4, size=r.integers(0, 4), replace=False)
        iidx[i, 0], ival[i, 0] = nf_u + i, 1.0
        iidx[i, 1:] = nf_u + n_items  # padding points at a real feature, x = 0
        iidx[i, 1 : 1 + len(g)] = nf_u + n_items + g
        ival[i, 1 : 1 + len(g)] = 1.0 / max(len(g), 1)
    users = r.integers(0, n_users, n).astype(np.int32)
    items = r.integers(0, n_items, n).astype(np.int32)
    y = r.integers(1, 6, n).astype(np.float32)
    params = (
        np.array([3.0], np.float32),
        (0.1 * r.standard_normal(n_feat)).astype(np.float32),
        (0.1 * r.standard_normal((n_feat, k))).astype(np.float32),
    )
    order = r.permutation(n).astype(np.int64)
    return users, items, y, order, (uidx, uval, iidx, ival), params


def _rows(users, items, blocks):
    uidx, uval, iidx, ival = blocks
    idx = np.concatenate([uidx[users], iidx[items]], axis=1)
    val = np.concatenate([uval[users], ival[items]], axis=1)
    return np.ascontiguousarray(idx), np.ascontiguousarray(val)


def _copy(params):
    return tuple(p.copy() for p in params)


@pytest.mark.parametrize("k", [5, 64])
@pytest.mark.parametrize("logistic", [False, True])
def test_numpy_and_numba_agree_on_the_same_order(logistic, k, JIT):
    users, items, y, order, blocks, params = _problem(k=k)
    if logistic:
        y = (y > 3).astype(np.float32)
    idx, val = _rows(users, items, blocks)
    a, b, c, d = (_copy(params) for _ in range(4))
    la = NP.sgd_fm_epoch(idx, val, y, order, *a, 0.05, 0.01, 0.02, logistic)
    lb = JIT.sgd_fm_epoch(idx, val, y, order, *b, 0.05, 0.01, 0.02, logistic)
    lc = NP.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *c, 0.05, 0.01, 0.02, logistic
    )
    ld = JIT.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *d, 0.05, 0.01, 0.02, logistic
    )
    # the block form makes exactly the same updates as the materialised rows
    assert la == lc
    for x, z in zip(a, c):
        np.testing.assert_array_equal(x, z)
    if JIT is NF and k in SPECIALIZED_K:
        # two separately compiled loops with k constant: LLVM may split the
        # float32 reductions over k differently (summation order only)
        np.testing.assert_allclose(ld, lb, rtol=1e-6)
        for x, z in zip(b, d):
            np.testing.assert_allclose(z, x, rtol=1e-5, atol=1e-7)
    else:
        assert lb == ld
        for x, z in zip(b, d):
            np.testing.assert_array_equal(x, z)
    # numba vs spec: float32 summation order only
    np.testing.assert_allclose(lb, la, rtol=1e-4)
    for x, z in zip(a, b):
        np.testing.assert_allclose(z, x, rtol=1e-4, atol=1e-5)
    # and the parameters did move
    assert not np.allclose(a[2], params[2])


@pytest.mark.parametrize("k", [1, 5, 33, 65, *SPECIALIZED_K])
def test_blocks_with_padding_anywhere_match_the_spec(k, JIT):
    """Padding (x = 0) in any slot of a block, blocks with no nonzero slot, and
    rows of 0-13 nonzero slots (every pass shape of the Numba forward); with k
    read from the array and with the copies compiled for a constant k."""
    r = np.random.default_rng(7)
    n_users, n_items, n, n_feat = 10, 8, 300, 40
    uidx = r.choice(n_feat, size=(n_users, 6)).astype(np.int32)
    iidx = r.choice(n_feat, size=(n_items, 7)).astype(np.int32)
    for b in (uidx, iidx):  # no feature twice in a row: distinct per row
        for row in b:
            row[:] = r.permutation(n_feat)[: len(row)]
    uval = (r.random(uidx.shape) * (r.random(uidx.shape) < 0.6)).astype(np.float32)
    ival = (r.random(iidx.shape) * (r.random(iidx.shape) < 0.6)).astype(np.float32)
    uval[0] = 0.0  # a user and an item with no nonzero slot at all
    ival[1] = 0.0
    ival[2] = r.random(7)  # and a full one
    users = r.integers(0, n_users, n).astype(np.int32)
    items = r.integers(0, n_items, n).astype(np.int32)
    # a feature must not appear twice in one row: keep pairs without overlap
    ok = [
        not set(uidx[u][uval[u] != 0]) & set(iidx[i][ival[i] != 0])
        for u, i in zip(users, items)
    ]
    users, items = users[ok], items[ok]
    y = r.integers(1, 6, len(users)).astype(np.float32)
    order = r.permutation(len(users)).astype(np.int64)
    params = (
        np.array([3.0], np.float32),
        (0.1 * r.standard_normal(n_feat)).astype(np.float32),
        (0.1 * r.standard_normal((n_feat, k))).astype(np.float32),
    )
    blocks = (uidx, uval, iidx, ival)
    a, b = _copy(params), _copy(params)
    la = NP.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *a, 0.05, 0.01, 0.02, False
    )
    lb = JIT.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *b, 0.05, 0.01, 0.02, False
    )
    np.testing.assert_allclose(lb, la, rtol=1e-4)
    for x, z in zip(a, b):
        np.testing.assert_allclose(z, x, rtol=1e-4, atol=1e-5)
    m = (uval[users] != 0).sum(1) + (ival[items] != 0).sum(1)
    assert m.min() <= 1 and m.max() >= 9


def test_padding_slots_are_not_updated(JIT):
    users, items, y, order, blocks, params = _problem()
    idx, val = _rows(users, items, blocks)
    p = _copy(params)
    n_feat = len(p[1])
    used = np.zeros(n_feat, bool)
    used[idx[val != 0]] = True
    JIT.sgd_fm_epoch(idx, val, y, order, *p, 0.05, 0.1, 0.1, False)
    np.testing.assert_array_equal(p[2][~used], params[2][~used])
    assert not np.allclose(p[2][used], params[2][used])


def test_serial_numba_is_bitwise_reproducible(JIT):
    users, items, y, order, blocks, params = _problem(seed=3)
    a, b = _copy(params), _copy(params)
    la = JIT.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *a, 0.05, 0.01, 0.02, False
    )
    lb = JIT.sgd_fm_blocks_epoch(
        users, items, y, order, *blocks, *b, 0.05, 0.01, 0.02, False
    )
    assert la == lb
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)


def _pairwise_brute(idx, val, w0, w, V):
    """ŷ by the O(k n²) definition Σ_{i<j} <v_i, v_j> x_i x_j (float64)."""
    out = np.empty(len(idx))
    for r in range(len(idx)):
        x = np.zeros(len(w))
        np.add.at(x, idx[r], val[r])
        nz = np.flatnonzero(x)
        s = w0[0] + w[nz] @ x[nz]
        for a in range(len(nz)):
            for b in range(a + 1, len(nz)):
                s += (V[nz[a]].astype(np.float64) @ V[nz[b]]) * x[nz[a]] * x[nz[b]]
        out[r] = s
    return out


def test_predict_matches_the_pairwise_definition(JIT):
    users, items, y, order, blocks, params = _problem(seed=1, n=50)
    idx, val = _rows(users, items, blocks)
    want = _pairwise_brute(idx, val, *params)
    np.testing.assert_allclose(
        NP.fm_predict(idx, val, *params), want, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        JIT.fm_predict(idx, val, *params), want, rtol=1e-5, atol=1e-5
    )


def test_one_step_follows_the_finite_difference_gradient():
    """With reg = 0 one SGD step on one row moves V by -lr·g·∂ŷ/∂V, and ∂ŷ/∂V
    (x_i s_f - v_if x_i²) matches central differences of the predictor."""
    users, items, y, order, blocks, params = _problem(seed=2, n=1)
    idx, val = _rows(users, items, blocks)
    w0, w, V = (p.astype(np.float64) for p in params)
    y_hat = NP.fm_predict(idx, val, w0, w, V)[0].astype(np.float64)
    eps = 1e-6
    num = np.zeros_like(V)
    for j in np.unique(idx[0][val[0] != 0]):
        for f in range(V.shape[1]):
            Vp, Vm = V.copy(), V.copy()
            Vp[j, f] += eps
            Vm[j, f] -= eps
            hi = _pairwise_brute(idx, val, w0, w, Vp)[0]
            lo = _pairwise_brute(idx, val, w0, w, Vm)[0]
            num[j, f] = (hi - lo) / (2 * eps)
    lr = 1e-3
    Vs = V.copy()
    NP.sgd_fm_epoch(
        idx, val, y, np.array([0]), w0.copy(), w.copy(), Vs, lr, 0.0, 0.0, False
    )
    g = y_hat - y[0]
    np.testing.assert_allclose((V - Vs) / (lr * g), num, rtol=1e-4, atol=1e-6)


def test_kernels_run_without_jit(run_without_jit):
    """NUMBA_DISABLE_JIT=1 turns the Numba twins into plain Python: same results."""
    code = textwrap.dedent(
        """
        import numpy as np, sys
        sys.path.insert(0, HERE)
        from test_fm_kernels import _problem, _rows, _copy
        from minirec.backends import numba_fast as NF, numba_ops as NB
        from minirec.backends import numpy_ops as NP
        users, items, y, order, blocks, params = _problem(n=60)
        idx, val = _rows(users, items, blocks)
        a, b = _copy(params), _copy(params)
        la = NP.sgd_fm_epoch(idx, val, y, order, *a, .05, .01, .02, False)
        for JIT in (NB, NF):
            b = _copy(params)
            lb = JIT.sgd_fm_blocks_epoch(users, items, y, order, *blocks, *b,
                                         .05, .01, .02, False)
            assert abs(la - lb) < 1e-3 * abs(la), (la, lb)
            np.testing.assert_allclose(b[2], a[2], rtol=1e-4, atol=1e-5)
            c = _copy(params)
            JIT.sgd_fm_epoch(idx, val, y, order, *c, .05, .01, .02, False)
            np.testing.assert_allclose(c[2], a[2], rtol=1e-4, atol=1e-5)
        p = NB.fm_predict(idx, val, *a)
        np.testing.assert_allclose(p, NP.fm_predict(idx, val, *a), rtol=1e-5)
        print("ok")
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    assert run_without_jit(code).strip() == "ok"


def test_the_numba_backend_trains_with_the_tuned_fm_kernels():
    from minirec.backends import get_kernels

    K = get_kernels("numba")
    assert K.sgd_fm_blocks_epoch is NF.sgd_fm_blocks_epoch
    assert NF.sgd_fm_blocks_epoch is not NB.sgd_fm_blocks_epoch
    assert K.fm_predict is NB.fm_predict  # no tuned variant: the twin
