"""RankingMF and its kernels (minirec/backends/numpy_ops/ranking.py, the spec, and
numba_ops/ranking.py, its twin): one step by hand,
numpy spec vs numba twin on the same samples, bitwise reproducibility, the kernels
with NUMBA_DISABLE_JIT=1, learning a checkerboard, divergence, bad input."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirec import Recommender, TrainingDivergedError
from minirec.backends import get_kernels, numba_ops, numpy_ops
from minirec.data.synthetic import checkerboard
from minirec.errors import BackendUnavailableError
from minirec.models.ranking_mf import RankingMF, base_rows, draw_epoch

SERIAL = [
    numpy_ops.sgd_logistic_mf_epoch,
    numba_ops.sgd_logistic_mf_epoch,
]


def _problem(n=50, n_users=7, n_items=9, k=5, m=3, seed=0, backend="numba"):
    """One epoch's rows, as the model draws them (n positives with m negatives
    each, shuffled), and initial parameters (float32)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n, dtype=np.int32)
    items = rng.integers(0, n_items, n, dtype=np.int32)
    rows = base_rows(users, items, m)
    out = tuple(np.empty_like(a) for a in rows)
    draw_epoch(rng, rows, n, n_items, get_kernels(backend).shuffle_ratings, out)
    order = np.arange(n * (1 + m), dtype=np.int32)
    params = (
        rng.normal(0, 0.3, (n_users, k)).astype(np.float32),
        rng.normal(0, 0.3, (n_items, k)).astype(np.float32),
        rng.normal(0, 0.1, n_users).astype(np.float32),
        rng.normal(0, 0.1, n_items).astype(np.float32),
        np.array([0.2], dtype=np.float32),
    )
    return (*out, order, params)


def _copy(params):
    return tuple(a.copy() for a in params)


def test_epoch_rows_are_the_positives_plus_uniform_negatives_shuffled():
    n, m, n_items = 30, 4, 6
    a = _problem(n=n, n_items=n_items, m=m, seed=3, backend="numpy")
    b = _problem(n=n, n_items=n_items, m=m, seed=3, backend="numba")
    for x, y in zip(a[:3], b[:3]):  # the same rows, the same order
        np.testing.assert_array_equal(x, y)
    users, items, labels = a[:3]
    assert users.dtype == items.dtype == np.int32 and labels.dtype == np.float32
    assert len(users) == n * (1 + m) and labels.sum() == n
    rng = np.random.default_rng(3)
    pu, pi = rng.integers(0, 7, n), rng.integers(0, n_items, n)  # as in _problem
    pos = labels == 1
    assert sorted(zip(users[pos], items[pos])) == sorted(zip(pu, pi))
    # every positive's user appears m times among the negatives
    np.testing.assert_array_equal(
        np.bincount(users[~pos], minlength=7), m * np.bincount(pu, minlength=7)
    )
    assert set(items[~pos].tolist()) == set(range(n_items))  # uniform over all
    assert not np.array_equal(labels, np.sort(labels)[::-1])  # shuffled
    c = _problem(n=n, n_items=n_items, m=m, seed=4)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("kernel", SERIAL, ids=["numpy", "numba"])
def test_one_step_by_hand(kernel):
    """A positive row, then a negative row, by the formulas of the module
    docstring in float64."""
    params = _problem()[-1]
    lr, reg = 0.1, 0.03
    for u, i, y in ((1, 2, 1.0), (3, 6, 0.0)):
        P, Q, bu, bi, b = (a.astype(np.float64) for a in params)
        y_hat = b[0] + bu[u] + bi[i] + P[u] @ Q[i]
        sig = 1 / (1 + math.exp(-y_hat))
        g = y - sig
        want_loss = -math.log(sig) if y == 1.0 else -math.log(1 - sig)
        pu, qi = P[u].copy(), Q[i].copy()
        P[u] += lr * (g * qi - reg * pu)
        Q[i] += lr * (g * pu - reg * qi)
        bu[u] += lr * (g - reg * bu[u])
        bi[i] += lr * (g - reg * bi[i])
        b[0] += lr * (g - reg * b[0])
        got = _copy(params)
        row = (np.array([u], np.int32), np.array([i], np.int32))
        row += (np.array([y], np.float32), np.array([0], np.int32))
        loss = kernel(*row, *got, lr, reg)
        assert loss == pytest.approx(want_loss, rel=1e-5)
        for x, want in zip(got, (P, Q, bu, bi, b)):
            np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-6)


KERNELS = {
    "sgd_logistic_mf_epoch_numpy": numpy_ops.sgd_logistic_mf_epoch,
    "sgd_logistic_mf_epoch_numba": numba_ops.sgd_logistic_mf_epoch,
    "sgd_logistic_mf_epoch_hogwild_numpy": numpy_ops.sgd_logistic_mf_epoch_hogwild,
    "sgd_logistic_mf_epoch_hogwild_numba": numba_ops.sgd_logistic_mf_epoch_hogwild,
}


def _epoch(kernel, problem, lr=0.05, reg=0.01):
    """Run `kernel` (a key of KERNELS) on a copy of the problem's parameters;
    returns (loss, parameters after the epoch)."""
    *rows, params = problem
    p = _copy(params)
    loss = KERNELS[kernel](*rows, *p, lr, reg)
    return loss, p


def test_numpy_and_numba_kernels_agree_on_the_same_samples():
    problem = _problem(n=120, m=4)
    la, a = _epoch("sgd_logistic_mf_epoch_numpy", problem)
    lb, b = _epoch("sgd_logistic_mf_epoch_numba", problem)
    assert lb == pytest.approx(la, rel=1e-5)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    assert not np.allclose(a[0], problem[-1][0])  # something was learned


