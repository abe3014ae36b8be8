"""Serving ItemKNN / UserKNN: fold-in of users without refitting (ItemKNN),
similar_items / similar_users from the stored neighbourhoods, and recommend() in
bounded blocks of users."""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest

import minirec.models.base as base
import minirec.models.knn as knn
from minirec import Interactions
from minirec.models import BiasedBaseline
from minirec.models.knn import ItemKNN, UserKNN

NEW, X_ID, Y_ID = 9001, 9002, 9003  # user ids unknown to the fitted models


def _planted(seed=0, n_users=50, n_items=30, density=0.5):
    r = np.random.default_rng(seed)
    P = r.normal(size=(n_users, 2))
    Q = r.normal(size=(n_items, 2))
    u, i = np.nonzero(r.random((n_users, n_items)) < density)
    ratings = np.round(np.clip(3 + (P @ Q.T)[u, i], 1, 5))
    return Interactions.from_arrays(u, i, ratings)


def _reference_fold_in(m, items, ratings):
    """Rating predictions of every item for a user with history (items, ratings),
    from the definitions: b_u by the BiasedBaseline user step (λ_u = 15), the
    residuals r - (μ + b_u + b_j), and for each item i the first n_neighbors of
    its stored neighbours (m.neighbours, best first) that the user rated."""
    idx = m.item_index(items)
    r = np.asarray(ratings, dtype=np.float64)
    bu = np.sum(r - m.mu_ - m.bi_[idx].astype(np.float64)) / (15.0 + len(r))
    resid = dict(zip(np.asarray(items).tolist(), r - (m.mu_ + bu + m.bi_[idx])))
    out = []
    for i, raw in enumerate(m.item_ids_):
        num = den = 0.0
        used = 0
        for j, s in zip(*m.neighbours(raw)):
            if j in resid and used < m.n_neighbors:
                num += s * resid[j]
                den += s
                used += 1
        dev = num / den if den > 0 else 0.0
        out.append(np.clip(m.mu_ + bu + m.bi_[i] + dev, *m.rating_range_))
    return np.array(out)


def test_fold_in_new_user_is_the_neighbour_sum_over_its_history():
    data = _planted()
    m = ItemKNN(n_neighbors=5).fit(data)
    items, ratings = [2, 5, 7, 11, 20, 23], [5, 1, 4, 2, 3, 5]
    want = _reference_fold_in(m, items, ratings)
    m.fold_in([NEW] * len(items), items, ratings)
    assert m.user_ids_[-1] == NEW and m.n_users == data.n_users + 1
    got = m.predict([NEW] * m.n_items, m.item_ids_)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    ids, scores = m.recommend(NEW, n=5)
    assert not set(ids[0].tolist()) & set(items)  # the history is its seen items
    unseen = np.setdiff1d(np.arange(m.n_items), items)
    np.testing.assert_allclose(
        np.sort(scores[0])[::-1], np.sort(want[unseen])[::-1][:5], rtol=1e-5
    )


def test_fold_in_of_a_fitted_user_reproduces_the_fit():
    """Folding a training user in with its own training ratings recomputes the
    fitted state: the BiasedBaseline user bias, and the same scores."""
    data = _planted(seed=1)
    m = ItemKNN(n_neighbors=6).fit(data)
    base = BiasedBaseline(clip=False).fit(data)
    users = data.user_ids[[0, 3, 7]]
    before = m.score_items(m.user_index(users))
    sel = np.isin(data.users, m.user_index(users))
    f = copy.copy(m).fold_in(
        data.user_ids[data.users[sel]],
        data.item_ids[data.items[sel]],
        data.ratings[sel],
    )
    np.testing.assert_allclose(
        f.bu_[m.user_index(users)], base.bu_[m.user_index(users)], rtol=1e-5
    )
    np.testing.assert_allclose(f.score_items(m.user_index(users)), before, atol=1e-4)
    assert len(f.fold_users_) == 3 and len(m.fold_users_) == 0


