"""Differential tests: every public metric of :mod:`minirec.metrics`, every protocol of
:mod:`minirec.evaluation` and :func:`minirec.models.base.top_k` against an independent
implementation, on seeded hypothesis cases (float64) with ties and extreme values.

References: scikit-learn (``roc_auc_score``, ``ndcg_score``, ``mean_squared_error``,
``mean_absolute_error``), pytrec_eval (trec_eval's ``success``, ``P``, ``recall``,
``ndcg_cut``, ``map_cut``, ``recip_rank``), ``scipy.stats.rankdata`` and plain Python
sets and sorts.

Where minirec's definition differs on purpose, the test says so and checks the
documented formula against the reference:

* MAP@k: minirec normalises AP@k by min(n_relevant, k), trec_eval's ``map_cut_k`` by
  n_relevant, so minirec's AP@k = trec's AP@k * n_relevant / min(n_relevant, k).
* Tie rule: minirec ranks a relevant item after (pessimistic) or before (optimistic)
  every irrelevant item of equal score; trec_eval breaks ties by document name and
  sklearn's ``ndcg_score`` averages over tied groups. The runs given to trec_eval
  therefore carry distinct scores that encode minirec's tie rule, and sklearn's
  tie-averaged NDCG must lie between minirec's pessimistic and optimistic values.
* MRR with a cut-off: trec_eval's ``recip_rank`` has none, so it reads the run
  truncated to the first k documents.
* sklearn rejects infinite scores: AUC references read the scores through
  ``rankdata``, which keeps their order and ties (AUC depends on nothing else).
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minirec import DataError, Interactions
from minirec import evaluation as ev
from minirec import evaluation_seq as evs
from minirec import metrics as M
from minirec.models.base import top_k
from minirec.models.sequential import SequentialRecommender

skm = pytest.importorskip(
    "sklearn.metrics", reason="scikit-learn is the reference (dev extra)"
)
pytrec_eval = pytest.importorskip(
    "pytrec_eval",
    reason="pytrec_eval (pytrec-eval-terrier) is the reference (dev extra)",
)
rankdata = pytest.importorskip(
    "scipy.stats", reason="scipy is the rank reference"
).rankdata

CASES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: scores that tie often and reach the ends of float64
_F = np.finfo(np.float64)
POOL = (0.0, -0.0, 1.0, 2.0, -1.0, 0.5, 1e-300, 5e-324, _F.max, _F.min, np.inf, -np.inf)
score = st.one_of(
    st.sampled_from(POOL),
    st.sampled_from(POOL),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)

#: the reference each public name of minirec.metrics / minirec.evaluation is checked by
REFERENCED = {
    "rmse": "test_rating_metrics_match_sklearn",
    "mae": "test_rating_metrics_match_sklearn",
    "hit_rate_at_k": "test_hit_matrix_metrics_match_trec_eval",
    "precision_at_k": "test_hit_matrix_metrics_match_trec_eval",
    "recall_at_k": "test_hit_matrix_metrics_match_trec_eval",
    "ndcg_at_k": "test_hit_matrix_metrics_match_trec_eval",
    "mrr": "test_hit_matrix_metrics_match_trec_eval",
    "map_at_k": "test_hit_matrix_metrics_match_trec_eval",
    "auc": "test_auc_matches_sklearn",
    "catalog_coverage": "test_catalog_coverage_matches_sets",
    "rank_of_positive": "test_rank_of_positive_matches_rankdata",
    "leave_one_out_metrics": "test_leave_one_out_metrics_match_trec_eval",
    "hits_from_ranked": "test_hits_from_ranked_matches_sets",
    "hits_from_ranks": "test_hits_from_ranks_matches_sets",
    "TIE_RULES": "test_rank_of_positive_matches_rankdata",
    "EvalResult": "test_full_protocol_matches_trec_eval_and_sklearn",
    "evaluate_ratings": "test_rating_protocol_matches_sklearn",
    "evaluate_sampled": "test_sampled_protocol_matches_trec_eval_and_sklearn",
    "evaluate_full": "test_full_protocol_matches_trec_eval_and_sklearn",
    "cross_validate": "test_cross_validate_matches_numpy_statistics",
    # minirec.evaluation_seq (its sampled protocol draws its negatives inside; its
    # ranks are rank_of_positive's, checked above)
    "evaluate_next_item": "test_next_item_protocol_matches_trec_eval",
}


def test_every_public_name_has_a_reference():
    """A new metric or protocol without a reference test fails here."""
    for mod in (M, ev):
        public = {
            n
            for n, v in vars(mod).items()
            if not n.startswith("_")
            and not isinstance(v, types.ModuleType)
            and getattr(v, "__module__", mod.__name__) == mod.__name__
            and (callable(v) or n.isupper())
        }
        assert set(mod.__all__) == public, f"{mod.__name__}.__all__ != its names"
        missing = set(mod.__all__) - set(REFERENCED)
        assert not missing, f"{mod.__name__}: no reference test for {sorted(missing)}"
    for test in REFERENCED.values():
        assert callable(globals().get(test)), test


# ---------------------------------------------------------------------------- helpers
def grid(draw, el, *shape) -> list:
    """Nested lists of the given shape, every entry drawn from strategy `el`."""
    if not shape:
        return draw(el)
    return [grid(draw, el, *shape[1:]) for _ in range(shape[0])]


def trec(qrels: dict, run: dict, measures: set) -> dict:
    """pytrec_eval's per-query results."""
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)


