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


@pytest.mark.parametrize("n_cols", [1000, S.BLOCK * 7, S.BLOCK - 1])
def test_top_k_long_rows_across_blocks(n_cols):
    """Rows longer than a block (and not a multiple of it), with ties, NaN and
    infinities at block edges: the stable descending sort's first k."""
    rng = np.random.default_rng(n_cols)
    s = rng.integers(0, 20, (30, n_cols)).astype(np.float32)
    s[rng.random(s.shape) < 0.05] = np.nan
    s[rng.random(s.shape) < 0.02] = np.inf
    s[rng.random(s.shape) < 0.02] = -np.inf
    s[0, : S.BLOCK] = np.nan  # NaN fills the buffer first, numbers follow
    s[1] = np.nan
    s[2, ::2] = np.nan
    s[3] = -np.inf
    s[4, -1] = 99.0  # the best item last, in the partial block
    for k in sorted({1, 10, S.BLOCK, S.BLOCK + 1, n_cols - 1, n_cols}):
        want = np.argsort(-s, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(S.top_k(s, k), want, err_msg=f"k={k}")


def _float64_scores(m, u):
    """The factor model's scores in float64 from its float32 state, and a bound on
    the rounding of any float32 evaluation of them (any summation order): with
    u32 = 2**-24 and k factors, (k + 4) u32 (sum_f |p_uf q_if| + |mu| + |b_u|
    + |b_i|), the dot product's gamma_k bound plus the rounded mean and the two
    bias additions."""
    P = m.P_[u].astype(np.float64)
    Q = m.Q_.astype(np.float64)
    s = P @ Q.T
    mag = np.abs(P) @ np.abs(Q).T
    if getattr(m, "bu_", None) is not None:
        const = float(getattr(m, "mu_", 0.0))
        b = getattr(m, "b_", None)
        if b is not None:
            const += float(b[0])
        bu = m.bu_[u].astype(np.float64)
        bi = m.bi_.astype(np.float64)
        s += const + bu[:, None] + bi[None, :]
        mag += abs(const) + np.abs(bu)[:, None] + np.abs(bi)[None, :]
    return s, (m.P_.shape[1] + 4) * 2.0**-24 * mag


@pytest.mark.parametrize(
    "model", [MF(k=16, n_epochs=5, seed=1), ImplicitALS(k=16, n_epochs=3, seed=1)]
)
def test_float32_ranking_is_the_float64_ranking_beyond_the_rounding(data, model):
    """The rule the float32 serving path keeps: a user whose float64 top n + 1
    (unseen items) are separated by more than the two scores' rounding bounds gets
    the float64 top n exactly; for the others every returned item is within the
    bounds of the float64 n-th score (only near-ties change places)."""
    m = model.fit(data)
    n = 10
    idx, got = S.recommend_all(m, None, n)
    u = np.arange(m.n_users)
    s64, bound = _float64_scores(m, u)
    for r in u:
        s64[r, m.seen_items(r)] = -np.inf
    order = np.argsort(-s64, axis=1, kind="stable")[:, : n + 1]
    v = np.take_along_axis(s64, order, axis=1)
    e = np.take_along_axis(bound, order, axis=1)
    separated = ((v[:, :-1] - v[:, 1:]) > (e[:, :-1] + e[:, 1:])).all(axis=1)
    assert separated.mean() > 0.9  # the rule is tested on most users
    np.testing.assert_array_equal(idx[separated], order[separated, :n])
    vg = np.take_along_axis(s64, idx, axis=1)
    eg = np.take_along_axis(bound, idx, axis=1)
    assert (vg >= v[:, n - 1 : n] - eg - e[:, n - 1 : n]).all()
    # the float32 scores are the float64 ones within the bound
    assert (np.abs(got - vg) <= eg).all()


class _Flaky(MF):
    """MF whose scorer fails for one user, to check that a worker's error
    reaches the caller."""

    concurrent_scoring = True

    def score_items(self, u):
        if 17 in np.asarray(u):
            raise RuntimeError("scorer failed for user 17")
        return super().score_items(u)


class _Cached(MF):
    """MF that hands out one stored array of scores (the path must not change
    it)."""

    def score_items(self, u):
        if not hasattr(self, "cache_"):
            self.cache_ = super().score_items(np.arange(self.n_users))
        assert len(u) == self.n_users
        return self.cache_


def test_threads_give_the_single_thread_result_and_raise_errors(data, monkeypatch):
    m = MF(k=4, n_epochs=2, seed=0).fit(data)
    assert S.scores_concurrently(m)
    assert not S.scores_concurrently(ItemKNN(task="ranking"))
    monkeypatch.setattr(S, "CHUNK_CELLS", 5 * data.n_items)  # 24 blocks
    u = np.arange(data.n_users)
    one = S.rank(m, u, 7, True, None, False, threads=1)
    two = S.rank(m, u, 7, True, None, False, threads=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    flaky = _Flaky(k=4, n_epochs=1, seed=0).fit(data)
    with pytest.raises(RuntimeError, match="user 17"):
        S.rank(flaky, u, 7, True, None, False, threads=2)


def test_masking_leaves_the_models_scores_as_they_were(data):
    m = _Cached(k=4, n_epochs=2, seed=0).fit(data)
    m.score_items(np.arange(m.n_users))
    before = m.cache_.copy()
    keep_out = m.item_ids_[[0, 5, 5, 9]]  # a repeated id too
    ids, scores = m.recommend(m.user_ids_, 6, filter_items=keep_out)
    np.testing.assert_array_equal(m.cache_, before)
    assert not np.isin(ids, keep_out).any()
    s = before.copy()
    for r in range(m.n_users):
        s[r, m.seen_items(r)] = -np.inf
    s[:, [0, 5, 9]] = -np.inf
    want = base_top_k(s, 6)
    np.testing.assert_array_equal(ids, m.item_ids_[want])
    np.testing.assert_array_equal(scores, np.take_along_axis(s, want, axis=1))
