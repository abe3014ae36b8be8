"""DeepFM: FM part vs brute force, field pooling, gradient, CTR task and metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minirec import Interactions, Recommender
from minirec.data.ctr import ctr_task, evaluate_ctr, global_auc, logloss, to_clicks
from minirec.errors import DataError
from minirec.models._train import gradcheck_module
from minirec.models.deepfm import DeepFM, DeepFMNet
from minirec.nn import losses


def _rows(seed=0):
    r = np.random.default_rng(seed)
    idx = np.array([[0, 3, 5, 6], [1, 4, 7, 5], [2, 3, 6, 7]])
    val = r.uniform(0.2, 1.0, size=idx.shape)
    slot_field = np.array([0, 1, 2, 2])
    return idx, val, slot_field


def test_fm_part_equals_pairwise_sum():
    """½ Σ_f [(Σ v x)² − Σ v² x²] = Σ_{j<l} ⟨v_j, v_l⟩ x_j x_l (doc 000 §4.2/4.3)."""
    idx, val, sf = _rows()
    net = DeepFMNet(8, sf, 3, (), 0.0, 0)
    net.w.W.data[...] = np.random.default_rng(2).normal(size=(8, 1))
    V, w = net.V.W.data.astype(np.float64), net.w.W.data[:, 0]
    y_fm, y_dnn = net.parts(idx, val.astype(np.float32))
    assert y_dnn is None
    for n in range(len(idx)):
        want = sum(w[j] * x for j, x in zip(idx[n], val[n]))
        for a, b in itertools.combinations(range(idx.shape[1]), 2):
            want += V[idx[n, a]] @ V[idx[n, b]] * val[n, a] * val[n, b]
        assert y_fm.numpy()[n] == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_gradcheck_cross_entropy_shared_embeddings():
    idx, val, sf = _rows(1)
    net = DeepFMNet(8, sf, 2, (4,), 0.0, 0)
    net.V.W.data[...] *= 30  # away from 0 so the ReLU units are active
    y = np.array([1.0, 0.0, 1.0])
    res = gradcheck_module(net, lambda: losses.bce_with_logits(net(idx, val), y))
    assert res.ok


def _click_data(seed=0):
    """Users of two types like items of their type; side field 'kind' says which."""
    import pandas as pd

    r = np.random.default_rng(seed)
    n_users, n_items = 60, 40
    ut, it = r.integers(0, 2, n_users), r.integers(0, 2, n_items)
    u = r.integers(0, n_users, 3000)
    i = r.integers(0, n_items, 3000)
    keep = np.unique(u * n_items + i, return_index=True)[1]
    u, i = u[keep], i[keep]
    y = np.where(ut[u] == it[i], 5.0, 1.0)
    d = Interactions.from_arrays(u, i, y)
    uf = pd.DataFrame({"kind": ut[d.user_ids].astype(str)})
    itf = pd.DataFrame({"kind": it[d.item_ids].astype(str)})
    d.user_features, d.item_features = uf, itf
    return d


def test_deepfm_learns_clicks_and_beats_nothing_baseline(tmp_path):
    task = ctr_task(_click_data(), test_fraction=0.3, seed=0)
    assert set(np.unique(task.train.ratings)) <= {0.0, 1.0}
    m = DeepFM(k=4, hidden=(16,), user_fields=["kind"], item_fields=["kind"],
               n_epochs=20, batch_size=64, lr=0.01)  # fmt: skip
    m.fit(task.train)
    res = evaluate_ctr(m, task.test)
    assert res["AUC"] > 0.95 and res["logloss"] < 0.4, res
    m2 = Recommender.load(m.save(tmp_path / "d.npz"))
    u, i = task.test.users[:20], task.test.items[:20]
    np.testing.assert_allclose(m2.predict_pairs(u, i), m.predict_pairs(u, i), 1e-6)


def test_global_auc_and_logloss_brute_force():
    r = np.random.default_rng(3)
    y = r.integers(0, 2, 50)
    s = np.round(r.random(50), 1)  # ties
    pos, neg = s[y == 1], s[y == 0]
    want = ((pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])).mean()
    assert global_auc(y, s) == pytest.approx(want)
    p = r.uniform(0.01, 0.99, 50)
    assert logloss(y, p) == pytest.approx(
        -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    )


def test_errors(tiny_ratings):
    with pytest.raises(DataError, match="0/1 click labels.*threshold"):
        DeepFM(n_epochs=1).fit(tiny_ratings)
    with pytest.raises(ValueError, match="batch_size=0"):
        DeepFM(batch_size=0)
    imp = Interactions.from_arrays([1, 2], [3, 4], None)
    with pytest.raises(DataError, match="implicit"):
        to_clicks(imp)
    with pytest.raises(DataError, match="0/1"):
        evaluate_ctr(DeepFM(threshold=3, n_epochs=1).fit(tiny_ratings), tiny_ratings)


def test_ml1m_ctr_task(data_root):
    from minirec.data import load_movielens

    task = ctr_task(load_movielens("ml-1m"), test_fraction=0.2, seed=0)
    assert len(task.train) + len(task.test) == 1_000_209
    assert task.positive_rate == pytest.approx(575_281 / 1_000_209)
