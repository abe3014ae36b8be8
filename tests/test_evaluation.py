"""Evaluation protocols: brute-force agreement, tie rule, baselines, errors, data."""

from __future__ import annotations

import json
import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirec import DataError, Interactions, Recommender
from minirec import evaluation as ev
from minirec.models.baselines import BiasedBaseline, GlobalMean, Popularity, Random


class Table(Recommender):
    """Test double: scores come from a fixed (n_users, n_items) table set after fit."""

    name = "table"
    predicts_ratings = True

    def __init__(self) -> None:
        pass

    def _fit(self, data: Interactions) -> None:
        self.S = np.zeros(data.shape, dtype=np.float32)

    def _score(self, u: np.ndarray) -> np.ndarray:
        return self.S[u]

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.S[u, i]


def table_model(train: Interactions, S: np.ndarray) -> Table:
    m = Table().fit(train)
    m.S = np.asarray(S, dtype=np.float32)
    return m


def build(rows, n_users, n_items, name="tiny"):
    """Interactions over the fixed catalogs 0..n_users-1 x 0..n_items-1."""
    rows = list(rows)
    u = np.array([r[0] for r in rows], dtype=np.int64)
    i = np.array([r[1] for r in rows], dtype=np.int64)
    r = np.array([r[2] for r in rows], dtype=np.float64)
    return Interactions.from_arrays(
        u, i, r, user_ids=np.arange(n_users), item_ids=np.arange(n_items), name=name
    )


@pytest.fixture(scope="module")
def planted():
    """Users pick items with a strongly skewed popularity: Popularity must win."""
    rng = np.random.default_rng(7)
    n_users, n_items, per_user = 120, 60, 12
    p = np.exp(-np.arange(n_items) / 8.0)
    p /= p.sum()
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, per_user, replace=False, p=p):
            rows.append((u, int(i), float(rng.integers(1, 6))))
    data = build(rows, n_users, n_items, name="planted")
    perm = rng.permutation(len(data))
    cut = int(0.8 * len(data))
    train, test = data.subset(perm[:cut]), data.subset(perm[cut:])
    return data, train, test


def sample_negatives(train, test, m, seed=0):
    """m items per test pair that the user has not interacted with (in train/test)."""
    rng = np.random.default_rng(seed)
    seen = [set() for _ in range(train.n_users)]
    for d in (train, test):
        for u, i in zip(d.users.tolist(), d.items.tolist(), strict=True):
            seen[u].add(i)
    out = np.empty((len(test), m), dtype=np.int64)
    for c, u in enumerate(test.users.tolist()):
        pool = np.array([i for i in range(train.n_items) if i not in seen[u]])
        out[c] = rng.choice(pool, m, replace=len(pool) < m)
    return out


# ---------------------------------------------------------------------- brute force
def brute_full(S, train_rows, test_rows, n_users, n_items, ks, ties, exclude, thr):
    """Per-user Python reference of the full-ranking protocol."""
    per = {
        f"{n}@{k}": [] for k in ks for n in ("HR", "Precision", "Recall", "NDCG", "MAP")
    }
    per["MRR"], per["AUC"] = [], []
    for u in range(n_users):
        rel = {i for (uu, i, r) in test_rows if uu == u and (thr is None or r >= thr)}
        if not rel:
            continue
        trained = {i for (uu, i, _) in train_rows if uu == u}
        masked = (trained - rel) if exclude else set()
        cand = [i for i in range(n_items) if i not in masked]

        def key(i, u=u, rel=rel):
            flag = i in rel
            return (-float(S[u, i]), flag if ties == "pessimistic" else not flag)

        order = sorted(cand, key=key)
        row = [i in rel for i in order] + [False] * n_items
        n_rel = len(rel)
        for k in ks:
            top = row[:k]
            per[f"HR@{k}"].append(float(any(top)))
            per[f"Precision@{k}"].append(sum(top) / k)
            per[f"Recall@{k}"].append(sum(top) / n_rel)
            dcg = sum(1 / math.log2(r + 2) for r in range(k) if top[r])
            idcg = sum(1 / math.log2(r + 2) for r in range(min(n_rel, k)))
            per[f"NDCG@{k}"].append(dcg / idcg)
            found, ap = 0, 0.0
            for r in range(k):
                if top[r]:
                    found += 1
                    ap += found / (r + 1)
            per[f"MAP@{k}"].append(ap / min(n_rel, k))
        per["MRR"].append(1 / (row.index(True) + 1))
        neg = [i for i in cand if i not in rel]
        if neg:
            s = 0.0
            for i in rel:
                for j in neg:
                    a, b = float(S[u, i]), float(S[u, j])
                    s += 1.0 if a > b else 0.5 if a == b else 0.0
            per["AUC"].append(s / (len(rel) * len(neg)))
    return {k: float(np.mean(v)) for k, v in per.items() if v}


