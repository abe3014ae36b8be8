"""Serving the factor models (MF, ALS, ImplicitALS, BPR, RankingMF) through the
shared Recommender plumbing: candidate sets and exclusions of recommend and
similar_*, batched against one-at-a-time queries, recommend(user_items=...) that
must leave the model as it was, and fit(on_epoch=...).

The reference for a restricted query is the unrestricted full ranking, filtered by
hand: the restricted answer must be its subsequence, in the same order."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from minirec.data.synthetic import synthetic_ratings
from minirec.models.als import ALS, ImplicitALS
from minirec.models.bpr import BPR
from minirec.models.mf import MF
from minirec.models.ranking_mf import RankingMF

MODELS = {
    "mf": lambda: MF(k=4, n_epochs=5, lr=0.02),
    "als": lambda: ALS(k=3, n_epochs=3),
    "implicit-als": lambda: ImplicitALS(k=4, n_epochs=3),
    "implicit-als-cholesky": lambda: ImplicitALS(k=4, n_epochs=3, solver="cholesky"),
    "bpr": lambda: BPR(k=4, n_epochs=3),
    "ranking-mf": lambda: RankingMF(k=4, n_epochs=3, lr=0.05),
}


@pytest.fixture(scope="module")
def data():
    return synthetic_ratings(n_users=50, n_items=40, density=0.25, seed=11)


@pytest.fixture(scope="module", params=list(MODELS))
def model(request, data):
    return MODELS[request.param]().fit(data)


def test_items_and_filter_items_restrict_the_full_ranking(model):
    users = model.user_ids_[[0, 3, 17]]
    full, full_s = model.recommend(users, n=model.n_items, filter_seen=False)
    cand = model.item_ids_[[1, 4, 5, 9, 12, 30, 33]]
    drop = model.item_ids_[[2, 4, 9, 31]]
    ids, s = model.recommend(users, n=len(cand), filter_seen=False, items=cand)
    ids2, _ = model.recommend(users, n=20, filter_seen=False, filter_items=drop)
    ids3, _ = model.recommend(
        users, n=5, filter_seen=False, items=cand, filter_items=drop
    )
    for r in range(len(users)):
        assert list(ids[r]) == [x for x in full[r] if x in set(cand)]
        np.testing.assert_array_equal(s[r], full_s[r][np.isin(full[r], cand)])
        assert list(ids2[r]) == [x for x in full[r] if x not in set(drop)][:20]
        allowed = set(cand) - set(drop)
        assert list(ids3[r]) == [x for x in full[r] if x in allowed][:5]


def test_filter_seen_with_candidates_pads_with_minus_inf(model):
    u = 0
    seen = model.item_ids_[model.seen_items(u)]
    unseen = np.setdiff1d(model.item_ids_, seen)
    cand = np.concatenate([seen[:3], unseen[:2]])
    ids, s = model.recommend(model.user_ids_[[u]], n=4, items=cand)
    assert set(ids[0, :2]) == set(unseen[:2]) and np.isfinite(s[0, :2]).all()
    assert np.isneginf(s[0, 2:]).all()


def test_batched_recommend_equals_one_user_at_a_time(model):
    users = model.user_ids_[[5, 0, 5, 49]]
    ids, s = model.recommend(users, n=7)
    for r, u in enumerate(users):
        one, one_s = model.recommend([u], n=7)
        np.testing.assert_array_equal(ids[r], one[0])
        np.testing.assert_allclose(s[r], one_s[0], rtol=1e-6)


def test_similar_items_and_users_restrict_the_full_ranking(model):
    for which, ids_all in (("item", model.item_ids_), ("user", model.user_ids_)):
        fn = model.similar_items if which == "item" else model.similar_users
        key = "items" if which == "item" else "users"
        q = ids_all[[2, 8]]
        full, _ = fn(q, len(ids_all) - 1)
        cand = ids_all[[0, 2, 3, 7, 11, 19]]
        got, _ = fn(q, 3, **{key: cand})
        drop = ids_all[[3, 7]]
        got2, _ = fn(q, 6, **{"filter_" + key: drop})
        for r, x in enumerate(q):
            keep = [y for y in full[r] if y in set(cand)]
            assert list(got[r]) == keep[:3] and x not in got[r]
            assert list(got2[r]) == [y for y in full[r] if y not in set(drop)][:6]
        self_first, s = fn(q, 2, include_self=True)
        np.testing.assert_array_equal(self_first[:, 0], q)
        np.testing.assert_allclose(s[:, 0], 1.0, rtol=1e-5)
        one, _ = fn(q[1:], 5)
        np.testing.assert_array_equal(fn(q, 5)[0][1], one[0])


def _snapshot(m):
    out = {k: np.array(v, copy=True) for k, v in m._state().items()}
    out["user_ids"] = m.user_ids_.copy()
    out["item_ids"] = m.item_ids_.copy()
    out["seen_indptr"] = m._seen.indptr.copy()
    out["seen_indices"] = m._seen.indices.copy()
    return out


def test_recommend_with_user_items_leaves_the_model_unchanged(model):
    before = _snapshot(model)
    hist = [model.item_ids_[[1, 2, 3]], model.item_ids_[[4]]]
    users = np.array([model.user_ids_[0], 10**6])  # a known user, a new one
    ids, s = model.recommend(users, n=5, user_items=hist)
    after = _snapshot(model)
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    # the same as folding the histories into a full copy of the model
    ref = copy.deepcopy(model)
    ref.fold_in(np.repeat(users, [3, 1]), np.concatenate(hist))
    ref_ids, ref_s = ref.recommend(users, n=5)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(s, ref_s, rtol=1e-6)
    for r in range(2):  # filter_seen applies to the given history
        assert not np.isin(ids[r], hist[r]).any()


@pytest.mark.parametrize("name", ["mf", "als", "implicit-als", "bpr", "ranking-mf"])
def test_on_epoch_reports_every_epoch(data, name):
    calls = []
    m = MODELS[name]()
    m.fit(
        data,
        on_epoch=lambda mdl, epoch, rec: calls.append((mdl, epoch, rec, mdl.P_.copy())),
    )
    assert [c[1] for c in calls] == list(range(1, len(m.history_) + 1))
    assert all(c[0] is m for c in calls)
    assert [c[2] for c in calls] == m.history_
    loss = [k for k in m.history_[0] if k not in ("epoch", "lr")]
    assert loss and all(np.isfinite(r[loss[0]]) for r in m.history_)
    assert not any(callable(v) for v in vars(m).values())  # never stored
    # the callback sees the model as it is after that epoch
    np.testing.assert_array_equal(calls[-1][3], m.P_)
    assert not np.array_equal(calls[0][3], m.P_)


def test_recommend_with_user_items_for_a_new_string_id(data):
    d = type(data).from_arrays(
        [f"u{x}" for x in data.users], [f"i{x}" for x in data.items]
    )
    m = ImplicitALS(k=3, n_epochs=2).fit(d)
    ids, _ = m.recommend(["a-new-user"], n=3, user_items=[["i1", "i2"]])
    assert ids.shape == (1, 3)


def test_user_items_as_a_sparse_matrix_carries_the_ratings(data):
    """implicit's calling convention: a users x items CSR whose values are the
    confidences; the same as fold_in with those ratings."""
    import scipy.sparse as sp

    m = ImplicitALS(k=3, n_epochs=2, solver="cholesky").fit(data)
    cols = np.array([1, 4, 7])
    vals = np.array([1.0, 3.0, 5.0], dtype=np.float32)
    M = sp.csr_matrix((vals, (np.zeros(3, int), cols)), shape=(1, m.n_items))
    ids, scores = m.recommend([10**6], n=4, user_items=M)
    ref = copy.copy(m).fold_in([10**6] * 3, m.item_ids_[cols], vals)
    ids2, scores2 = ref.recommend([10**6], n=4)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(scores, scores2, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        m.recommend([10**6], n=4, user_items=M[:, :5])
