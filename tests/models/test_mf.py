"""MF (SGD, biased and Funk SVD): planted recovery, backends, early stopping, errors."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions, TrainingDivergedError
from minirec.evaluation import evaluate_ratings
from minirec.models.baselines import BiasedBaseline
from minirec.models.mf import MF


@pytest.fixture(scope="module")
def planted():
    """Ratings from an exact rank-3 model plus biases, 60% observed; split 80/20."""
    r = np.random.default_rng(0)
    m, n, k = 120, 80, 3
    P = r.normal(0, 0.7, (m, k))
    Q = r.normal(0, 0.7, (n, k))
    full = 3.5 + r.normal(0, 0.3, m)[:, None] + r.normal(0, 0.3, n)[None, :] + P @ Q.T
    u, i = np.nonzero(r.random((m, n)) < 0.6)
    data = Interactions.from_arrays(u, i, full[u, i])
    test = r.random(len(data)) < 0.2
    return data.subset(~test), data.subset(test)


def test_planted_low_rank_is_recovered(planted):
    train, test = planted
    m = MF(
        k=3,
        lr=0.02,
        reg=0.001,
        reg_bias=0.0,
        n_epochs=150,
        lr_decay=1.0,
        init_std=0.1,
        backend="numba",
        clip=False,
    ).fit(train)
    rmse = evaluate_ratings(m, test).metrics["RMSE"]
    base = evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]
    assert rmse < 0.1 < base  # the baseline cannot see the interaction term
    # the training loss went down epoch after epoch (SGD noise aside)
    h = [e["train_rmse"] for e in m.history_]
    assert h[-1] < 0.1 * h[0]


def test_funk_svd_learns_no_biases(planted):
    train, test = planted
    m = MF(k=4, biased=False, n_epochs=20, lr=0.01, backend="numba").fit(train)
    assert not np.any(m.bu_) and not np.any(m.bi_) and m.mu_ == 0.0
    assert evaluate_ratings(m, test).metrics["RMSE"] < 1.5


def test_numpy_and_numba_backends_train_the_same_model(planted):
    train, _ = planted
    small = train.subset(np.arange(600))
    kw = dict(k=4, n_epochs=3, lr=0.02, seed=3)
    a = MF(backend="numpy", **kw).fit(small)
    b = MF(backend="numba", **kw).fit(small)
    np.testing.assert_allclose(a.P_, b.P_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.bi_, b.bi_, rtol=1e-4, atol=1e-6)
    c = MF(backend="numba", **kw).fit(small)  # serial + seed: bitwise reproducible
    np.testing.assert_array_equal(b.P_, c.P_)


def test_hogwild_trains_as_well_as_serial(planted):
    train, test = planted
    kw = dict(k=3, lr=0.03, reg=0.001, n_epochs=30, backend="numba")
    a = evaluate_ratings(MF(**kw).fit(train), test).metrics["RMSE"]
    b = evaluate_ratings(MF(hogwild=True, **kw).fit(train), test).metrics["RMSE"]
    assert abs(a - b) < 0.05


@pytest.mark.parametrize("blocks", [2, 3])
def test_dsgd_is_race_free_equals_the_spec_and_trains_as_well(planted, blocks):
    """DSGD strata share no row, so the parallel Numba run equals the NumPy spec's
    serial order (up to float32 summation order) and repeats bit for bit."""
    train, test = planted
    small = train.subset(np.arange(900))
    kw = dict(k=4, n_epochs=3, lr=0.02, seed=3, dsgd=True, blocks=blocks)
    a = MF(backend="numpy", **kw).fit(small)
    b = MF(backend="numba", **kw).fit(small)
    c = MF(backend="numba", **kw).fit(small)
    np.testing.assert_allclose(a.P_, b.P_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.Q_, b.Q_, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(b.P_, c.P_)
    np.testing.assert_array_equal(b.Q_, c.Q_)
    kw = dict(k=3, lr=0.03, reg=0.001, n_epochs=30, backend="numba")
    serial = evaluate_ratings(MF(**kw).fit(train), test).metrics["RMSE"]
    dsgd = MF(dsgd=True, blocks=blocks, **kw).fit(train)
    assert abs(evaluate_ratings(dsgd, test).metrics["RMSE"] - serial) < 0.05


@pytest.mark.parametrize("blocks", [2, 4])
def test_hogwild_over_the_grid_trains_as_well_as_serial(planted, blocks):
    """hogwild=True with blocks: the NumPy spec is the DSGD order (one thread), and
    the lock-free Numba run on all threads trains as well as the serial order."""
    train, test = planted
    small = train.subset(np.arange(900))
    kw = dict(k=4, n_epochs=3, lr=0.02, seed=3, blocks=blocks, backend="numpy")
    a = MF(hogwild=True, **kw).fit(small)
    b = MF(dsgd=True, **kw).fit(small)
    np.testing.assert_array_equal(a.P_, b.P_)
    np.testing.assert_array_equal(a.Q_, b.Q_)
    kw = dict(k=3, lr=0.03, reg=0.001, n_epochs=30, backend="numba")
    serial = evaluate_ratings(MF(**kw).fit(train), test).metrics["RMSE"]
    hog = MF(hogwild=True, blocks=blocks, **kw).fit(train)
    assert abs(evaluate_ratings(hog, test).metrics["RMSE"] - serial) < 0.05


def test_dsgd_result_depends_on_blocks_not_on_threads(planted):
    """More blocks than threads (a cache-blocked schedule on one thread): the
    blocks of a stratum share no row, so 1 or 2 threads give the same bits."""
    numba = pytest.importorskip("numba")
    train, _ = planted
    kw = dict(k=4, n_epochs=3, lr=0.02, seed=3, dsgd=True, blocks=4, backend="numba")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = MF(**kw).fit(train)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = MF(**kw).fit(train)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.P_, two.P_)
    np.testing.assert_array_equal(one.Q_, two.Q_)
    np.testing.assert_array_equal(one.bi_, two.bi_)


def test_model_saved_with_the_old_threads_name_loads(planted, tmp_path):
    """`threads` was renamed `blocks`: files saved before still load."""
    import json

    train, test = planted
    m = MF(k=3, n_epochs=2, dsgd=True, blocks=2).fit(train)
    path = m.save(tmp_path / "mf.npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["params"]["threads"] = meta["params"].pop("blocks")
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    old = MF.load(tmp_path / "old.npz")
    assert old.blocks == 2
    np.testing.assert_array_equal(
        old.predict(test.user_ids[test.users[:5]], test.item_ids[test.items[:5]]),
        m.predict(test.user_ids[test.users[:5]], test.item_ids[test.items[:5]]),
    )


@pytest.mark.parametrize("n,k", [(1, 64), (37, 64), (5, 3), (0, 16)])
def test_factors_start_on_a_cache_line_with_the_same_values(n, k):
    from minirec.models.factor import init_factors

    a = init_factors(np.random.default_rng(4), n, k, 0.1)
    assert a.shape == (n, k) and a.dtype == np.float32 and a.flags.c_contiguous
    assert a.size == 0 or a.ctypes.data % 64 == 0
    plain = np.random.default_rng(4).normal(0.0, 0.1, size=(n, k)).astype(np.float32)
    np.testing.assert_array_equal(a, plain)


def test_dsgd_errors():
    with pytest.raises(ValueError, match="choose one"):
        MF(hogwild=True, dsgd=True)
    with pytest.raises(ValueError, match="blocks"):
        MF(dsgd=True, blocks=0)
    with pytest.raises(ValueError, match="dsgd=True"):
        MF(blocks=8)


def test_early_stopping_keeps_the_best_epoch(planted):
    train, _ = planted
    # lr too high for convergence to settle + long run: validation RMSE turns up
    m = MF(
        k=20,
        lr=0.03,
        reg=0.0,
        n_epochs=200,
        lr_decay=1.0,
        early_stopping=True,
        patience=3,
        backend="numba",
    ).fit(train)
    h = m.history_
    assert len(h) < 200, "early stopping never triggered"
    assert all("val_rmse" in e for e in h)
    best = min(e["val_rmse"] for e in h)
    assert h[m.best_epoch_ - 1]["val_rmse"] <= best + 1e-6  # (1e-6: min progress)
    assert len(h) == m.best_epoch_ + 3  # stopped after `patience` worse epochs


def test_divergence_stops_with_advice(planted):
    train, _ = planted
    with pytest.raises(TrainingDivergedError, match=r"MF: .*epoch \d+.*lower lr"):
        MF(k=8, lr=50.0, n_epochs=20, backend="numba").fit(train)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"k": 0}, "k=0"),
        ({"k": 2.5}, "k=2.5"),
        ({"reg": -1}, "reg=-1"),
        ({"lr": 0}, "lr=0"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"backend": "tensorflow"}, "choose one of"),
    ],
)
def test_bad_hyperparameters(kw, match):
    with pytest.raises(ValueError, match=match):
        MF(**kw)


def test_empty_training_data():
    d = Interactions.from_arrays([1, 2], [3, 4], [5.0, 4.0])
    with pytest.raises(ValueError, match="empty"):
        MF().fit(d.subset(np.array([], dtype=int)))


def test_ml100k_u1_quick(data_root):
    from minirec.data.movielens import load_ml100k_split

    train, test = load_ml100k_split("u1", data_root / "ml-100k")
    m = MF(k=32, n_epochs=15, backend="numba").fit(train)
    rmse = evaluate_ratings(m, test).metrics["RMSE"]
    base = evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]
    assert rmse < base and rmse < 0.96
