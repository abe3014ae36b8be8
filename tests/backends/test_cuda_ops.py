"""The CUDA kernels (minirec.backends.cuda_ops) against the NumPy spec, on the CPU.

The simulator must be switched on before Numba is imported, so the cases below run
in one subprocess with ``NUMBA_ENABLE_CUDASIM=1``: ``python
tests/backends/test_cuda_ops.py`` prints one JSON line (case name -> "ok" or the
traceback) and each pytest test asserts one case. Serial kernels and
serial-equivalent launches (one thread) must match the spec to float32 rounding;
Hogwild launches race, so they are compared by their loss over several epochs, not
bit for bit. On a GPU machine ``tests/gpu`` runs the same cases on the real device.

Tiny sizes on purpose: under the simulator every GPU thread is a Python thread.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]


# ----------------------------------------------------------------------------- data
def _ratings(m=12, n=9, R=80, seed=0):
    r = np.random.default_rng(seed)
    users = r.integers(0, m, R).astype(np.int32)
    items = r.integers(0, n, R).astype(np.int32)
    # planted rank-2 structure, so that training has something to fit
    A, B = r.normal(size=(m, 2)), r.normal(size=(n, 2))
    ratings = np.clip(3 + (A[users] * B[items]).sum(1), 1, 5).astype(np.float32)
    return users, items, ratings, r.permutation(R).astype(np.int64)


def _factors(m, n, k, seed=1):
    g = np.random.default_rng(seed)
    return [
        np.ascontiguousarray(g.normal(0, 0.1, s), dtype=np.float32)
        for s in ((m, k), (n, k), (m,), (n,))
    ]


def _csr(m=12, n=9, R=80, empty_row=3):
    from scipy.sparse import csr_matrix

    users, items, ratings, _ = _ratings(m, n, R)
    keep = users != empty_row  # one user with no entries
    M = csr_matrix((ratings[keep], (users[keep], items[keep])), shape=(m, n))
    M.sum_duplicates()
    return M.indptr.astype(np.int64), M.indices.astype(np.int32), M.data


def _close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- cases
# each case_* runs inside the simulator subprocess (or on a real GPU from tests/gpu)


def case_contract_names_and_signatures():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N
    from minirec.backends.base import KERNELS

    outside = ("sgd_fm_epoch", "sgd_fm_epoch_hogwild", "fm_predict")  # FM's own
    for name in [n for n in KERNELS if n not in C.UNSUPPORTED] + list(outside):
        spec = name.removesuffix("_hogwild")  # the spec of a hogwild kernel
        spec = list(inspect.signature(getattr(N, spec)).parameters)
        twin = list(inspect.signature(getattr(C, name)).parameters)
        assert spec == twin, f"{name}: {twin} != spec {spec}"


def case_get_kernels_cuda():
    from minirec.backends import available_backends, get_kernels

    K = get_kernels("cuda")
    assert K.__name__ == "minirec.backends.cuda_ops"
    assert "cuda" in available_backends()


def case_sgd_mf_serial_equals_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    users, items, ratings, order = _ratings()
    for biased in (True, False):
        a, b = _factors(12, 9, 4), _factors(12, 9, 4)
        for _ in range(3):
            la = N.sgd_mf_epoch(
                users, items, ratings, order, *a, 3.0, 0.05, 0.02, 0.01, biased
            )
            lb = C.sgd_mf_epoch(
                users, items, ratings, order, *b, 3.0, 0.05, 0.02, 0.01, biased
            )
            np.testing.assert_allclose(lb, la, rtol=1e-5)
        _close(a, b)


def case_sgd_mf_hogwild_one_thread_is_serial():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    users, items, ratings, order = _ratings()
    a, b = _factors(12, 9, 4), _factors(12, 9, 4)
    la = N.sgd_mf_epoch(users, items, ratings, order, *a, 3.0, 0.05, 0.02, 0.01, True)
    with C.launch_config(max_threads=1):
        lb = C.sgd_mf_epoch_hogwild(
            users, items, ratings, order, *b, 3.0, 0.05, 0.02, 0.01, True
        )
    np.testing.assert_allclose(lb, la, rtol=1e-5)
    _close(a, b)


def case_sgd_mf_hogwild_trains_like_serial():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    users, items, ratings, _ = _ratings(R=160)
    rng = np.random.default_rng(5)
    a, b = _factors(12, 9, 4), _factors(12, 9, 4)
    la, lb = [], []
    with C.launch_config(threads_per_block=8, max_threads=16):
        for _ in range(8):
            order = rng.permutation(len(users)).astype(np.int64)
            la.append(
                N.sgd_mf_epoch(
                    users, items, ratings, order, *a, 3.0, 0.05, 0.02, 0.01, True
                )
            )
            lb.append(
                C.sgd_mf_epoch_hogwild(
                    users, items, ratings, order, *b, 3.0, 0.05, 0.02, 0.01, True
                )
            )
    la, lb = np.sqrt(np.array(la) / len(users)), np.sqrt(np.array(lb) / len(users))
    assert lb[-1] < 0.8 * lb[0], f"hogwild did not train: RMSE {lb}"
    # same data, same orders: the race perturbs, it must not change the outcome
    np.testing.assert_allclose(lb[-1], la[-1], rtol=0.05)
    assert np.all(np.isfinite(b[0])) and np.all(np.isfinite(b[1]))


def case_bpr_serial_equals_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    users, pos, _, _ = _ratings()
    neg = np.random.default_rng(3).integers(0, 9, len(users)).astype(np.int32)
    neg[:5] = pos[:5]  # i == j must accumulate both steps, as the spec does
    a, b = _factors(12, 9, 4), _factors(12, 9, 4)
    for _ in range(2):
        la = N.bpr_epoch(users, pos, neg, a[0], a[1], a[3], 0.1, 0.01, 0.01)
        lb = C.bpr_epoch(users, pos, neg, b[0], b[1], b[3], 0.1, 0.01, 0.01)
        np.testing.assert_allclose(lb, la, rtol=1e-5)
    _close(a, b)
    with C.launch_config(max_threads=1):  # serial-equivalent hogwild
        c = _factors(12, 9, 4)
        d = _factors(12, 9, 4)
        N.bpr_epoch(users, pos, neg, c[0], c[1], c[3], 0.1, 0.01, 0.01)
        C.bpr_epoch_hogwild(users, pos, neg, d[0], d[1], d[3], 0.1, 0.01, 0.01)
    _close(c, d)


def case_bpr_hogwild_trains_like_serial():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    users, pos, _, _ = _ratings(R=160)
    rng = np.random.default_rng(4)
    a, b = _factors(12, 9, 4), _factors(12, 9, 4)
    la, lb = [], []
    for _ in range(8):
        neg = rng.integers(0, 9, len(users)).astype(np.int32)
        la.append(N.bpr_epoch(users, pos, neg, a[0], a[1], a[3], 0.1, 0.01, 0.01))
        with C.launch_config(threads_per_block=8, max_threads=16):  # as on the GPU
            lb.append(
                C.bpr_epoch_hogwild(users, pos, neg, b[0], b[1], b[3], 0.1, 0.01, 0.01)
            )
    assert lb[-1] < lb[0]
    np.testing.assert_allclose(lb[-1], la[-1], rtol=0.05)


def case_bpr_extreme_scores_stay_finite():
    from minirec.backends import cuda_ops as C

    users = np.zeros(4, np.int32)
    pos, neg = np.array([0, 1, 0, 1], np.int32), np.array([1, 0, 1, 0], np.int32)
    P = np.full((1, 2), 30.0, np.float32)
    Q = np.array([[30.0, 30.0], [-30.0, -30.0]], np.float32)  # |x| = 3600
    bi = np.zeros(2, np.float32)
    loss = C.bpr_epoch(users, pos, neg, P, Q, bi, 1e-4, 0.0, 0.0)
    assert np.isfinite(loss) and loss > 3000  # two terms of -log σ(-3600) = 3600


def _fm_data(R=60, nf=15, W=3, seed=0):
    r = np.random.default_rng(seed)
    idx = np.stack([r.choice(nf, W, replace=False) for _ in range(R)]).astype(np.int32)
    val = r.uniform(0.5, 1, (R, W)).astype(np.float32)
    val[::4, 2] = 0  # padding slots
    y = r.uniform(1, 5, R).astype(np.float32)
    return idx, val, y, r.permutation(R).astype(np.int64)


def _fm_params(nf=15, k=3):
    g = np.random.default_rng(2)
    V = g.normal(0, 0.1, (nf, k)).astype(np.float32)
    return [np.full(1, 0.5, np.float32), np.zeros(nf, np.float32), V]


def case_sgd_fm_serial_equals_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    idx, val, y, order = _fm_data()
    for logistic in (False, True):
        yy = (y > 3).astype(np.float32) if logistic else y
        a, b = _fm_params(), _fm_params()
        for _ in range(2):
            la = N.sgd_fm_epoch(idx, val, yy, order, *a, 0.02, 0.01, 0.01, logistic)
            lb = C.sgd_fm_epoch(idx, val, yy, order, *b, 0.02, 0.01, 0.01, logistic)
            np.testing.assert_allclose(lb, la, rtol=1e-5)
        _close(a, b)
        np.testing.assert_allclose(
            C.fm_predict(idx, val, *b),
            N.fm_predict(idx, val, *a),
            rtol=1e-5,
            atol=1e-6,
        )


def case_sgd_fm_blocks_serial_equals_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    r = np.random.default_rng(6)
    users, items, y, order = _ratings(m=6, n=5, R=40)
    # user block: user one-hot + 1 feature (0 = padding); item block: item + 2 genres
    user_idx = np.stack([np.arange(6), 6 + np.arange(6) % 2], 1).astype(np.int32)
    user_val = np.ones((6, 2), np.float32)
    user_val[::3, 1] = 0
    item_idx = np.stack(
        [8 + np.arange(5), 13 + r.integers(0, 2, 5), 15 + r.integers(0, 2, 5)], 1
    ).astype(np.int32)
    item_val = r.uniform(0.5, 1, (5, 3)).astype(np.float32)
    blocks = (user_idx, user_val, item_idx, item_val)
    for logistic in (False, True):
        yy = (y > 3).astype(np.float32) if logistic else y
        a, b = _fm_params(nf=17), _fm_params(nf=17)
        args = (0.02, 0.01, 0.01, logistic)
        la = N.sgd_fm_blocks_epoch(users, items, yy, order, *blocks, *a, *args)
        lb = C.sgd_fm_blocks_epoch(users, items, yy, order, *blocks, *b, *args)
        np.testing.assert_allclose(lb, la, rtol=1e-5)
        _close(a, b)
        c = _fm_params(nf=17)
        lc = C.sgd_fm_blocks_epoch_hogwild(users, items, yy, order, *blocks, *c, *args)
        assert np.isfinite(lc) and abs(lc - la) < 0.2 * la


def case_sgd_fm_hogwild_trains_like_serial():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    idx, val, y, _ = _fm_data(R=120)
    rng = np.random.default_rng(8)
    a, b = _fm_params(), _fm_params()
    la, lb = [], []
    for _ in range(6):
        order = rng.permutation(len(y)).astype(np.int64)
        la.append(N.sgd_fm_epoch(idx, val, y, order, *a, 0.02, 0.01, 0.01, False))
        with C.launch_config(threads_per_block=8, max_threads=16):  # as on the GPU
            lb.append(
                C.sgd_fm_epoch_hogwild(idx, val, y, order, *b, 0.02, 0.01, 0.01, False)
            )
    assert lb[-1] < 0.6 * lb[0]
    np.testing.assert_allclose(lb[-1], la[-1], rtol=0.05)
    # w0 is updated atomically: no update of it is lost to the race
    np.testing.assert_allclose(b[0], a[0], rtol=0.05)


def case_als_solves_equal_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    indptr, indices, data = _csr()
    Y = _factors(12, 9, 4)[1]
    for weighted in (True, False):
        X1 = np.ones((12, 4), np.float32)
        X2 = X1.copy()
        la = N.als_solve(indptr, indices, data, Y, X1, 0.1, weighted)
        lb = C.als_solve(indptr, indices, data, Y, X2, 0.1, weighted)
        np.testing.assert_allclose(lb, la, rtol=1e-4)
        np.testing.assert_allclose(X2, X1, rtol=1e-4, atol=1e-5)
        assert np.all(X2[3] == 0)  # the empty row
    conf = (1 + 2 * data).astype(np.float32)
    YtY = (Y.T @ Y).astype(np.float32)
    X1 = np.zeros((12, 4), np.float32)
    X2 = X1.copy()
    la = N.implicit_als_solve(indptr, indices, conf, Y, YtY, X1, 0.1)
    lb = C.implicit_als_solve(indptr, indices, conf, Y, YtY, X2, 0.1)
    np.testing.assert_allclose(lb, la, rtol=1e-4)
    np.testing.assert_allclose(X2, X1, rtol=1e-4, atol=1e-5)
    X1[:] = 0.01
    X2[:] = 0.01
    la = N.implicit_als_cg(indptr, indices, conf, Y, YtY, X1, 0.1, 3)
    lb = C.implicit_als_cg(indptr, indices, conf, Y, YtY, X2, 0.1, 3)
    np.testing.assert_allclose(lb, la, rtol=1e-4)
    np.testing.assert_allclose(X2, X1, rtol=1e-4, atol=1e-5)


def case_device_arrays_are_updated_in_place_without_copies():
    from numba import cuda

    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N
    from minirec.backends.device import is_device_array, to_host

    users, items, ratings, order = _ratings()
    a = _factors(12, 9, 4)
    host = _factors(12, 9, 4)
    dev = [cuda.to_device(x) for x in host]  # explicit host -> device
    data = [cuda.to_device(x) for x in (users, items, ratings, order)]
    assert all(is_device_array(d) for d in dev + data)
    la = N.sgd_mf_epoch(users, items, ratings, order, *a, 3.0, 0.05, 0.02, 0.01, True)
    lb = C.sgd_mf_epoch(*data, *dev, 3.0, 0.05, 0.02, 0.01, True)
    np.testing.assert_allclose(lb, la, rtol=1e-5)
    _close(a, [to_host(d) for d in dev])  # the device arrays were updated
    _close(host, _factors(12, 9, 4))  # the host originals were not touched


def case_launch_config_validates_and_restores():
    from minirec.backends import cuda_ops as C
    from minirec.backends.cuda_ops import _launch as L

    before = dict(L._LAUNCH)
    for bad in (0, -3, 2.5, True):
        try:
            with C.launch_config(threads_per_block=bad):
                pass
        except ValueError as e:
            assert "threads_per_block" in str(e)
        else:
            raise AssertionError(f"threads_per_block={bad!r} was accepted")
    with C.launch_config(max_threads=3) as cfg:
        assert cfg["max_threads"] == 3
        assert L.grid(100) == (1, 3)
    assert L._LAUNCH == before
    assert L.grid(100, serial=True) == (1, 1)
    with C.launch_config(threads_per_block=4, max_threads=64):
        assert L.grid(10) == (3, 4)  # ceil(10 / 4) blocks
        # per-thread scratch caps the threads: 5 threads' worth of it in all
        assert L.grid(100, thread_bytes=L.SCRATCH_BYTES // 5) == (2, 4)
        assert L.grid(100, thread_bytes=2 * L.SCRATCH_BYTES) == (1, 1)


def case_wrappers_check_dtypes_and_name_the_argument():
    from numba import cuda

    from minirec.backends import cuda_ops as C

    users, items, ratings, order = _ratings()
    P, Q, bu, bi = _factors(12, 9, 4)
    scalars = (3.0, 0.05, 0.02, 0.01, True)
    bad = {
        "users": (users.astype(np.float32), "integer"),
        "ratings": (ratings.astype(np.int32), "floating"),
        "P": (P.astype(np.float64), "float32"),
        "bi": (cuda.to_device(bi.astype(np.float64)), "float32"),  # device too
    }
    for name, (value, want) in bad.items():
        args = dict(users=users, items=items, ratings=ratings, order=order)
        args.update(P=P.copy(), Q=Q.copy(), bu=bu.copy(), bi=bi.copy())
        args[name] = value
        try:
            C.sgd_mf_epoch_hogwild(*args.values(), *scalars)
        except TypeError as e:
            msg = str(e)
            assert "sgd_mf_epoch_hogwild" in msg and repr(name) in msg, msg
            assert want in msg, msg
        else:
            raise AssertionError(f"{name} with dtype {value.dtype} was accepted")
    try:
        C.bpr_epoch(list(users), items, items, P, Q, bi, 0.1, 0.0, 0.0)
    except TypeError as e:
        assert "bpr_epoch: argument 'users'" in str(e) and "list" in str(e)
    else:
        raise AssertionError("a list was accepted as an array")
    # nothing was launched: the host parameters are as they were
    _close((P, Q, bu, bi), _factors(12, 9, 4))


def case_mf_model_backend_cuda_matches_numpy():
    from minirec import Interactions
    from minirec.models import get_model_class

    users, items, ratings, _ = _ratings(R=150)
    data = Interactions.from_arrays(users + 1, items + 1, ratings, duplicates="last")
    MF = get_model_class("mf")
    kw = dict(k=4, n_epochs=5, lr=0.02, seed=3)
    a = MF(backend="numpy", **kw).fit(data)
    b = MF(backend="cuda", **kw).fit(data)  # serial kernel: the same trajectory
    u, i = data.user_ids[data.users], data.item_ids[data.items]
    np.testing.assert_allclose(b.predict(u, i), a.predict(u, i), rtol=1e-4, atol=1e-4)
    rmse_a = [h["train_rmse"] for h in a.history_]
    rmse_b = [h["train_rmse"] for h in b.history_]
    np.testing.assert_allclose(rmse_b, rmse_a, rtol=1e-4)
    from minirec.backends import cuda_ops as C

    with C.launch_config(threads_per_block=8, max_threads=16):  # as on the GPU
        c = MF(backend="cuda", hogwild=True, **kw).fit(data)
    # divergence on the device reaches the model's check: an error, never NaN
    from minirec.errors import TrainingDivergedError

    try:
        with np.errstate(all="ignore"):
            MF(backend="cuda", k=4, n_epochs=5, lr=50.0, seed=3).fit(data)
    except TrainingDivergedError as e:
        assert "lr" in str(e)
    else:
        raise AssertionError("lr=50 trained without TrainingDivergedError")
    np.testing.assert_allclose(c.history_[-1]["train_rmse"], rmse_a[-1], rtol=0.05)


def case_als_bpr_models_backend_cuda_match_numpy():
    from minirec import Interactions

    users, items, ratings, _ = _ratings(m=30, n=40, R=150)
    data = Interactions.from_arrays(users + 1, items + 1, ratings, duplicates="last")
    cases = (
        ("als", {"k": 3, "n_epochs": 2}),
        ("implicit-als", {"k": 3, "n_epochs": 2, "solver": "cholesky"}),
        ("implicit-als", {"k": 3, "n_epochs": 2, "solver": "cg"}),
        ("bpr", {"k": 3, "n_epochs": 2}),
    )
    _cuda_models_match(data, "numpy", cases, rtol=1e-3, atol=1e-4)


def _cuda_models_match(data, reference, cases, rtol, atol):
    """Fit each (model name, kwargs) on `reference` and on cuda; the scores of six
    users and their top 3 must agree. Returns the (reference, cuda) model pairs."""
    from minirec.models import get_model_class

    u = data.user_ids[:6]
    pairs = []
    for name, kw in cases:
        cls = get_model_class(name)
        a = cls(backend=reference, **kw).fit(data)
        b = cls(backend="cuda", **kw).fit(data)
        np.testing.assert_allclose(
            b.score_items(np.arange(6)),
            a.score_items(np.arange(6)),
            rtol=rtol,
            atol=atol,
            err_msg=f"{name} {kw}",
        )
        np.testing.assert_array_equal(b.recommend(u, 3)[0], a.recommend(u, 3)[0])
        pairs.append((a, b))
    return pairs


def _knn_csr(m=14, n=10, R=60, seed=0):
    from scipy.sparse import csr_matrix

    r = np.random.default_rng(seed)
    rows, cols = r.integers(0, m, R), r.integers(0, n, R)
    M = csr_matrix((r.integers(1, 6, R).astype(float), (rows, cols)), shape=(m, n))
    M.sum_duplicates()
    M.data = np.minimum(M.data, 5) - 3.0  # centred-like values, some exactly 0
    T = M.T.tocsr()
    T.sort_indices()
    return tuple(
        (A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data.astype("f4"))
        for A in (M, T)
    )


def case_knn_kernels_equal_spec():
    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N
    from minirec.backends.cuda_ops import _launch as L
    from minirec.backends.device import is_device_array, to_host

    X, Xt = _knn_csr()
    for pearson in (False, True):
        for shrink in (0.0, 3.0):
            for keep in (0, 3):
                a = N.knn_similarity(*X, *Xt, pearson, shrink, keep)
                b = C.knn_similarity(*X, *Xt, pearson, shrink, keep)
                assert [x.dtype for x in b] == [np.int64, np.int32, np.float32]
                np.testing.assert_array_equal(b[0], a[0])
                np.testing.assert_array_equal(b[1], a[1])  # order, ties by index
                np.testing.assert_allclose(b[2], a[2], rtol=1e-6)
    # rows in chunks (the scratch cap of a big catalogue), same result
    old = L.SCRATCH_BYTES
    L.SCRATCH_BYTES = 3 * 14 * 28  # 3 rows per launch
    try:
        b = C.knn_similarity(*X, *Xt, True, 1.0, 0)
    finally:
        L.SCRATCH_BYTES = old
    a = N.knn_similarity(*X, *Xt, True, 1.0, 0)
    np.testing.assert_array_equal(b[1], a[1])
    np.testing.assert_allclose(b[2], a[2], rtol=1e-6)
    r = np.random.default_rng(1)
    rows, cols = r.integers(0, 14, 40), r.integers(0, 10, 40)
    for k in (1, 3, 50):
        pa = N.knn_predict(*a, *X, rows, cols, k)
        pb = C.knn_predict(*a, *X, rows, cols, k)
        np.testing.assert_allclose(pb[0], pa[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(pb[1], pa[1])
    d = C.knn_predict(*a, *X, C.to_device(rows), C.to_device(cols), 3)
    assert is_device_array(d[0]) and is_device_array(d[1])  # GPU in, GPU out
    pa = N.knn_predict(*a, *X, rows, cols, 3)
    np.testing.assert_allclose(to_host(d[0]), pa[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(to_host(d[1]), pa[1])


def case_fm_model_backend_cuda_matches_numba():
    from minirec import Interactions
    from minirec.backends import cuda_ops as C
    from minirec.errors import TrainingDivergedError
    from minirec.models import get_model_class

    users, items, ratings, _ = _ratings(m=15, n=12, R=120)
    data = Interactions.from_arrays(users + 1, items + 1, ratings, duplicates="last")
    FM = get_model_class("fm")
    u, i = data.user_ids[data.users], data.item_ids[data.items]
    for task in ("regression", "classification"):
        kw = dict(k=3, n_epochs=3, lr=0.02, seed=3, task=task, n_negatives=2)
        a = FM(backend="numba", **kw).fit(data)
        b = FM(backend="cuda", **kw).fit(data)  # one GPU thread: the same sequence
        for x in (b.w0_, b.w_, b.V_):
            assert isinstance(x, np.ndarray) and x.dtype == np.float32  # on the host
        np.testing.assert_allclose(b.loss_history_, a.loss_history_, rtol=1e-5)
        _close((b.w0_, b.w_, b.V_), (a.w0_, a.w_, a.V_), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b.predict(u, i), a.predict(u, i), rtol=1e-5)
        with C.launch_config(threads_per_block=8, max_threads=16):  # as on the GPU
            c = FM(backend="cuda", hogwild=True, **kw).fit(data)
        # Hogwild races: not the same bits, the same training
        np.testing.assert_allclose(c.loss_history_, a.loss_history_, rtol=0.05)
    with pytest.raises(ValueError, match="backend='cuda'"):
        FM(backend="numba", hogwild=True)  # the CPU FM kernels are serial
    # divergence on the device reaches the model's check: an error, never NaN
    with pytest.raises(TrainingDivergedError, match="lr"), np.errstate(all="ignore"):
        FM(backend="cuda", k=3, n_epochs=3, lr=80.0, init_std=1.0).fit(data)


def case_knn_models_backend_cuda_match_numba():
    from minirec import Interactions

    users, items, ratings, _ = _ratings(m=20, n=15, R=150)
    data = Interactions.from_arrays(users + 1, items + 1, ratings, duplicates="last")
    cases = (
        ("itemknn", {"n_neighbors": 4}),
        ("userknn", {"n_neighbors": 4}),
        ("itemknn", {"n_neighbors": 3, "similarity": "cosine", "shrink": 0.0}),
        ("userknn", {"n_neighbors": 4, "task": "ranking"}),
        ("itemknn", {"n_neighbors": 4, "task": "ranking", "keep": 6}),
    )
    pairs = _cuda_models_match(data, "numba", cases, rtol=1e-5, atol=1e-6)
    for a, b in pairs:
        np.testing.assert_array_equal(b.nbr_indptr_, a.nbr_indptr_)
        np.testing.assert_array_equal(b.nbr_indices_, a.nbr_indices_)
        np.testing.assert_allclose(b.nbr_sims_, a.nbr_sims_, rtol=1e-6)
    a, b = pairs[0]  # the device copies of the neighbour lists follow a refit
    part = data.subset(np.arange(90))
    np.testing.assert_allclose(
        b.fit(part).score_items(np.arange(6)),
        a.fit(part).score_items(np.arange(6)),
        rtol=1e-5,
        atol=1e-6,
    )


CASES = {
    name[len("case_") :]: fn
    for name, fn in sorted(globals().items())
    if name.startswith("case_") and callable(fn)
}


def run_cases(names=None) -> dict[str, str]:
    """Run the cases here (simulator or GPU): name -> "ok" or the traceback."""
    out = {}
    for name in names or CASES:
        try:
            CASES[name]()
            out[name] = "ok"
        except Exception:
            out[name] = traceback.format_exc()
    return out


# ----------------------------------------------------------------------------- pytest
@pytest.fixture(scope="module")
def sim_results():
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(HERE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, (
        f"simulator run failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return json.loads(lines[-1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_kernel_under_simulator(case, sim_results):
    result = sim_results.get(case, "not run")
    if result != "ok":
        pytest.fail(f"cuda case {case!r} failed under the simulator:\n{result}")


PACKAGE = ROOT / "minirec" / "backends" / "cuda_ops"
#: device-memory calls (numba.cuda, CuPy) that only the launcher may make
_MOVES = {"to_device", "copy_to_host", "device_array", "device_array_like",
          "pinned_array", "mapped_array", "synchronize", "asnumpy"}  # fmt: skip


def _launches_and_moves(path: Path) -> list[str]:
    """'line: what' for every kernel launch (``kernel[grid, block](...)``),
    device-memory call or import of a move helper in the module at `path`."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript):
            found.append(f"{node.lineno}: launch {ast.unparse(node.func)}")
        elif isinstance(node, ast.Attribute) and node.attr in _MOVES:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and (
            node.module in ("device", "cupy") or "device" in (node.module or "")
        ):
            found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "cupy" for a in node.names
        ):
            found.append(f"{node.lineno}: import cupy")
    return found