def ordered_run(docs: list, order_keys: list) -> dict:
    """A trec run whose distinct scores put `docs` in ascending `order_keys` order."""
    pos = sorted(range(len(docs)), key=order_keys.__getitem__)
    return {docs[j]: float(len(docs) - p) for p, j in enumerate(pos)}


def for_sklearn(x: np.ndarray) -> np.ndarray:
    """x when finite, else its ranks (same order and ties); sklearn rejects inf."""
    x = np.asarray(x, dtype=np.float64)
    return x if np.isfinite(x).all() else rankdata(x)


def ranking(scores, relevant, ties: str) -> list:
    """Candidate positions best first: by score, then (tie rule) relevant after
    (pessimistic) or before (optimistic) irrelevant ones, then position."""
    late = 1 if ties == "pessimistic" else -1
    return sorted(
        range(len(scores)), key=lambda j: (-scores[j], late * bool(relevant[j]), j)
    )


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


# ---------------------------------------------------------------------------- top_k
@CASES
@given(st.data())
def test_top_k_is_a_stable_descending_sort(data):
    """The k largest, ties by smaller index (also at the cut-off), NaN last: the first
    k of Python's stable sort by (is NaN, -score)."""
    n_rows = data.draw(st.integers(1, 5))
    n = data.draw(st.integers(1, 30))
    k = data.draw(st.integers(1, n + 2))
    kind = data.draw(st.sampled_from(["float64", "float32", "int64", "uint8", "bool"]))
    if kind.startswith("float"):
        el = st.one_of(score, st.just(np.nan))
    elif kind == "bool":
        el = st.booleans()
    else:
        info = np.iinfo(kind)
        el = st.one_of(st.sampled_from([info.min, info.max, 0, 1]), st.integers(0, 3))
    rows = grid(data.draw, el, n_rows, n)
    with np.errstate(over="ignore"):  # float64 extremes become +-inf in float32
        S = np.array(rows, dtype=kind)
    ref = [
        sorted(range(n), key=lambda j: (bool(np.isnan(float(r[j]))), -float(r[j]), j))
        for r in S
    ]
    assert top_k(S, k).tolist() == [r[:k] for r in ref]


def test_top_k_ties_at_the_cut_off_take_the_smaller_indices():
    """Many equal scores across the cut-off (argpartition alone picks any of them)."""
    rng = np.random.default_rng(0)
    S = rng.integers(0, 3, size=(64, 500)).astype(np.float64)
    want = np.argsort(-S, axis=1, kind="stable")[:, :7]
    assert np.array_equal(top_k(S, 7), want)