def test_recommend_user_items_leaves_the_model_untouched():
    data = _planted(seed=2)
    m = ItemKNN(n_neighbors=5).fit(data)
    arrays = {k: v for k, v in vars(m).items() if isinstance(v, np.ndarray)}
    copies = {k: v.copy() for k, v in arrays.items()}
    hist = [[1, 4, 9], [0, 2]]
    users = [NEW, data.user_ids[3]]
    ids, scores = m.recommend(users, n=4, user_items=hist)
    ref = copy.deepcopy(m)
    ref.fold_in(np.repeat(users, [3, 2]), np.concatenate(hist))
    want_ids, want_scores = ref.recommend(users, n=4)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(scores, want_scores)
    for k, v in arrays.items():  # the same arrays, with the same contents
        assert getattr(m, k) is v, k
        np.testing.assert_array_equal(v, copies[k])
    assert len(m.user_ids_) == data.n_users and len(m.fold_users_) == 0


def test_fold_in_again_replaces_the_history_and_survives_save_load(tmp_path):
    data = _planted(seed=3)
    m = ItemKNN(n_neighbors=5).fit(data)
    once = copy.deepcopy(m).fold_in([X_ID] * 3, [1, 2, 3], [5, 4, 5])
    m.fold_in([X_ID, X_ID, Y_ID], [7, 8, 9], [1, 2, 3])
    m.fold_in([X_ID] * 3, [1, 2, 3], [5, 4, 5])  # x again: only this history counts
    items = m.item_ids_
    np.testing.assert_allclose(
        m.predict([X_ID] * len(items), items), once.predict([X_ID] * len(items), items)
    )
    loaded = ItemKNN.load(m.save(tmp_path / "folded.npz"))
    for u in (X_ID, Y_ID):
        np.testing.assert_array_equal(
            loaded.predict([u] * len(items), items), m.predict([u] * len(items), items)
        )
    np.testing.assert_array_equal(
        loaded.recommend([X_ID, Y_ID], 3)[0], m.recommend([X_ID, Y_ID], 3)[0]
    )