def test_only_the_launcher_launches_kernels_and_moves_arrays():
    """Every host wrapper goes through cuda_ops/_launch.py: no other module of the
    package launches a kernel, allocates or copies device memory itself."""
    modules = sorted(PACKAGE.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "_launch.py", "als.py"}
    offenders = {
        p.name: found
        for p in modules
        if p.name != "_launch.py" and (found := _launches_and_moves(p))
    }
    assert not offenders, f"launches / moves outside _launch.py: {offenders}"
    # the detector sees them where they belong (so it would see them elsewhere)
    own = " ".join(_launches_and_moves(PACKAGE / "_launch.py"))
    seen = ("launch kernel[", "cuda.to_device", "copy_to_host", "from device import")
    for what in seen:
        assert what in own, f"{what!r} not found in _launch.py: {own}"
    # each module with a kernel hands it to the launcher
    for p in modules:
        text = p.read_text()
        if "@cuda.jit\n" in text:
            assert "Launch(" in text, f"{p.name} has kernels but no Launch"


def test_cuda_backend_without_gpu_raises_with_install_command():
    from minirec.backends import available_backends, get_kernels
    from minirec.backends.device import gpu_available
    from minirec.errors import BackendUnavailableError

    if gpu_available() or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
        pytest.skip("a GPU (or the simulator) is present: cuda is available here")
    with pytest.raises(BackendUnavailableError, match=r"minirec\[gpu\]"):
        get_kernels("cuda")
    assert "cuda" not in available_backends()


def test_bench_gpu_refuses_without_a_gpu(tmp_path):
    from minirec.backends.device import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present: the benchmark would run")
    out = tmp_path / "gpu.md"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no CUDA GPU here" in proc.stderr and "run_gpu.sh" in proc.stderr
    assert not out.exists()


if __name__ == "__main__":
    print(json.dumps(run_cases(sys.argv[1:] or None)))