def test_top_k_errors_name_the_argument():
    for args, msg in (
        ((np.zeros(3), 1), "2-d"),
        ((np.zeros((2, 3)), 0), "k=0"),
        ((np.zeros((2, 3)), 1.5), "k=1.5"),
        ((np.array([["a"]]), 1), "real numbers"),
    ):
        with pytest.raises(ValueError, match=msg):
            top_k(*args)


# ---------------------------------------------------------------------------- ratings
@CASES
@given(
    st.lists(
        st.tuples(st.floats(-1e100, 1e100), st.floats(-1e100, 1e100)),
        min_size=1,
        max_size=30,
    )
)
def test_rating_metrics_match_sklearn(pairs):
    y, y_hat = np.array(pairs).T
    mse = skm.mean_squared_error(y, y_hat)
    assert math.isclose(M.rmse(y, y_hat), math.sqrt(mse), rel_tol=1e-12)
    assert math.isclose(
        M.mae(y, y_hat), skm.mean_absolute_error(y, y_hat), rel_tol=1e-12
    )


# -------------------------------------------------------------------------- hit matrix
@st.composite
def hit_matrices(draw):
    n_users = draw(st.integers(1, 6))
    K = draw(st.integers(1, 12))
    hits = np.array(grid(draw, st.booleans(), n_users, K), dtype=bool)
    extra = np.array(grid(draw, st.integers(0, 4), n_users))
    n_rel = hits.sum(axis=1) + extra
    n_rel[n_rel == 0] = 1  # trec_eval and the metrics need a relevant item per user
    return hits, n_rel, draw(st.integers(1, K))


@CASES
@given(hit_matrices())
def test_hit_matrix_metrics_match_trec_eval(case):
    """HR, Precision, Recall, NDCG, MAP, MRR@k of a hit matrix against trec_eval on the
    same ranked lists (rank r scored K - r; unretrieved relevant items in the qrels),
    NDCG also against sklearn's ndcg_score. MAP: the documented normaliser
    difference."""
    hits, n_rel, k = case
    n_users, K = hits.shape
    qrels, run, cut = {}, {}, {}
    for u in range(n_users):
        q = f"u{u}"
        qrels[q] = {f"r{r}": 1 for r in range(K) if hits[u, r]}
        qrels[q].update({f"m{j}": 1 for j in range(n_rel[u] - hits[u].sum())})
        run[q] = {f"r{r}": float(K - r) for r in range(K)}
        cut[q] = {f"r{r}": float(K - r) for r in range(k)}
    measures = {f"success.{k}", f"P.{k}", f"recall.{k}", f"ndcg_cut.{k}"}
    res = trec(qrels, run, measures | {f"map_cut.{k}"})
    rr = trec(qrels, cut, {"recip_rank"})
    ours = {
        f"success_{k}": M.hit_rate_at_k(hits, None, k, per_user=True),
        f"P_{k}": M.precision_at_k(hits, None, k, per_user=True),
        f"recall_{k}": M.recall_at_k(hits, n_rel, k, per_user=True),
        f"ndcg_cut_{k}": M.ndcg_at_k(hits, n_rel, k, per_user=True),
    }
    ap = M.map_at_k(hits, n_rel, k, per_user=True)
    mrr = M.mrr(hits, None, k, per_user=True)
    for u in range(n_users):
        q = f"u{u}"
        for name, v in ours.items():
            assert close(v[u], res[q][name]), (name, u)
        assert close(mrr[u], rr[q]["recip_rank"]), u
        # documented difference: min(n_relevant, k) instead of n_relevant
        trec_ap = res[q][f"map_cut_{k}"] * n_rel[u] / min(n_rel[u], k)
        assert close(ap[u], trec_ap), u
        # sklearn: the missing relevant items as columns after the ranked ones
        miss = n_rel[u] - hits[u].sum()
        y_true = np.concatenate([hits[u], np.ones(miss, bool), [False]])[None]
        y_score = -np.arange(y_true.shape[1], dtype=np.float64)[None]
        assert close(ours[f"ndcg_cut_{k}"][u], skm.ndcg_score(y_true, y_score, k=k))
    assert close(M.ndcg_at_k(hits, n_rel, k), float(np.mean(ours[f"ndcg_cut_{k}"])))