tie_scores = st.sampled_from([0.0, 1.0, 2.0, 3.0])


@st.composite
def full_cases(draw):
    n_users = draw(st.integers(1, 5))
    n_items = draw(st.integers(3, 8))
    cells = [(u, i) for u in range(n_users) for i in range(n_items)]
    train_cells = draw(st.lists(st.sampled_from(cells), min_size=1, unique=True))
    test_cells = draw(st.lists(st.sampled_from(cells), min_size=1, unique=True))
    rating = st.sampled_from([1.0, 3.0, 5.0])
    train_rows = [(u, i, draw(rating)) for u, i in train_cells]
    test_rows = [(u, i, draw(rating)) for u, i in test_cells]
    S = draw(hnp.arrays(np.float32, (n_users, n_items), elements=tie_scores))
    ties = draw(st.sampled_from(["pessimistic", "optimistic"]))
    exclude = draw(st.booleans())
    thr = draw(st.sampled_from([None, 3.0]))
    batch = draw(st.integers(1, 3))
    return n_users, n_items, train_rows, test_rows, S, ties, exclude, thr, batch


@settings(max_examples=120, deadline=None)
@given(full_cases())
def test_full_protocol_matches_brute_force(case):
    n_users, n_items, train_rows, test_rows, S, ties, exclude, thr, batch = case
    train = build(train_rows, n_users, n_items)
    test = build(test_rows, n_users, n_items)
    model = table_model(train, S)
    ks = (1, 3)
    want = brute_full(
        S, train_rows, test_rows, n_users, n_items, ks, ties, exclude, thr
    )
    if not want:  # no user has a relevant item
        with pytest.raises(DataError, match="no test user has a relevant item"):
            ev.evaluate_full(model, test, train, ks=ks, relevance_threshold=thr)
        return
    res = ev.evaluate_full(
        model,
        test,
        train,
        ks=ks,
        exclude_train=exclude,
        batch=batch,
        ties=ties,
        relevance_threshold=thr,
    )
    assert res.protocol == "full" and res.ties == ties
    for k, v in want.items():
        assert res.metrics[k] == pytest.approx(v, abs=1e-9), k
    assert ("AUC" in res.metrics) == ("AUC" in want)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["pessimistic", "optimistic"]))
