"""ItemKNN / UserKNN: agreement with Surprise's KNNBaseline, planted structure,
backends, errors, and real ML-100k numbers."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions
from minirec.evaluation import evaluate_ratings
from minirec.models.knn import ItemKNN, UserKNN


def _planted(seed=42, n_users=60, n_items=40):
    r = np.random.default_rng(seed)
    P = r.normal(size=(n_users, 2))
    Q = r.normal(size=(n_items, 2))
    mask = r.random((n_users, n_items)) < 0.5
    u, i = np.nonzero(mask)
    ratings = np.round(np.clip(3 + (P @ Q.T)[u, i], 1, 5))
    return Interactions.from_arrays(u, i, ratings), mask


@pytest.mark.parametrize("cls,user_based", [(ItemKNN, False), (UserKNN, True)])
def test_matches_surprise_knnbaseline(cls, user_based):
    """pearson_baseline, no shrinkage: the same predictions as Surprise on every
    unobserved pair (Surprise shrinks by (n-1)/(n-1+s), we by n/(n+s), so the
    comparison is at s = 0)."""
    surprise = pytest.importorskip("surprise")
    pd = pytest.importorskip("pandas")
    data, mask = _planted()
    df = pd.DataFrame({"u": data.users, "i": data.items, "r": data.ratings})
    reader = surprise.Reader(rating_scale=(1, 5))
    ts = surprise.Dataset.load_from_df(df, reader).build_full_trainset()
    opts = {"name": "pearson_baseline", "user_based": user_based, "shrinkage": 0}
    algo = surprise.KNNBaseline(k=5, sim_options=opts, verbose=False).fit(ts)
    uu, ii = np.nonzero(~mask)
    want = np.array([algo.predict(a, b).est for a, b in zip(uu, ii)])
    for backend in ("numpy", "numba"):
        got = cls(n_neighbors=5, shrink=0.0, backend=backend).fit(data).predict(uu, ii)
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_backends_agree_and_save_load(cls, tmp_path):
    data, _ = _planted(seed=1)
    a = cls(n_neighbors=7, backend="numpy").fit(data)
    b = cls(n_neighbors=7, backend="numba").fit(data)
    np.testing.assert_array_equal(a.nbr_indptr_, b.nbr_indptr_)
    np.testing.assert_allclose(a.nbr_sims_, b.nbr_sims_, rtol=1e-6)
    users = data.user_ids[:6]
    np.testing.assert_allclose(
        a.recommend(users, 5)[1], b.recommend(users, 5)[1], rtol=1e-5
    )
    m = cls.load(b.save(tmp_path / "knn.npz"))
    np.testing.assert_array_equal(m.recommend(users, 5)[0], b.recommend(users, 5)[0])


def _blocks(seed=0, n_users=40, n_items=30):
    """Two user groups, each interacting only with its own half of the items."""
    r = np.random.default_rng(seed)
    g_u = np.arange(n_users) % 2
    g_i = np.arange(n_items) % 2
    mask = (g_u[:, None] == g_i[None, :]) & (r.random((n_users, n_items)) < 0.6)
    u, i = np.nonzero(mask)
    return Interactions.from_arrays(u, i), g_u, g_i


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_ranking_recovers_planted_groups(cls):
    data, g_u, g_i = _blocks()
    m = cls(n_neighbors=10, task="ranking").fit(data)
    assert not m.predicts_ratings
    ids, scores = m.recommend(data.user_ids, n=3)
    in_group = g_i[ids] == g_u[data.user_ids][:, None]
    assert in_group[scores > 0].all()  # out-of-group items get no votes at all
    assert (scores > 0).mean() > 0.9


def test_item_neighbours_and_similar_items():
    data, g_u, g_i = _blocks(seed=1)
    m = ItemKNN(n_neighbors=5, task="ranking").fit(data)
    nb, sims = m.neighbours(0)
    assert len(nb) == 5 and np.all(g_i[nb] == g_i[0]) and np.all(np.diff(sims) <= 0)
    ids, s = m.similar_items([0, 1], n=3)
    assert np.all(g_i[ids[0]] == 0) and np.all(g_i[ids[1]] == 1)
    np.testing.assert_array_equal(ids[0], nb[:3])
    np.testing.assert_array_equal(s[0], sims[:3])


def test_planted_ratings_beat_the_baseline():
    from minirec.models import BiasedBaseline

    data, _ = _planted(seed=3, n_users=120, n_items=60)
    r = np.random.default_rng(0)
    test_mask = r.random(len(data)) < 0.2
    train, test = data.subset(~test_mask), data.subset(test_mask)
    base = evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]
    for cls in (ItemKNN, UserKNN):
        rmse = evaluate_ratings(cls(n_neighbors=20).fit(train), test).metrics["RMSE"]
        assert rmse < 0.9 * base, (cls.__name__, rmse, base)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_neighbors=0"):
        ItemKNN(n_neighbors=0)
    with pytest.raises(ValueError, match="shrink"):
        ItemKNN(shrink=-1)
    with pytest.raises(ValueError, match="similarity='pearson' needs ratings"):
        ItemKNN(task="ranking", similarity="pearson")
    with pytest.raises(ValueError, match="keep=3 must be >= n_neighbors=5"):
        UserKNN(n_neighbors=5, keep=3)
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        ItemKNN(backend="gpu")
    with pytest.raises(ValueError, match="similarity="):
        ItemKNN(similarity="jaccard")


def test_ml100k_u1_rmse(data_root):
    """Protocol: GroupLens u1.base/u1.test, n_neighbors=40, pearson_baseline,
    shrink 100.
    Measured here: ItemKNN 0.934, UserKNN 0.933 (BiasedBaseline 0.960)."""
    from minirec.data import load_ml100k_split

    train, test = load_ml100k_split("u1", data_root)
    for cls in (ItemKNN, UserKNN):
        rmse = evaluate_ratings(cls().fit(train), test).metrics["RMSE"]
        assert rmse < 0.94, (cls.__name__, rmse)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_ranking_pairs_equal_full_scores(cls):
    data, _, _ = _blocks(seed=2, n_users=300)
    m = cls(n_neighbors=6, task="ranking").fit(data)
    r = np.random.default_rng(0)
    u = r.integers(0, data.n_users, 2000)
    i = r.integers(0, data.n_items, 2000)
    full = m.score_items(np.arange(data.n_users))
    np.testing.assert_allclose(m.predict_pairs(u, i), full[u, i], rtol=1e-6)


def test_k_is_the_deprecated_name_of_n_neighbors(tmp_path):
    import json

    with pytest.warns(DeprecationWarning, match="it is now called n_neighbors"):
        m = ItemKNN(k=6)
    assert m.n_neighbors == 6 and m.get_params()["n_neighbors"] == 6
    assert "k" not in m.get_params()
    with pytest.raises(TypeError, match="pass n_neighbors only"):
        ItemKNN(k=6, n_neighbors=6)
    # a model file written before the rename: params {"k": 6}, no fold arrays
    data, _ = _planted(seed=4)
    m = ItemKNN(n_neighbors=6).fit(data)
    path = m.save(tmp_path / "new.npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("state/fold_")}
    meta = json.loads(str(arrays["__meta__"]))
    meta["params"]["k"] = meta["params"].pop("n_neighbors")
    arrays["__meta__"] = np.array(json.dumps(meta))
    old = tmp_path / "old.npz"
    np.savez(old, **arrays)
    loaded = ItemKNN.load(old)
    assert loaded.n_neighbors == 6
    users = data.user_ids[:8]
    np.testing.assert_array_equal(
        loaded.recommend(users, 5)[1], m.recommend(users, 5)[1]
    )
    np.testing.assert_array_equal(
        loaded.predict(users, data.item_ids[:8]), m.predict(users, data.item_ids[:8])
    )


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize(
    "kw",
    [{}, {"baseline": "none"}, {"baseline": "mean", "similarity": "cosine"}],
)
def test_every_item_scores_are_the_pair_predictions(cls, kw, monkeypatch):
    """score_items (the per-user kernels, in blocks) gives bit for bit what the
    pair walk of predict_pairs gives, for every (user, item)."""
    import minirec.models.knn as knn

    data, _ = _planted(seed=5)
    monkeypatch.setattr(knn, "_SCORE_CELLS", 3 * data.n_items)  # 3 users a block
    for backend in ("numba", "numpy"):
        m = cls(n_neighbors=6, backend=backend, **kw).fit(data)
        u = np.arange(data.n_users)
        full = m.score_items(u)
        uu = np.repeat(u, data.n_items)
        ii = np.tile(np.arange(data.n_items), data.n_users)
        np.testing.assert_array_equal(full, m.predict_pairs(uu, ii).reshape(full.shape))