@CASES
@given(st.data())
def test_auc_matches_sklearn(data):
    n_users = data.draw(st.integers(1, 4))
    p = data.draw(st.integers(1, 4))
    m = data.draw(st.integers(1, 8))
    pos = np.array(grid(data.draw, score, n_users, p))
    neg = np.array(grid(data.draw, score, n_users, m))
    got = M.auc(pos, neg, per_user=True)
    y = np.r_[np.ones(p), np.zeros(m)]
    ref = [
        skm.roc_auc_score(y, for_sklearn(np.r_[pos[u], neg[u]])) for u in range(n_users)
    ]
    assert np.allclose(got, ref, rtol=0, atol=1e-12)
    if p == 1:
        assert np.allclose(
            M.auc(pos[:, 0], neg, per_user=True), ref, rtol=0, atol=1e-12
        )


@CASES
@given(st.data())
def test_rank_of_positive_matches_rankdata(data):
    """pessimistic: rankdata(-scores, 'max') - 1 of the positive among [positive] +
    valid negatives; optimistic: rankdata(..., 'min') - 1."""
    n = data.draw(st.integers(1, 5))
    m = data.draw(st.integers(1, 8))
    pos = np.array(grid(data.draw, score, n))
    neg = np.array(grid(data.draw, score, n, m))
    valid = np.array(grid(data.draw, st.booleans(), n, m))
    for ties, method in zip(M.TIE_RULES, ("max", "min"), strict=True):
        got = M.rank_of_positive(pos, neg, ties=ties, valid=valid)
        ref = [
            int(rankdata(-np.r_[pos[c], neg[c][valid[c]]], method=method)[0]) - 1
            for c in range(n)
        ]
        assert got.tolist() == ref, ties
        unmasked = [
            int(rankdata(-np.r_[pos[c], neg[c]], method=method)[0]) - 1
            for c in range(n)
        ]
        assert M.rank_of_positive(pos, neg, ties=ties).tolist() == unmasked


@CASES
@given(
    st.lists(st.integers(0, 300), min_size=1, max_size=12),
    st.lists(st.integers(1, 400), min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(1, 400)),
)
def test_leave_one_out_metrics_match_trec_eval(ranks, ks, mrr_k):
    """One relevant item at rank r, behind r higher-scored irrelevant ones; k may exceed
    every rank (all hits)."""
    qrels = {f"c{c}": {"t": 1} for c in range(len(ranks))}
    run = {}
    for c, r in enumerate(ranks):
        run[f"c{c}"] = {f"n{j}": float(r + 2 - j) for j in range(r)} | {"t": 1.0}
    measures = {f"success.{k}" for k in ks} | {f"ndcg_cut.{k}" for k in ks}
    res = trec(qrels, run, measures | {"recip_rank"})
    got = M.leave_one_out_metrics(np.array(ranks), tuple(ks), mrr_k)
    for k in ks:
        assert close(got[f"HR@{k}"], np.mean([res[q][f"success_{k}"] for q in res]))
        assert close(got[f"NDCG@{k}"], np.mean([res[q][f"ndcg_cut_{k}"] for q in res]))
    if mrr_k is None:
        assert close(got["MRR"], np.mean([res[q]["recip_rank"] for q in res]))
    else:
        cut = {
            q: dict(list(sorted(d.items(), key=lambda x: -x[1]))[:mrr_k])
            for q, d in run.items()
        }
        rr = trec(qrels, cut, {"recip_rank"})
        assert close(got[f"MRR@{mrr_k}"], np.mean([rr[q]["recip_rank"] for q in rr]))