def test_serial_numba_kernel_is_bitwise_reproducible():
    problem = _problem(n=3000, n_users=40, n_items=30, m=8)
    la, a = _epoch("sgd_logistic_mf_epoch_numba", problem)
    lb, b = _epoch("sgd_logistic_mf_epoch_numba", problem)
    assert la == lb
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_hogwild_kernel_runs_and_the_numpy_one_is_serial():
    problem = _problem(n=400, m=4)
    la, _ = _epoch("sgd_logistic_mf_epoch_hogwild_numpy", problem)
    lb, _ = _epoch("sgd_logistic_mf_epoch_numpy", problem)
    assert la == lb
    lc, _ = _epoch("sgd_logistic_mf_epoch_hogwild_numba", problem)
    assert math.isfinite(lc) and lc == pytest.approx(lb, rel=0.05)


def test_kernels_run_without_jit(run_without_jit):
    """NUMBA_DISABLE_JIT=1 turns the Numba twin into plain Python: same results."""
    code = textwrap.dedent(
        """
        import numpy as np, sys
        sys.path.insert(0, HERE)
        from test_ranking_mf import _problem, _copy
        from minirec.backends import numba_ops as NB, numpy_ops as NP
        *rows, params = _problem(n=60, m=3)
        a, b, c = _copy(params), _copy(params), _copy(params)
        la = NP.sgd_logistic_mf_epoch(*rows, *a, .05, .01)
        lb = NB.sgd_logistic_mf_epoch(*rows, *b, .05, .01)
        lc = NB.sgd_logistic_mf_epoch_hogwild(*rows, *c, .05, .01)
        assert abs(la - lb) < 1e-5 * abs(la), (la, lb)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
        assert np.isfinite(lc)
        print("ok")
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    assert run_without_jit(code).strip() == "ok"


def test_numpy_and_numba_models_train_the_same():
    data = checkerboard(n_users=20, n_items=16, blocks=2, seed=2)
    a = RankingMF(k=3, n_epochs=3, lr=0.05, backend="numpy").fit(data)
    b = RankingMF(k=3, n_epochs=3, lr=0.05, backend="numba").fit(data)
    for x, y in zip(a._state().values(), b._state().values()):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    c = RankingMF(k=3, n_epochs=3, lr=0.05, backend="numba").fit(data)
    for x, y in zip(b._state().values(), c._state().values()):
        np.testing.assert_array_equal(x, y)
    assert a.history_[0]["log_loss"] == pytest.approx(b.history_[0]["log_loss"])


@pytest.mark.parametrize(
    "backend,hogwild", [("numpy", False), ("numba", False), ("numba", True)]
)
def test_learns_a_checkerboard(backend, hogwild):
    """Users of block b interact only with items of block b: ranked against the
    items of the other blocks, a held-out own-block item must come first."""
    n_users, n_items, blocks = 40, 32, 4
    data = checkerboard(n_users, n_items, blocks, seed=1, density=0.5)
    m = RankingMF(
        k=4, lr=0.05, reg=0.001, n_epochs=40, backend=backend, hogwild=hogwild
    )
    m.fit(data)
    ub = np.arange(n_users) * blocks // n_users
    ib = np.arange(n_items) * blocks // n_items
    S = m.score_items(np.arange(n_users))
    # AUC of own-block items vs other-block items, per user; random ranking = 0.5
    auc = [
        (S[u, ib == ub[u]][:, None] > S[u, ib != ub[u]][None, :]).mean()
        for u in range(n_users)
    ]
    assert np.mean(auc) > 0.95
    ids, _ = m.recommend(data.user_ids, n=1)
    pos = {raw: i for i, raw in enumerate(data.item_ids)}
    hit = np.mean([ib[pos[ids[u, 0]]] == ub[u] for u in range(n_users)])
    assert hit > 0.9  # random: 0.25
    losses = [h["log_loss"] for h in m.history_]
    assert losses[-1] < 0.7 * losses[0]


def test_on_epoch_and_save_load(tmp_path):
    data = checkerboard(n_users=20, n_items=16, blocks=2, seed=0)
    seen = []
    m = RankingMF(k=3, n_epochs=4, lr=0.05, backend="numba")
    m.fit(data, on_epoch=lambda model, e, rec: seen.append((model is m, e)))
    assert seen == [(True, 1), (True, 2), (True, 3), (True, 4)]
    m2 = Recommender.load(m.save(tmp_path / "r.npz"))
    assert isinstance(m2, RankingMF) and m2.b_[0] == m.b_[0]
    u, i = data.user_ids[:5], data.item_ids[:5]
    np.testing.assert_array_equal(m.predict(u, i), m2.predict(u, i))


def test_divergence_stops_with_advice():
    data = checkerboard(n_users=30, n_items=20, blocks=2, seed=0)
    with pytest.raises(TrainingDivergedError, match="RankingMF.*lower lr"):
        RankingMF(k=8, lr=1e30, init_std=1.0, n_epochs=5, backend="numba").fit(data)


def test_bad_input():
    for kw, match in [
        ({"k": 0}, "k=0"),
        ({"k": -1}, "k=-1"),
        ({"reg": -1}, "reg=-1"),
        ({"lr": 0}, "lr=0"),
        ({"lr": -0.1}, "lr=-0.1"),
        ({"n_negatives": 0}, "n_negatives=0"),
        ({"n_epochs": 0}, "n_epochs=0"),
        ({"backend": "mxnet"}, "choose one"),
    ]:
        with pytest.raises(ValueError, match=match):
            RankingMF(**kw)
    with pytest.raises(BackendUnavailableError, match="no CUDA kernel"):
        RankingMF(backend="cuda")
