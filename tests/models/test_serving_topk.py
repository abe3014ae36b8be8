"""minirec.models._serving: the Numba top-k and the chunked all-users ranking,
against np.argpartition / a stable sort and against each model's recommend()."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import synthetic_ratings
from minirec.models import MF, ImplicitALS, ItemKNN
from minirec.models import _serving as S
from minirec.models.base import top_k as base_top_k


def _argpartition_top_k(s, k):
    """The spec on ties-free rows: argpartition, then the k sorted by score."""
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 10, 57])
def test_top_k_equals_argpartition_on_distinct_scores(dtype, k):
    rng = np.random.default_rng(k)
    s = rng.permutation(40 * 300).reshape(40, 300).astype(dtype) / 7.0  # no ties
    np.testing.assert_array_equal(S.top_k(s, k), _argpartition_top_k(s, k))


def test_top_k_ties_nan_and_inf_as_the_stable_sort():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 4, (50, 30)).astype(np.float32)  # many ties
    s[rng.random(s.shape) < 0.1] = np.nan
    s[rng.random(s.shape) < 0.1] = -np.inf
    s[3] = np.nan  # a row of NaN only
    s[4, :] = 1.0  # one value everywhere
    for k in (1, 5, 29, 30, 31):
        want = np.argsort(-s, axis=1, kind="stable")[:, :k]  # NaN last, stable
        np.testing.assert_array_equal(S.top_k(s, k), want)
        np.testing.assert_array_equal(S.top_k(s, k), base_top_k(s, k))


def test_top_k_integers_and_bad_input():
    s = np.array([[3, -2, 7, 7], [0, 0, 0, 1]], dtype=np.int32)
    np.testing.assert_array_equal(S.top_k(s, 2), [[2, 3], [3, 0]])
    with pytest.raises(ValueError, match="2-d"):
        S.top_k(np.zeros(3), 1)
    with pytest.raises(ValueError, match="positive"):
        S.top_k(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="real numbers"):
        S.top_k(np.zeros((2, 3), dtype=complex), 1)


@pytest.fixture(scope="module")
def data():
    return synthetic_ratings(n_users=120, n_items=90, density=0.15, seed=4)


@pytest.mark.parametrize(
    "model",
    [
        MF(k=4, n_epochs=3, seed=0),
        ImplicitALS(k=4, n_epochs=3),
        ItemKNN(task="ranking", n_neighbors=10),
    ],
    ids=["mf", "ials", "itemknn"],
)
@pytest.mark.parametrize("filter_seen", [True, False])
def test_recommend_all_equals_recommend(data, model, filter_seen, monkeypatch):
    model.fit(data)
    monkeypatch.setattr(S, "CHUNK_CELLS", 7 * data.n_items)  # several chunks
    ids, scores = model.recommend(data.user_ids, 8, filter_seen=filter_seen)
    idx, got = S.recommend_all(model, n=8, filter_seen=filter_seen)
    np.testing.assert_array_equal(model.item_ids_[idx], ids)
    np.testing.assert_allclose(got, scores, rtol=1e-6)
    if filter_seen:
        for u in range(data.n_users):
            assert not np.isin(idx[u], model.seen_items(u)).any()
    sub = np.array([5, 0, 77])
    np.testing.assert_array_equal(
        S.recommend_all(model, sub, 8, filter_seen)[0], idx[sub]
    )


def test_recommend_all_pads_with_minus_inf_and_checks_arguments(data):
    m = MF(k=3, n_epochs=1).fit(data)
    heavy = int(np.argmax(np.diff(m._seen.indptr)))
    n_unseen = data.n_items - len(m.seen_items(heavy))
    _, scores = S.recommend_all(m, [heavy], n_unseen + 2)
    assert np.isneginf(scores[0, n_unseen:]).all()
    assert np.isfinite(scores[0, :n_unseen]).all()
    with pytest.raises(ValueError, match="between 1"):
        S.recommend_all(m, n=0)
    with pytest.raises(ValueError, match="internal user indices"):
        S.recommend_all(m, [data.n_users])