@CASES
@given(st.data())
def test_catalog_coverage_matches_sets(data):
    n_items = data.draw(st.integers(1, 20))
    ids = data.draw(st.lists(st.integers(-2, n_items - 1), max_size=40))
    ref = len({i for i in ids if i >= 0}) / n_items
    assert M.catalog_coverage(np.array(ids, dtype=np.int64), n_items) == ref


@CASES
@given(st.data())
def test_hits_from_ranked_matches_sets(data):
    n_users = data.draw(st.integers(1, 5))
    K = data.draw(st.integers(1, 8))
    n_items = data.draw(st.integers(1, 15))
    ranked = np.array(grid(data.draw, st.integers(-1, n_items - 1), n_users, K))
    rel = grid(data.draw, st.lists(st.integers(0, n_items - 1), max_size=6), n_users)
    indptr = np.cumsum([0] + [len(r) for r in rel])
    indices = np.array([i for r in rel for i in r], dtype=np.int64)
    hits, n_rel = M.hits_from_ranked(ranked, indptr, indices)
    ref = [[i >= 0 and i in set(rel[u]) for i in ranked[u]] for u in range(n_users)]
    assert hits.tolist() == ref
    assert n_rel.tolist() == [len(set(r)) for r in rel]


@CASES
@given(st.data())
def test_hits_from_ranks_matches_sets(data):
    n_users = data.draw(st.integers(1, 5))
    K = data.draw(st.integers(1, 8))
    ranks = grid(data.draw, st.sets(st.integers(0, 12), max_size=5), n_users)
    indptr = np.cumsum([0] + [len(r) for r in ranks])
    flat = np.array([r for rs in ranks for r in sorted(rs)], dtype=np.int64)
    hits, n_rel = M.hits_from_ranks(flat, indptr, K)
    assert hits.tolist() == [[r in ranks[u] for r in range(K)] for u in range(n_users)]
    assert n_rel.tolist() == [len(r) for r in ranks]


# ---------------------------------------------------------------------------- protocols
class FixedScores:
    """Test double: a fixed float64 (n_users, n_items) score table (no float32 cast)."""

    predicts_ratings = True

    def __init__(self, S: np.ndarray) -> None:
        self.S = np.asarray(S, dtype=np.float64)
        self.n_users, self.n_items = self.S.shape

    def score_items(self, u):
        return self.S[np.asarray(u)]

    def predict_pairs(self, u, i):
        return self.S[np.asarray(u), np.asarray(i)]


def interactions(pairs, n_users, n_items, ratings=None) -> Interactions:
    u = np.array([p[0] for p in pairs], dtype=np.int64)
    i = np.array([p[1] for p in pairs], dtype=np.int64)
    r = np.ones(len(pairs)) if ratings is None else np.asarray(ratings, np.float64)
    return Interactions.from_arrays(
        u,
        i,
        r,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        duplicates="keep",
    )


@st.composite
def full_cases(draw):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(2, 10))
    S = np.array(grid(draw, score, n_users, n_items))
    cell = st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1))
    train = draw(st.lists(cell, min_size=1, max_size=n_users * n_items))
    # repeats and train items among the test items on purpose; some users get none
    test = draw(st.lists(cell, min_size=1, max_size=2 * n_users))
    ratings = [draw(st.integers(1, 5)) for _ in test]
    threshold = draw(st.sampled_from([None, None, 3.0]))
    ks = tuple(draw(st.sets(st.integers(1, n_items), min_size=1, max_size=3)))
    batch = draw(st.integers(1, 3))  # users scored at once
    ties = draw(st.sampled_from(M.TIE_RULES))
    return S, train, (test, ratings, threshold), ks, ties, batch