def test_full_protocol_on_rows_longer_than_a_block(seed, ties):
    """Rows of several of the kernel's blocks (ties, -inf, training items and
    test items anywhere in them) against the brute force, coverage included."""
    rng = np.random.default_rng(seed)
    n_users, n_items = int(rng.integers(2, 6)), int(rng.integers(17, 90))
    cells = rng.permutation(n_users * n_items)
    n_train = int(rng.integers(1, len(cells) // 2))
    n_test = int(rng.integers(1, len(cells) // 3))
    overlap = min(n_train, n_test // 3)  # test items that are training items too
    tr, te = cells[:n_train], cells[n_train - overlap : n_train + n_test]
    train_rows = [(int(c // n_items), int(c % n_items), 5.0) for c in tr]
    test_rows = [(int(c // n_items), int(c % n_items), 5.0) for c in te]
    S = rng.choice(np.array([-np.inf, 0.0, 1.0, 2.0, 3.0], np.float32),
                   (n_users, n_items), p=[0.1, 0.5, 0.2, 0.1, 0.1])  # fmt: skip
    train = build(train_rows, n_users, n_items)
    test = build(test_rows, n_users, n_items)
    ks = (1, 5)
    want = brute_full(S, train_rows, test_rows, n_users, n_items, ks, ties, True, None)
    res = ev.evaluate_full(table_model(train, S), test, train, ks=ks, ties=ties,
                           batch=int(rng.integers(1, 4)))  # fmt: skip
    for k, v in want.items():
        assert res.metrics[k] == pytest.approx(v, abs=1e-9), k
    seen = {(u, i) for u, i, _ in train_rows}
    rel = {(u, i) for u, i, _ in test_rows}
    for k in ks:
        covered = set()
        for u in {u for u, _ in rel}:
            cand = [i for i in range(n_items) if (u, i) not in seen or (u, i) in rel]
            covered |= set(sorted(cand, key=lambda i: (-float(S[u, i]), i))[:k])
        assert res.metrics[f"Coverage@{k}"] == pytest.approx(len(covered) / n_items)


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
        lambda s: st.tuples(
            hnp.arrays(np.float32, (4, 8), elements=tie_scores),
            hnp.arrays(np.int64, s[0], elements=st.integers(0, 3)),
            hnp.arrays(np.int64, s[0], elements=st.integers(0, 7)),
            hnp.arrays(np.int64, (s[0], s[1]), elements=st.integers(0, 7)),
            st.sampled_from(["pessimistic", "optimistic"]),
            st.booleans(),
        )
    )
)
def test_sampled_protocol_matches_brute_force(args):
    S, users, pos, neg, ties, drop = args
    if drop and (neg == pos[:, None]).all(axis=1).any():
        return  # every negative is the positive: an error case, tested elsewhere
    train = build([(u, 0, 1.0) for u in range(4)] + [(0, 7, 1.0)], 4, 8)
    model = table_model(train, S)
    res = ev.evaluate_sampled(
        model, users, pos, neg, ks=(1, 5), ties=ties, drop_positive_negatives=drop
    )
    hr1, hr5, nd5, rr, auc = [], [], [], [], []
    for u, p, row in zip(users.tolist(), pos.tolist(), neg.tolist(), strict=True):
        negs = [j for j in row if not (drop and j == p)]
        sp = float(S[u, p])
        sn = [float(S[u, j]) for j in negs]
        rank = sum(s > sp or (ties == "pessimistic" and s == sp) for s in sn)
        hr1.append(rank < 1)
        hr5.append(rank < 5)
        nd5.append(1 / math.log2(rank + 2) if rank < 5 else 0.0)
        rr.append(1 / (rank + 1))
        auc.append(sum(1.0 if sp > s else 0.5 if sp == s else 0 for s in sn) / len(sn))
    assert res.protocol == f"sampled(1+{neg.shape[1]})"
    assert res.metrics["HR@1"] == pytest.approx(np.mean(hr1))
    assert res.metrics["HR@5"] == pytest.approx(np.mean(hr5))
    assert res.metrics["NDCG@5"] == pytest.approx(np.mean(nd5))
    assert res.metrics["MRR"] == pytest.approx(np.mean(rr))
    assert res.metrics["AUC"] == pytest.approx(np.mean(auc))


# ---------------------------------------------------------------------- protocols
def test_popularity_beats_random_on_planted_data(planted):
    _, train, test = planted
    pop = Popularity().fit(train)
    rnd = Random(seed=3).fit(train)
    full_p = ev.evaluate_full(pop, test, train)
    full_r = ev.evaluate_full(rnd, test, train)
    for k in ("HR@10", "NDCG@10", "Recall@20", "MRR", "AUC"):
        assert full_p.metrics[k] > full_r.metrics[k], k
    # Random is near its expectation: AUC ~ 0.5
    assert abs(full_r.metrics["AUC"] - 0.5) < 0.1
    # Random covers far more of the catalog than Popularity
    assert full_r.metrics["Coverage@10"] > 2 * full_p.metrics["Coverage@10"]
    neg = sample_negatives(train, test, 20)
    s_p = ev.evaluate_sampled(pop, test.users, test.items, neg)
    s_r = ev.evaluate_sampled(rnd, test.users, test.items, neg)
    assert s_p.metrics["HR@10"] > s_r.metrics["HR@10"] + 0.2
    assert s_p.metrics["AUC"] > 0.7 and abs(s_r.metrics["AUC"] - 0.5) < 0.1
    # sampled ranking is easier than full ranking
    assert s_p.metrics["HR@10"] > full_p.metrics["HR@10"]


def test_oracle_gets_hr1_equal_one(planted):
    _, train, test = planted
    S = test.to_dense() > 0  # the truth: 1 for every held-out item
    oracle = table_model(train, S.astype(np.float32))
    full = ev.evaluate_full(oracle, test, train, ks=(1, 10))
    assert full.metrics["HR@1"] == 1.0
    assert full.metrics["MRR"] == 1.0
    assert full.metrics["NDCG@10"] == pytest.approx(1.0)
    assert full.metrics["MAP@10"] == pytest.approx(1.0)
    assert full.metrics["Recall@10"] == pytest.approx(1.0)  # <= 10 test items per user
    assert full.metrics["AUC"] == pytest.approx(1.0)
    neg = sample_negatives(train, test, 30)
    s = ev.evaluate_sampled(oracle, test.users, test.items, neg, ks=(1,))
    assert s.metrics["HR@1"] == 1.0 and s.metrics["AUC"] == 1.0


def test_constant_scores_get_zero_hr_pessimistic(planted):
    _, train, test = planted
    const = GlobalMean().fit(train)
    neg = sample_negatives(train, test, 99)
    pess = ev.evaluate_sampled(const, test.users, test.items, neg, ks=(10,))
    opt = ev.evaluate_sampled(
        const, test.users, test.items, neg, ks=(10,), ties="optimistic"
    )
    assert pess.metrics["HR@10"] == 0.0 and pess.metrics["NDCG@10"] == 0.0
    assert pess.metrics["MRR"] == pytest.approx(1 / 100)  # ranked after all 99
    assert opt.metrics["HR@10"] == 1.0 and opt.metrics["MRR"] == 1.0
    assert pess.metrics["AUC"] == opt.metrics["AUC"] == 0.5
    full = ev.evaluate_full(const, test, train, ks=(10,))
    assert full.metrics["HR@10"] == 0.0 and full.metrics["AUC"] == 0.5
    full_opt = ev.evaluate_full(const, test, train, ks=(10,), ties="optimistic")
    assert full_opt.metrics["HR@10"] == 1.0


def test_negative_equal_to_positive_is_dropped():
    train = build([(0, 0, 1.0), (1, 1, 1.0)], 2, 5)
    S = np.array([[0, 0, 3, 1, 1], [0, 0, 0, 0, 0]], dtype=np.float32)
    m = table_model(train, S)
    neg = np.array([[2, 3, 4]])  # positive 2 also listed as a negative
    kept = ev.evaluate_sampled(m, [0], [2], neg, ks=(1,), drop_positive_negatives=False)
    dropped = ev.evaluate_sampled(m, [0], [2], neg, ks=(1,))
    assert kept.metrics["HR@1"] == 0.0  # tied with itself, pessimistic
    assert dropped.metrics["HR@1"] == 1.0 and dropped.metrics["AUC"] == 1.0
    with pytest.raises(ValueError, match="every negative equals the positive"):
        ev.evaluate_sampled(m, [0], [2], np.array([[2, 2]]))


def test_coverage_ties_at_the_cut_off_take_the_smaller_item_index():
    """User 0's third place is a 17-way tie: item 1 takes it (not any other), so the
    top-3 lists of the two users cover items {0, 1, 2, 16}."""
    train = build([(0, 19, 1.0), (1, 19, 1.0)], 2, 20)
    S = np.ones((2, 20), dtype=np.float32)
    S[0, [0, 16]] = 3, 2
    S[1] = 0
    S[1, [2, 0, 16]] = 3, 2.5, 2
    test = build([(0, 19, 1.0), (1, 19, 1.0)], 2, 20)
    res = ev.evaluate_full(table_model(train, S), test, exclude_train=False, ks=(3,))
    assert res.metrics["Coverage@3"] == 4 / 20


def test_model_minus_inf_is_a_score_not_a_mask():
    """A relevant item scored -inf ranks below an irrelevant one at the lowest finite
    float, so HR@1 = 0 under either tie rule; masked items stay out (AUC 0)."""
    lowest = np.finfo(np.float64).min

    class Scores:
        predicts_ratings = False
        n_users, n_items = 1, 3

        def score_items(self, u):
            return np.array([[-np.inf, lowest, 5.0]])[np.asarray(u) * 0]

    train = build([(0, 2, 1.0)], 1, 3)
    test = build([(0, 0, 1.0)], 1, 3)
    for ties in ("pessimistic", "optimistic"):
        res = ev.evaluate_full(Scores(), test, train=train, ks=(1, 2), ties=ties)
        assert res.metrics["HR@1"] == 0.0 and res.metrics["HR@2"] == 1.0
        assert res.metrics["AUC"] == 0.0 and res.metrics["Coverage@1"] == 1 / 3


def test_full_protocol_leaves_the_model_scores_alone():
    """score_items may return a view of the model's own table (float64, one batch):
    masking the training items must not write into it."""

    class View:
        predicts_ratings = False
        n_users, n_items = 2, 4

        def __init__(self):
            self.S = np.arange(8, dtype=np.float64).reshape(2, 4)

        def score_items(self, u):
            return self.S[: len(u)]  # basic slicing: a view

    train = build([(0, 1, 1.0), (1, 2, 1.0)], 2, 4)
    test = build([(0, 0, 1.0), (1, 3, 1.0)], 2, 4)
    m = View()
    ev.evaluate_full(m, test, train=train, ks=(2,))
    assert np.array_equal(m.S, np.arange(8.0).reshape(2, 4))


def test_exclude_train_and_batches(planted):
    _, train, test = planted
    # a model that puts every training item on top: useless unless masked
    S = (train.to_dense() > 0) * 2.0 + (test.to_dense() > 0) * 1.0
    m = table_model(train, S)
    masked = ev.evaluate_full(m, test, train, ks=(5,))
    unmasked = ev.evaluate_full(m, test, train, ks=(5,), exclude_train=False)
    assert masked.metrics["HR@5"] == 1.0
    assert unmasked.metrics["HR@5"] == 0.0  # >= 5 training items above each test item
    # without train=, the model's own training items are masked
    assert ev.evaluate_full(m, test, ks=(5,)).metrics == masked.metrics
    pop = Popularity().fit(train)
    a = ev.evaluate_full(pop, test, train, batch=1)
    b = ev.evaluate_full(pop, test, train, batch=7)
    c = ev.evaluate_full(pop, test, train, batch=4096)
    assert a.metrics == b.metrics == c.metrics


def test_repeated_test_pairs_count_once(planted):
    _, train, test = planted
    twice = Interactions.from_arrays(
        np.r_[test.users, test.users[:15]],
        np.r_[test.items, test.items[:15]],
        np.r_[test.ratings, test.ratings[:15]],
        user_ids=test.user_ids,
        item_ids=test.item_ids,
        duplicates="keep",
        name="planted",
    )
    pop = Popularity().fit(train)
    a = ev.evaluate_full(pop, test, train)
    b = ev.evaluate_full(pop, twice, train)
    assert a.metrics == b.metrics and a.n_test == b.n_test == len(test)


def test_relevance_threshold(planted):
    _, train, test = planted
    pop = Popularity().fit(train)
    res = ev.evaluate_full(pop, test, train, relevance_threshold=4)
    assert res.n_test == int((test.ratings >= 4).sum())
    assert res.n_users == len(np.unique(test.users[test.ratings >= 4]))


def test_evaluate_ratings(planted):
    _, train, test = planted
    m = BiasedBaseline().fit(train)
    res = ev.evaluate_ratings(m, test)
    y_hat = m.predict_pairs(test.users, test.items).astype(float)
    err = test.ratings - y_hat
    assert res.metrics["RMSE"] == pytest.approx(math.sqrt(np.mean(err**2)))
    assert res.metrics["MAE"] == pytest.approx(np.mean(np.abs(err)))
    assert res.protocol == "rating-holdout" and res.ties is None
    assert res.n_test == len(test) and res.dataset == "planted"
    assert res.params == m.get_params() and res.model == "BiasedBaseline"


def test_eval_result_outputs(planted):
    _, train, test = planted
    res = ev.evaluate_full(Popularity().fit(train), test, train, ks=(10,))
    d = json.loads(res.to_json())
    assert d["protocol"] == "full" and d["metrics"]["HR@10"] == res.metrics["HR@10"]
    assert d["n_users"] == res.n_users and d["ties"] == "pessimistic"
    line = str(res)
    assert "\n" not in line
    assert "[full, ties=pessimistic]" in line and "HR@10 " in line
    assert "Popularity on planted" in line
    row = res.as_row()
    assert row["protocol"] == "full" and row["HR@10"] == res.metrics["HR@10"]
    assert row["model"] == "Popularity" and "seconds" in row


def test_cross_validate(planted):
    data, _, _ = planted
    rng = np.random.default_rng(1)
    fold_of = rng.integers(0, 3, len(data))
    folds = [(data.subset(fold_of != f), data.subset(fold_of == f)) for f in range(3)]
    cv = ev.cross_validate(lambda: BiasedBaseline(), folds)
    each = [
        ev.evaluate_ratings(BiasedBaseline().fit(tr), te).metrics["RMSE"]
        for tr, te in folds
    ]
    assert cv.metrics["RMSE"] == pytest.approx(np.mean(each))
    assert cv.std["RMSE"] == pytest.approx(np.std(each, ddof=1))
    assert cv.protocol == "rating-holdout cv(3)" and len(cv.folds) == 3
    assert "±" in str(cv) and "RMSE std" in cv.as_row()
    assert json.loads(cv.to_json())["folds"][0]["protocol"] == "rating-holdout"
    # rankers default to the full protocol
    cvp = ev.cross_validate(Popularity, folds)
    assert cvp.protocol == "full cv(3)" and "NDCG@10" in cvp.metrics
    with pytest.raises(ValueError, match="at least 2 folds"):
        ev.cross_validate(Popularity, folds[:1])


# ---------------------------------------------------------------------- errors
def test_errors(planted):
    data, train, test = planted
    pop = Popularity().fit(train)
    with pytest.raises(ValueError, match="does not predict ratings"):
        ev.evaluate_ratings(pop, test)
    other = build([(0, 0, 1.0), (1, 1, 2.0)], 2, 2)
    with pytest.raises(DataError, match="2 users x 2 items"):
        ev.evaluate_full(pop, other)
    shifted = Interactions.from_arrays(
        test.users + 1000,
        test.items,
        test.ratings,
        user_ids=np.arange(train.n_users) + 1000,
        item_ids=train.item_ids,
    )
    with pytest.raises(DataError, match="another user id map"):
        ev.evaluate_full(pop, shifted, train)
    neg = sample_negatives(train, test, 5)
    with pytest.raises(ValueError, match="neg_items has shape"):
        ev.evaluate_sampled(pop, test.users, test.items, neg[:-1])
    with pytest.raises(ValueError, match="pos_items holds item index 999"):
        ev.evaluate_sampled(pop, test.users, np.full(len(test), 999), neg)
    with pytest.raises(ValueError, match="ties='random'"):
        ev.evaluate_sampled(pop, test.users, test.items, neg, ties="random")
    with pytest.raises(ValueError, match="cut-off must be a positive integer"):
        ev.evaluate_full(pop, test, train, ks=(0,))
    with pytest.raises(ValueError, match="batch=0"):
        ev.evaluate_full(pop, test, train, batch=0)
    with pytest.raises(ValueError, match="exceeds n_items"):
        ev.evaluate_full(pop, test, train, ks=(10_000,))
    nan_model = table_model(train, np.full(train.shape, np.nan))
    msg = r"Table predicted NaN for .* first user 0 \(index 0\), item 0"
    with pytest.raises(ValueError, match=msg):
        ev.evaluate_full(nan_model, test, train)
    u0 = test.users[0]
    with pytest.raises(ValueError, match=f"first user {u0} .index {u0}."):
        ev.evaluate_sampled(nan_model, test.users, test.items, neg)
    with pytest.raises(ValueError, match="Table predicted NaN for"):
        ev.evaluate_ratings(nan_model, test)


# ---------------------------------------------------------------------- real data
def test_ncf_itempop_reproduces_the_paper(data_root):
    """ItemPop under the NCF protocol (ML-1M, leave-one-out, 1 + 99 sampled
    negatives): He et al. 2017, Table 2 / Fig. 4 report HR@10 = 0.454 and
    NDCG@10 = 0.254."""
    r = pd.read_csv(
        data_root / "ml-1m" / "ratings_no_timestamp.dat",
        sep=":",
        header=None,
        usecols=[0, 2, 4],
        names=["u", "i", "r"],
    )
    idx = pd.read_csv(data_root / "ncf" / "ml-1m.item_index.tsv", sep="\t")
    ncf2movie = idx.set_index("ncf_item_index")["MovieID"].sort_index().to_numpy()
    te = pd.read_csv(data_root / "ncf" / "ml-1m.test.rating", sep="\t", header=None)
    negs = (
        pd.read_csv(data_root / "ncf" / "ml-1m.test.negative", sep="\t", header=None)
        .iloc[:, 1:]
        .to_numpy()
    )
    data = Interactions.from_arrays(r.u.to_numpy(), r.i.to_numpy(), r.r.to_numpy())
    uid, mid = te[0].to_numpy() + 1, ncf2movie[te[1].to_numpy()]
    is_test = np.isin(r.u.to_numpy() * 10_000 + r.i.to_numpy(), uid * 10_000 + mid)
    assert is_test.sum() == 6040
    train = data.subset(~is_test)
    users = data.user_index(uid)
    pos = data.item_index(mid)
    neg = data.item_index(ncf2movie[negs.ravel()]).reshape(negs.shape)
    res = ev.evaluate_sampled(Popularity().fit(train), users, pos, neg, ks=(10,))
    assert res.protocol == "sampled(1+99)" and res.n_test == 6040
    assert res.metrics["HR@10"] == pytest.approx(0.454, abs=0.005)
    assert res.metrics["NDCG@10"] == pytest.approx(0.254, abs=0.005)


def test_ml100k_u1_u5_baseline_matches_surprise(data_root):
    """cross_validate on the GroupLens u1..u5 folds; BiasedBaseline mirrors
    Surprise's BaselineOnly, so the RMSE must agree with Surprise's own."""
    d = data_root / "ml-100k"
    names = ["u", "i", "r", "t"]
    full = pd.read_csv(d / "u.data", sep="\t", header=None, names=names)
    uids, iids = np.unique(full.u), np.unique(full.i)

    def load(f):
        df = pd.read_csv(d / f, sep="\t", header=None, names=names)
        return Interactions.from_arrays(
            df.u.to_numpy(),
            df.i.to_numpy(),
            df.r.to_numpy(),
            user_ids=uids,
            item_ids=iids,
            name="ml-100k",
        )

    folds = [(load(f"u{n}.base"), load(f"u{n}.test")) for n in range(1, 6)]
    cv = ev.cross_validate(BiasedBaseline, folds)
    gm = ev.cross_validate(GlobalMean, folds)
    assert cv.protocol == "rating-holdout cv(5)" and cv.n_test == 100_000
    assert cv.metrics["RMSE"] < gm.metrics["RMSE"] - 0.1
    surprise = pytest.importorskip("surprise")
    reader = surprise.Reader(line_format="user item rating timestamp", sep="\t")
    ds = surprise.Dataset.load_from_folds(
        [(str(d / f"u{n}.base"), str(d / f"u{n}.test")) for n in range(1, 6)], reader
    )
    theirs = []
    for trs, tes in surprise.model_selection.PredefinedKFold().split(ds):
        algo = surprise.BaselineOnly(verbose=False)
        algo.fit(trs)
        theirs.append(surprise.accuracy.rmse(algo.test(tes), verbose=False))
    mine = [f.metrics["RMSE"] for f in cv.folds]
    np.testing.assert_allclose(mine, theirs, atol=1e-5)