def test_fold_in_ranking_mode_votes_of_the_history():
    data = _planted(seed=4)
    m = ItemKNN(n_neighbors=4, task="ranking").fit(data)
    hist = [0, 6, 13]
    want = np.zeros(m.n_items)
    for j in hist:  # each item of the history votes for its stored neighbours
        nb, sims = m.neighbours(j)
        want[m.item_index(nb)] += sims
    f = copy.copy(m).fold_in([NEW] * 3, hist)
    got = f.score_items(f.user_index([NEW]))[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_userknn_does_not_fold_in():
    m = UserKNN(n_neighbors=3).fit(_planted(seed=5))
    with pytest.raises(NotImplementedError, match="cannot fold in users"):
        copy.deepcopy(m).fold_in([NEW], [1])


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_similar_from_the_stored_neighbourhoods(cls):
    data = _planted(seed=6)
    m = cls(n_neighbors=5).fit(data)
    similar = m.similar_items if cls is ItemKNN else m.similar_users
    ids_of = m.item_ids_ if cls is ItemKNN else m.user_ids_
    q = ids_of[[0, 9]]
    ids, scores = similar(q, n=4)
    for r, a in enumerate(q):
        nb, sims = m.neighbours(a)
        np.testing.assert_array_equal(ids[r], nb[:4])
        np.testing.assert_array_equal(scores[r], sims[:4])
        assert a not in ids[r]
    # include_self: the query first, at its similarity with itself n / (n + shrink)
    ids, scores = similar(q, n=4, include_self=True)
    counts = np.bincount(data.items if cls is ItemKNN else data.users)
    for r, a in enumerate(q):
        n_a = counts[int(np.flatnonzero(ids_of == a)[0])]
        assert ids[r, 0] == a
        assert scores[r, 0] == pytest.approx(n_a / (n_a + 100.0), rel=1e-6)
        np.testing.assert_array_equal(ids[r, 1:], m.neighbours(a)[0][:3])
    # a candidate set and excluded ids; ranks without a candidate score -inf
    nb, sims = m.neighbours(q[0])
    cand = nb[[1, 3, 5]]
    kw = {"items": cand} if cls is ItemKNN else {"users": cand}
    ids, scores = similar(q[:1], n=4, **kw)
    np.testing.assert_array_equal(ids[0, :3], cand)
    np.testing.assert_array_equal(scores[0, :3], sims[[1, 3, 5]])
    assert scores[0, 3] == -np.inf
    kw = {"filter_items": nb[:2]} if cls is ItemKNN else {"filter_users": nb[:2]}
    ids, _ = similar(q[:1], n=3, **kw)
    np.testing.assert_array_equal(ids[0], nb[2:5])
    with pytest.raises(ValueError, match="larger than the"):
        similar(q, n=len(ids_of))


def test_the_other_side_has_no_neighbourhoods():
    m = ItemKNN(n_neighbors=3).fit(_planted(seed=7))
    with pytest.raises(NotImplementedError, match="UserKNN"):
        m.similar_users(m.user_ids_[:1], n=2)


def _wide(seed=8, n_users=600, n_items=5000, per_user=20):
    """Many items, few ratings each (the shape of the scale benchmark)."""
    r = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_users), per_user)
    i = (r.zipf(1.3, len(u)) + r.integers(0, n_items, len(u))) % n_items
    u, i = np.unique(np.column_stack([u, i]), axis=0).T
    y = r.integers(1, 6, len(u)).astype(np.float64)
    return Interactions.from_arrays(u, i, y, item_ids=np.arange(n_items))


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_recommend_goes_in_bounded_blocks(cls, monkeypatch):
    """Blocks of a few users give the same answer as one block, and the NumPy
    memory of recommend() then stays far below one users x items score matrix."""
    data = _wide()
    m = cls(n_neighbors=10).fit(data)
    users = data.user_ids[:400]
    kw = {"items": data.item_ids[::2], "filter_items": data.item_ids[:50]}
    want = m.recommend(users, 10, **kw)
    one_matrix = len(users) * data.n_items * 4  # bytes of float32 scores
    monkeypatch.setattr(base, "_SCORE_CELLS", 16 * data.n_items)  # recommend()
    monkeypatch.setattr(knn, "_SCORE_CELLS", 4 * data.n_items)
    tracemalloc.start()
    got = m.recommend(users, 10, **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert peak < one_matrix / 4, (peak, one_matrix)
    if cls is ItemKNN:  # blocks with histories given
        hist = [data.item_ids[[1, 2, 3]]] * 40
        a = m.recommend(np.arange(10_000, 10_040), 5, user_items=hist)
        monkeypatch.undo()
        b = m.recommend(np.arange(10_000, 10_040), 5, user_items=hist)
        np.testing.assert_array_equal(a[1], b[1])


def _dense_sims(m):
    """S[a, b] = the stored similarity of neighbour b in row a's list."""
    n = len(m.nbr_indptr_) - 1
    S = np.zeros((n, n))
    owner = np.repeat(np.arange(n), np.diff(m.nbr_indptr_))
    S[owner, m.nbr_indices_] = m.nbr_sims_
    return S


def _bincount_scores(m, u):
    """ItemKNN(task="ranking", weighting="none", neighbours_of="rated") scores
    as one np.bincount over (user, neighbour) keys: each rated item votes its
    stored sims, float64 sums in history order then stored order."""
    seen, n_items = m._seen, m.n_items
    keys, weights = [], []
    for r, uu in enumerate(u):
        for j in seen.indices[seen.indptr[uu] : seen.indptr[uu + 1]]:
            lo, hi = m.nbr_indptr_[j], m.nbr_indptr_[j + 1]
            keys.append(r * n_items + m.nbr_indices_[lo:hi].astype(np.int64))
            weights.append(m.nbr_sims_[lo:hi])
    out = np.bincount(
        np.concatenate(keys), np.concatenate(weights), minlength=len(u) * n_items
    )
    return out.reshape(len(u), n_items).astype(np.float32)


def test_ranking_scores_are_the_vote_sums_bit_for_bit():
    data = _planted(seed=3, n_users=80, n_items=40)
    m = ItemKNN(task="ranking", n_neighbors=6, shrink=5.0).fit(data)
    u = np.arange(data.n_users)
    np.testing.assert_array_equal(m.score_items(u), _bincount_scores(m, u))


@pytest.mark.parametrize("weighting", ["none", "tfidf", "bm25"])
@pytest.mark.parametrize("neighbours_of", ["rated", "candidate"])
def test_ranking_scores_are_the_rows_times_the_similarity_matrix(
    weighting, neighbours_of
):
    """rated: X S (each rated item's list); candidate: X Sᵀ (each candidate's
    list), X the weighted interactions; also for users scored in several
    blocks and through the pair path."""
    data = _planted(seed=4, n_users=70, n_items=35)
    m = ItemKNN(
        task="ranking", n_neighbors=5, shrink=2.0, shrink_by="norm", alpha=0.6,
        weighting=weighting, neighbours_of=neighbours_of,
    ).fit(data)  # fmt: skip
    X = np.zeros((data.n_users, data.n_items))
    X[m.x_indices_, np.repeat(np.arange(data.n_items), np.diff(m.x_indptr_))] = (
        m.x_data_
    )
    S = _dense_sims(m)
    want = X @ (S if neighbours_of == "rated" else S.T)
    got = m.score_items(np.arange(data.n_users))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    u, i = np.nonzero(np.ones_like(want, bool))
    np.testing.assert_array_equal(m.predict_pairs(u, i), got[u, i])
    if neighbours_of == "candidate":  # different from the other form here
        assert not np.allclose(X @ S, X @ S.T)


def test_feature_weights_match_their_definitions():
    data = _planted(seed=5)
    n_u = np.bincount(data.users, minlength=data.n_users).astype(float)
    n_i = np.bincount(data.items, minlength=data.n_items).astype(float)
    idf = np.log(data.n_items / (1 + n_u))
    bm25 = 2.2 / (1.2 * (0.25 + 0.75 * n_i / n_i.mean()) + 1)
    for weighting, want in (
        ("tfidf", idf[data.users]),
        ("bm25", idf[data.users] * bm25[data.items]),
    ):
        m = ItemKNN(task="ranking", weighting=weighting).fit(data)
        item = np.repeat(np.arange(data.n_items), np.diff(m.x_indptr_))
        got = {(int(a), int(b)): x for a, b, x in zip(m.x_indices_, item, m.x_data_)}
        for uu, ii, w in zip(data.users, data.items, want):
            assert got[(int(uu), int(ii))] == pytest.approx(w, rel=1e-6)


@pytest.mark.parametrize("weighting", ["tfidf", "bm25"])
def test_fold_in_of_a_fitted_user_keeps_its_weighted_scores(weighting):
    data = _planted(seed=6)
    m = ItemKNN(
        task="ranking", n_neighbors=5, weighting=weighting, neighbours_of="candidate"
    ).fit(data)
    raw = data.user_ids[7]
    before = m.score_items(np.array([7]))
    items = data.item_ids[data.items[data.users == 7]]
    m.fold_in([raw] * len(items), items)
    np.testing.assert_allclose(m.score_items(np.array([7])), before, rtol=1e-6)


def test_ranking_options_are_checked():
    with pytest.raises(ValueError, match="weighting"):
        ItemKNN(task="ranking", weighting="idf")
    with pytest.raises(ValueError, match="neighbours_of"):
        ItemKNN(task="ranking", neighbours_of="both")
    with pytest.raises(ValueError, match="task='ranking'"):
        ItemKNN(task="rating", weighting="bm25")
    with pytest.raises(ValueError, match="ItemKNN"):
        UserKNN(task="ranking", neighbours_of="candidate")
    with pytest.raises(ValueError, match="shrink_by"):
        ItemKNN(shrink_by="both")
    with pytest.raises(ValueError, match="alpha"):
        ItemKNN(task="ranking", alpha=2.0)
    with pytest.raises(ValueError, match="pearson"):
        ItemKNN(task="rating", alpha=0.3)


def test_userknn_ranking_scores_are_the_neighbour_sums():
    """score(u, i) = Σ_{v ∈ N^k(u)} s_uv 1[v rated i] = (S X)[u, i]."""
    data = _planted(seed=7, n_users=60, n_items=30)
    m = UserKNN(task="ranking", n_neighbors=4, shrink=1.0).fit(data)
    X = np.zeros((data.n_users, data.n_items))
    X[data.users, data.items] = 1.0
    got = m.score_items(np.arange(data.n_users))
    np.testing.assert_allclose(got, _dense_sims(m) @ X, rtol=1e-6, atol=1e-7)
    assert (got > 0).sum() > data.n_users