@settings(CASES, max_examples=80)
@given(full_cases())
def test_full_protocol_matches_trec_eval_and_sklearn(case):
    """Per user with a test item: candidates = items not in its training set, plus its
    test items (never masked); k may exceed the candidates. The ranking (minirec's tie
    rule encoded as distinct scores) goes to trec_eval; AUC to roc_auc_score; the tie
    rule is bracketed by sklearn's tie-averaged ndcg_score; coverage is the union of
    the first k candidates by (-score, item index)."""
    S, train_pairs, (test_pairs, ratings, thr), ks, ties, batch = case
    n_users, n_items = S.shape
    train = interactions(train_pairs, n_users, n_items)
    test = interactions(test_pairs, n_users, n_items, ratings)
    rel = {u: set() for u in range(n_users)}
    for (u, i), r in zip(test_pairs, ratings, strict=True):
        if thr is None or r >= thr:
            rel[u].add(i)  # relevant: a test row of (u, i) at or above the threshold
    users = [u for u in range(n_users) if rel[u]]
    if not users:
        with pytest.raises(DataError, match="no test user has a relevant item"):
            ev.evaluate_full(FixedScores(S), test, train, ks, relevance_threshold=thr)
        return
    res = ev.evaluate_full(
        FixedScores(S),
        test,
        train=train,
        ks=ks,
        ties=ties,
        batch=batch,
        relevance_threshold=thr,
    )
    assert isinstance(res, ev.EvalResult) and res.protocol == "full"

    seen = {u: {i for uu, i in train_pairs if uu == u} for u in range(n_users)}
    qrels, run, other, aucs = {}, {}, {}, []
    covered = {k: set() for k in ks}
    for u in users:
        cand = [i for i in range(n_items) if i not in seen[u] or i in rel[u]]
        sc = [S[u, i] for i in cand]
        is_rel = [i in rel[u] for i in cand]
        docs = [f"i{i}" for i in cand]
        q = f"u{u}"
        qrels[q] = {f"i{i}": 1 for i in rel[u]}
        order = ranking(sc, is_rel, ties)
        run[q] = ordered_run(docs, [order.index(j) for j in range(len(cand))])
        flip = ranking(
            sc, is_rel, "optimistic" if ties == "pessimistic" else "pessimistic"
        )
        other[q] = ordered_run(docs, [flip.index(j) for j in range(len(cand))])
        if not all(is_rel):
            aucs.append(skm.roc_auc_score(is_rel, for_sklearn(sc)))
        by_index = sorted(range(len(cand)), key=lambda j: (-sc[j], j))
        for k in ks:
            covered[k] |= {cand[j] for j in by_index[:k]}
    measures = {
        f"{m}.{k}"
        for k in ks
        for m in ("success", "P", "recall", "ndcg_cut", "map_cut")
    }
    ref = trec(qrels, run, measures | {"recip_rank"})
    ref_other = trec(qrels, other, {f"ndcg_cut.{k}" for k in ks})

    def mean(name):
        return float(np.mean([ref[f"u{u}"][name] for u in users]))

    got = res.metrics
    assert res.n_users == len(users)
    assert res.n_test == sum(len(rel[u]) for u in users)
    for k in ks:
        assert close(got[f"HR@{k}"], mean(f"success_{k}"))
        assert close(got[f"Precision@{k}"], mean(f"P_{k}"))
        assert close(got[f"Recall@{k}"], mean(f"recall_{k}"))
        assert close(got[f"NDCG@{k}"], mean(f"ndcg_cut_{k}"))
        # documented difference: AP@k normalised by min(n_relevant, k)
        ap = [
            ref[f"u{u}"][f"map_cut_{k}"] * len(rel[u]) / min(len(rel[u]), k)
            for u in users
        ]
        assert close(got[f"MAP@{k}"], float(np.mean(ap)))
        assert got[f"Coverage@{k}"] == len(covered[k]) / n_items
        # tie rule: sklearn's tie-averaged NDCG lies between the two rules
        sk = []
        for u in users:
            cand = [i for i in range(n_items) if i not in seen[u] or i in rel[u]]
            if len(cand) < 2:  # ndcg_score needs two documents; one is exact anyway
                sk.append(ref[f"u{u}"][f"ndcg_cut_{k}"])
                continue
            y = np.array([[i in rel[u] for i in cand]], dtype=np.float64)
            sk.append(skm.ndcg_score(y, for_sklearn(S[u, cand])[None], k=k))
        lo, hi = (
            got[f"NDCG@{k}"],
            float(np.mean([ref_other[f"u{u}"][f"ndcg_cut_{k}"] for u in users])),
        )
        if ties == "optimistic":
            lo, hi = hi, lo
        assert lo - 1e-12 <= float(np.mean(sk)) <= hi + 1e-12
    assert close(got["MRR"], mean("recip_rank"))
    if aucs:
        assert close(got["AUC"], float(np.mean(aucs)))
    else:
        assert "AUC" not in got


