"""Metrics: hand-computed cases, brute-force property tests, input validation."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirec import metrics as M

# ------------------------------------------------------------------------ brute force
# Plain-Python, one-user-at-a-time definitions, written from the textbook formulas.


def bf_hr(row, k):
    return 1.0 if any(row[:k]) else 0.0


def bf_precision(row, k):
    return sum(row[:k]) / k


def bf_recall(row, n_rel, k):
    return sum(row[:k]) / n_rel


def bf_ndcg(row, n_rel, k):
    dcg = sum(1 / math.log2(r + 2) for r in range(k) if row[r])
    idcg = sum(1 / math.log2(r + 2) for r in range(min(n_rel, k)))
    return dcg / idcg


def bf_mrr(row, k):
    for r in range(k):
        if row[r]:
            return 1 / (r + 1)
    return 0.0


def bf_ap(row, n_rel, k):
    total, found = 0.0, 0
    for r in range(k):
        if row[r]:
            found += 1
            total += found / (r + 1)
    return total / min(n_rel, k)


def bf_auc(pos, neg):
    s = 0.0
    for p in pos:
        for q in neg:
            s += 1.0 if p > q else 0.5 if p == q else 0.0
    return s / (len(pos) * len(neg))


def bf_rank(pos, neg, ties):
    if ties == "pessimistic":
        return sum(1 for q in neg if q >= pos)
    return sum(1 for q in neg if q > pos)


# ------------------------------------------------------------------------- strategies
@st.composite
def hit_cases(draw):
    n_users = draw(st.integers(1, 6))
    K = draw(st.integers(1, 8))
    hits = draw(hnp.arrays(bool, (n_users, K)))
    extra = draw(hnp.arrays(np.int64, n_users, elements=st.integers(0, 4)))
    n_rel = hits.sum(axis=1) + extra
    n_rel = np.maximum(n_rel, 1)  # every user has a relevant item somewhere
    k = draw(st.integers(1, K))
    return hits, n_rel, k


# a small set of values so that ties are common
tie_floats = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])


# ------------------------------------------------------------------------- hand cases
def test_hand_computed_ranking_metrics():
    hits = np.array([[True, False, True]])  # relevant at ranks 1 and 3
    n_rel = np.array([2])
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    assert M.ndcg_at_k(hits, n_rel) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert M.ndcg_at_k(hits, n_rel, k=1) == pytest.approx(1.0)
    assert M.map_at_k(hits, n_rel) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert M.precision_at_k(hits, n_rel) == pytest.approx(2 / 3)
    assert M.recall_at_k(hits, np.array([4])) == pytest.approx(0.5)
    assert M.hit_rate_at_k(hits) == 1.0
    assert M.mrr(np.array([[False, True, False]])) == pytest.approx(0.5)
    assert M.mrr(np.array([[False, True, False]]), k=1) == 0.0


def test_ndcg_single_relevant_leave_one_out():
    # the NCF formula: relevant at 0-based rank r -> 1 / log2(r + 2)
    hits = np.zeros((3, 10), bool)
    hits[0, 0] = hits[1, 3] = True  # user 2 misses
    v = M.ndcg_at_k(hits, np.ones(3, int), per_user=True)
    np.testing.assert_allclose(v, [1.0, 1 / math.log2(5), 0.0])
    assert M.hit_rate_at_k(hits, k=3, per_user=True).tolist() == [1.0, 0.0, 0.0]


def test_rmse_mae_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    y_hat = np.array([1.0, 3.0, 3.0, 2.0])
    assert M.rmse(y, y_hat) == pytest.approx(math.sqrt((0 + 1 + 0 + 4) / 4))
    assert M.mae(y, y_hat) == pytest.approx(3 / 4)


def test_auc_hand_and_ties():
    assert M.auc([1.0], [[0.0, 2.0]]) == pytest.approx(0.5)
    assert M.auc([1.0], [[1.0, 1.0, 0.0]]) == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert M.auc(np.zeros(4), np.zeros((4, 7))) == pytest.approx(0.5)  # constant
    assert M.auc([[3.0, 0.0]], [[1.0]]) == pytest.approx(0.5)  # two positives


def test_rank_of_positive_tie_rule():
    pos = np.array([1.0, 1.0, 5.0])
    neg = np.array([[1.0, 1.0, 0.0], [2.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    assert M.rank_of_positive(pos, neg, "pessimistic").tolist() == [2, 1, 0]
    assert M.rank_of_positive(pos, neg, "optimistic").tolist() == [0, 1, 0]
    # a constant scorer ranks the positive last (pessimistic) or first (optimistic)
    z = M.rank_of_positive(np.zeros(5), np.zeros((5, 99)))
    assert (z == 99).all()
    assert (M.rank_of_positive(np.zeros(5), np.zeros((5, 99)), "optimistic") == 0).all()
    # invalid negatives are ignored
    valid = np.array([[True, False, True], [True, True, True], [True, True, True]])
    assert M.rank_of_positive(pos, neg, valid=valid).tolist() == [1, 1, 0]


def test_leave_one_out_metrics_hand():
    out = M.leave_one_out_metrics(np.array([0, 3, 50]), ks=(1, 10))
    assert out["HR@1"] == pytest.approx(1 / 3)
    assert out["HR@10"] == pytest.approx(2 / 3)
    assert out["NDCG@10"] == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert out["MRR"] == pytest.approx((1 + 1 / 4 + 1 / 51) / 3)
    cut = M.leave_one_out_metrics(np.array([0, 3, 50]), ks=10, mrr_k=20)
    assert cut["MRR@20"] == pytest.approx((1 + 1 / 4) / 3) and "MRR" not in cut
    # agrees with the hit-matrix metrics for one relevant item per user
    ranks = np.array([0, 2, 7, 9, 1])
    hits, n_rel = M.hits_from_ranks(ranks, np.arange(6), 10)
    out = M.leave_one_out_metrics(ranks, ks=(5,))
    assert out["NDCG@5"] == pytest.approx(M.ndcg_at_k(hits, n_rel, 5))
    assert out["HR@5"] == pytest.approx(M.recall_at_k(hits, n_rel, 5))
    assert out["MRR"] == pytest.approx(M.mrr(hits))
    with pytest.raises(ValueError, match="ranks must be integer"):
        M.leave_one_out_metrics(np.array([-1]))
    with pytest.raises(ValueError, match="mrr_k=0"):
        M.leave_one_out_metrics(np.array([1]), mrr_k=0)


def test_catalog_coverage():
    assert M.catalog_coverage(np.array([[0, 1], [1, 2]]), 10) == pytest.approx(0.3)
    assert M.catalog_coverage(np.array([[0, -1]]), 4) == pytest.approx(0.25)  # padding


def test_hits_from_ranked_hand():
    ranked = np.array([[3, 1, 2], [0, 1, -1]])
    indptr = np.array([0, 2, 3])
    indices = np.array([2, 5, 1])  # user 0: {2, 5}; user 1: {1}
    hits, n_rel = M.hits_from_ranked(ranked, indptr, indices)
    assert hits.tolist() == [[False, False, True], [False, True, False]]
    assert n_rel.tolist() == [2, 1]


def test_hits_from_ranks_hand():
    hits, n_rel = M.hits_from_ranks(np.array([0, 4, 1]), np.array([0, 2, 3]), K=3)
    assert hits.tolist() == [[True, False, False], [False, True, False]]
    assert n_rel.tolist() == [2, 1]


# ------------------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(hit_cases())
def test_ranking_metrics_match_brute_force(case):
    hits, n_rel, k = case
    rows = hits.tolist()
    nr = n_rel.tolist()
    checks = [
        (M.hit_rate_at_k(hits, n_rel, k, per_user=True), [bf_hr(r, k) for r in rows]),
        (
            M.precision_at_k(hits, n_rel, k, per_user=True),
            [bf_precision(r, k) for r in rows],
        ),
        (
            M.recall_at_k(hits, n_rel, k, per_user=True),
            [bf_recall(r, n, k) for r, n in zip(rows, nr, strict=True)],
        ),
        (
            M.ndcg_at_k(hits, n_rel, k, per_user=True),
            [bf_ndcg(r, n, k) for r, n in zip(rows, nr, strict=True)],
        ),
        (M.mrr(hits, n_rel, k, per_user=True), [bf_mrr(r, k) for r in rows]),
        (
            M.map_at_k(hits, n_rel, k, per_user=True),
            [bf_ap(r, n, k) for r, n in zip(rows, nr, strict=True)],
        ),
    ]
    for got, want in checks:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the float (default) is the mean of the per-user values
    assert M.ndcg_at_k(hits, n_rel, k) == pytest.approx(np.mean(checks[3][1]))
    assert M.map_at_k(hits, n_rel, k) == pytest.approx(np.mean(checks[5][1]))
    # bounds
    for got, _ in checks:
        assert np.all((got >= 0) & (got <= 1 + 1e-12))


@settings(max_examples=100, deadline=None)
@given(hit_cases())
def test_perfect_ranking_has_ndcg_one(case):
    _, n_rel, k = case
    K = k
    perfect = np.arange(K)[None, :] < np.minimum(n_rel, K)[:, None]
    np.testing.assert_allclose(M.ndcg_at_k(perfect, n_rel, k, per_user=True), 1.0)
    np.testing.assert_allclose(M.map_at_k(perfect, n_rel, k, per_user=True), 1.0)


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 5)).flatmap(
        lambda s: st.tuples(
            hnp.arrays(float, (s[0], s[1]), elements=tie_floats),
            hnp.arrays(float, (s[0], s[2]), elements=tie_floats),
        )
    )
)
def test_auc_matches_brute_force(arrays):
    pos, neg = arrays
    got = M.auc(pos, neg, per_user=True)
    want = [bf_auc(p, q) for p, q in zip(pos.tolist(), neg.tolist(), strict=True)]
    np.testing.assert_allclose(got, want)
    assert M.auc(pos, neg) == pytest.approx(np.mean(want))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            hnp.arrays(float, n, elements=tie_floats),
            hnp.arrays(float, (n, 5), elements=tie_floats),
            st.sampled_from(M.TIE_RULES),
        )
    )
)
def test_rank_of_positive_matches_brute_force(args):
    pos, neg, ties = args
    got = M.rank_of_positive(pos, neg, ties)
    want = [
        bf_rank(p, q, ties) for p, q in zip(pos.tolist(), neg.tolist(), strict=True)
    ]
    assert got.tolist() == want
    # pessimistic >= optimistic, and the gap is the number of tied negatives
    gap = M.rank_of_positive(pos, neg, "pessimistic") - M.rank_of_positive(
        pos, neg, "optimistic"
    )
    assert gap.tolist() == (neg == pos[:, None]).sum(axis=1).tolist()


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(float, st.integers(1, 20), elements=st.floats(-5, 5)),
    st.data(),
)
def test_rmse_mae_match_brute_force(y, data):
    y_hat = data.draw(hnp.arrays(float, y.shape, elements=st.floats(-5, 5)))
    n = len(y)
    want_rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(y, y_hat, strict=True)) / n)
    want_mae = sum(abs(a - b) for a, b in zip(y, y_hat, strict=True)) / n
    assert M.rmse(y, y_hat) == pytest.approx(want_rmse, abs=1e-12)
    assert M.mae(y, y_hat) == pytest.approx(want_mae, abs=1e-12)
    assert M.mae(y, y_hat) <= M.rmse(y, y_hat) + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(2, 9), st.data())
def test_hits_from_ranked_matches_sets(n_users, K, n_items, data):
    ranked = np.stack(
        [
            data.draw(st.permutations(list(range(n_items)))).copy()[: min(K, n_items)]
            for _ in range(n_users)
        ]
    )
    rel = [
        sorted(data.draw(st.sets(st.integers(0, n_items - 1), max_size=n_items)))
        for _ in range(n_users)
    ]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rel])])
    indices = np.array([i for r in rel for i in r], dtype=np.int64)
    hits, n_rel = M.hits_from_ranked(ranked, indptr, indices)
    want = [
        [int(i) in set(r) for i in row]
        for row, r in zip(ranked.tolist(), rel, strict=True)
    ]
    assert hits.tolist() == want
    assert n_rel.tolist() == [len(r) for r in rel]
    # ranks of relevant items -> the same hit matrix
    ranks, ptr = [], [0]
    for row, r in zip(ranked.tolist(), rel, strict=True):
        pos = {item: p for p, item in enumerate(row)}
        ranks += [pos.get(i, 10**6) for i in r]
        ptr.append(len(ranks))
    hits2, n_rel2 = M.hits_from_ranks(
        np.array(ranks, dtype=np.int64), ptr, ranked.shape[1]
    )
    assert hits2.tolist() == want and n_rel2.tolist() == n_rel.tolist()


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_argument():
    hits = np.array([[True, False]])
    with pytest.raises(ValueError, match="k=0"):
        M.ndcg_at_k(hits, [1], k=0)
    with pytest.raises(ValueError, match="k=3 is larger"):
        M.hit_rate_at_k(hits, k=3)
    with pytest.raises(ValueError, match="n_relevant has shape"):
        M.recall_at_k(hits, [1, 2])
    with pytest.raises(ValueError, match=r"n_relevant\[0\] = 0"):
        M.recall_at_k(np.array([[False, False]]), [0])
    with pytest.raises(ValueError, match="n_relevant is required"):
        M.ndcg_at_k(hits, None)
    with pytest.raises(ValueError, match=r"n_relevant\[0\] = 0 but hits row 0 has 1"):
        M.precision_at_k(hits, [0])
    with pytest.raises(ValueError, match="hits must be 2-d"):
        M.mrr(np.array([True, False]))
    with pytest.raises(ValueError, match="hits must be boolean"):
        M.mrr(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="y_hat contains NaN"):
        M.rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="y has shape"):
        M.mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="y is empty"):
        M.rmse([], [])
    with pytest.raises(ValueError, match="neg_scores contains NaN"):
        M.auc([1.0], [[np.nan]])
    with pytest.raises(ValueError, match="pos_scores has 2 users"):
        M.auc([1.0, 2.0], [[0.0]])
    with pytest.raises(ValueError, match="ties='random'"):
        M.rank_of_positive([1.0], [[0.0]], ties="random")
    with pytest.raises(ValueError, match="pos_scores has 1 entries"):
        M.rank_of_positive([1.0], [[0.0], [1.0]])
    with pytest.raises(ValueError, match="recommended_ids holds item 5"):
        M.catalog_coverage([1, 5], 5)
    with pytest.raises(ValueError, match="n_items=0"):
        M.catalog_coverage([0], 0)
    with pytest.raises(ValueError, match="indptr has shape"):
        M.hits_from_ranked(np.array([[0, 1]]), [0, 1, 2], [0, 1])