@CASES
@given(st.data())
def test_sampled_protocol_matches_trec_eval_and_sklearn(data):
    """1+m cases (negatives drawn with repeats, some equal to the positive, which is
    dropped); k may exceed 1 + m."""
    n_users = data.draw(st.integers(1, 4))
    n_items = data.draw(st.integers(2, 9))
    S = np.array(grid(data.draw, score, n_users, n_items))
    n = data.draw(st.integers(1, 6))
    m = data.draw(st.integers(1, 6))
    users = np.array(grid(data.draw, st.integers(0, n_users - 1), n))
    pos = np.array(grid(data.draw, st.integers(0, n_items - 1), n))
    neg = np.array(grid(data.draw, st.integers(0, n_items - 1), n, m))
    keep = neg != pos[:, None]
    if not keep.any(axis=1).all():
        with pytest.raises(ValueError, match="every negative equals the positive"):
            ev.evaluate_sampled(FixedScores(S), users, pos, neg, ks=(1,))
        return
    ks = tuple(data.draw(st.sets(st.integers(1, m + 3), min_size=1, max_size=3)))
    ties = data.draw(st.sampled_from(M.TIE_RULES))
    res = ev.evaluate_sampled(FixedScores(S), users, pos, neg, ks=ks, ties=ties)
    assert res.protocol == f"sampled(1+{m})" and res.n_test == n

    qrels, run, aucs = {}, {}, []
    for c in range(n):
        negs = neg[c][keep[c]]
        sc = [S[users[c], pos[c]]] + [S[users[c], j] for j in negs]
        docs = ["pos"] + [f"n{j}" for j in range(len(negs))]
        order = ranking(sc, [True] + [False] * len(negs), ties)
        qrels[f"c{c}"] = {"pos": 1}
        run[f"c{c}"] = ordered_run(docs, [order.index(j) for j in range(len(docs))])
        aucs.append(skm.roc_auc_score([1] + [0] * len(negs), for_sklearn(sc)))
    measures = {f"success.{k}" for k in ks} | {f"ndcg_cut.{k}" for k in ks}
    ref = trec(qrels, run, measures | {"recip_rank"})
    for k in ks:
        assert close(
            res.metrics[f"HR@{k}"], np.mean([r[f"success_{k}"] for r in ref.values()])
        )
        assert close(
            res.metrics[f"NDCG@{k}"],
            np.mean([r[f"ndcg_cut_{k}"] for r in ref.values()]),
        )
    assert close(res.metrics["MRR"], np.mean([r["recip_rank"] for r in ref.values()]))
    assert close(res.metrics["AUC"], float(np.mean(aucs)))


@CASES
@given(st.data())
def test_rating_protocol_matches_sklearn(data):
    n_users = data.draw(st.integers(1, 4))
    n_items = data.draw(st.integers(1, 5))
    fin = st.floats(-1e100, 1e100)
    S = np.array(grid(data.draw, fin, n_users, n_items))
    cells = data.draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
            min_size=1,
            max_size=12,
        )
    )
    y = [data.draw(st.floats(-5, 5)) for _ in cells]
    res = ev.evaluate_ratings(FixedScores(S), interactions(cells, n_users, n_items, y))
    # the Interactions orders the rows: read the pairs back from it
    test = interactions(cells, n_users, n_items, y)
    y_hat = S[test.users, test.items]
    ref_mse = skm.mean_squared_error(test.ratings, y_hat)
    assert math.isclose(res.metrics["RMSE"], math.sqrt(ref_mse), rel_tol=1e-12)
    assert math.isclose(
        res.metrics["MAE"], skm.mean_absolute_error(test.ratings, y_hat), rel_tol=1e-12
    )
    assert sorted(zip(test.users.tolist(), test.items.tolist(), strict=True)) == sorted(
        cells
    )


def test_cross_validate_matches_numpy_statistics():
    """Mean and sample standard deviation (ddof=1) over the folds' own results."""
    rng = np.random.default_rng(0)
    n_users, n_items = 6, 8
    S = rng.integers(0, 3, size=(n_users, n_items)).astype(np.float64)
    folds = []
    for _ in range(3):
        cells = {
            (int(u), int(i)) for u, i in rng.integers(0, [n_users, n_items], (20, 2))
        }
        cells = sorted(cells)
        cut = len(cells) // 2
        folds.append(
            (
                interactions(cells[:cut], n_users, n_items),
                interactions(cells[cut:], n_users, n_items),
            )
        )

    class Fitted(FixedScores):
        def fit(self, data):
            return self

    def evaluate(model, train, test):
        return ev.evaluate_full(model, test, train=train, ks=(3,))

    res = ev.cross_validate(lambda: Fitted(S), folds, evaluate)
    each = [evaluate(Fitted(S), tr, te).metrics for tr, te in folds]
    for name, v in res.metrics.items():
        vals = [e[name] for e in each]
        assert close(v, float(np.mean(vals))), name
        assert close(res.std[name], float(np.std(vals, ddof=1))), name


class LastItemTable(SequentialRecommender):
    """Test double: the scores after a prefix are row `last item` of a fixed float64
    table W (set after fit)."""

    def __init__(self) -> None:
        pass

    def _fit_sequences(self, indptr, items):
        self.W = np.zeros((self.n_items, self.n_items))

    def _score_prefixes(self, prefixes):
        return self.W[[p[-1] for p in prefixes]]


@CASES
@given(st.data())
def test_next_item_protocol_matches_trec_eval(data):
    """Every (prefix, next item) event of the test sessions, over the full catalog:
    Recall@k = trec_eval's recall_k (one relevant item), MRR@k = recip_rank of the run
    truncated to k; the target is not among its own competitors. Finite scores only:
    the protocol refuses inf."""
    n_items = data.draw(st.integers(2, 8))
    item = st.integers(0, n_items - 1)
    train = [list(range(n_items))]  # every item known
    test = data.draw(
        st.lists(st.lists(item, min_size=2, max_size=5), min_size=1, max_size=4)
    )
    k = data.draw(st.integers(1, n_items + 2))
    ties = data.draw(st.sampled_from(M.TIE_RULES))
    m = LastItemTable().fit([np.array(t) for t in train])
    finite = st.sampled_from([v for v in POOL if np.isfinite(v)])
    m.W = np.array(grid(data.draw, finite, n_items, n_items))
    res = evs.evaluate_next_item(m, [np.array(t) for t in test], k=k, ties=ties)

    qrels, run = {}, {}
    for a, sess in enumerate(test):
        idx = m.item_index(np.array(sess), unknown="skip")
        for t in range(len(idx) - 1):
            q, sc, tgt = f"e{a}.{t}", m.W[idx[t]], idx[t + 1]
            order = ranking(list(sc), [j == tgt for j in range(n_items)], ties)
            qrels[q] = {f"i{tgt}": 1}
            run[q] = {f"i{j}": float(n_items - p) for p, j in enumerate(order[:k])}
    ref = trec(qrels, run, {f"recall.{k}", "recip_rank"})
    assert res.n_test == len(ref)
    assert close(
        res.metrics[f"Recall@{k}"], np.mean([r[f"recall_{k}"] for r in ref.values()])
    )
    assert close(
        res.metrics[f"MRR@{k}"], np.mean([r["recip_rank"] for r in ref.values()])
    )
