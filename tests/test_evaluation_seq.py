"""Next-item protocols against brute force, the unknown-item / short-session policy,
SASRec's split and negatives, the readers, and real-data counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minirec.data import Interactions, synthetic_sessions
from minirec.errors import DataError
from minirec.evaluation_seq import (
    evaluate_next_item,
    evaluate_sampled_next,
    sasrec_cases,
)
from minirec.models.session_baselines import (
    MarkovChain,
    SequentialRecommender,
    as_sequences,
)


def _sessions(*args, **kw):
    return as_sequences(synthetic_sessions(*args, **kw))


class Fixed(SequentialRecommender):
    """Scores = a fixed random matrix row chosen by the last item (test double)."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit_sequences(self, indptr, items):
        self.W = np.random.default_rng(self.seed).random((self.n_items, self.n_items))

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        return self.W[[p[-1] for p in prefixes]].astype(np.float32)


def test_next_item_matches_brute_force():
    sess = _sessions(80, n_items=15, seed=4)
    m = Fixed().fit(sess[:60])
    test = sess[60:]
    res = evaluate_next_item(m, test, k=5)
    ranks = []
    for s in test:
        idx = m.item_index(s, unknown="skip")
        for t in range(len(idx) - 1):
            sc = m.W[idx[t]].astype(np.float32)
            ranks.append(int((sc >= sc[idx[t + 1]]).sum()) - 1)
    r = np.array(ranks)
    assert res.n_test == len(r)
    assert res.metrics["Recall@5"] == pytest.approx((r < 5).mean())
    assert res.metrics["MRR@5"] == pytest.approx(np.where(r < 5, 1 / (r + 1), 0).mean())
    assert res.protocol == "session-next-item(full)"


def test_float64_scores_keep_their_precision():
    """Item j scores 1 + j * 1e-12: distinct in float64, all 1.0 in float32. The target
    t's pessimistic rank is then the number of larger items, n_items - 1 - t."""

    class Fine(Fixed):
        def _score_prefixes(self, prefixes):
            self._check_internal(prefixes)
            return np.tile(1 + np.arange(self.n_items) * 1e-12, (len(prefixes), 1))

    sess = _sessions(40, n_items=12, seed=1)
    m = Fine().fit(sess)
    res = evaluate_next_item(m, sess, k=3)
    tgt = np.concatenate([m.item_index(s, unknown="skip")[1:] for s in sess])
    r = m.n_items - 1 - tgt
    assert res.metrics["Recall@3"] == pytest.approx((r < 3).mean())
    assert res.metrics["MRR@3"] == pytest.approx(np.where(r < 3, 1 / (r + 1), 0).mean())
    # the top item as every target outscores its negatives (all tied in float32)
    top = m.item_ids_[-1]
    pre = [s[s != top][:1] for s in sess]
    samp = evaluate_sampled_next(m, pre, [top] * len(pre), n_neg=5, ks=(1,))
    assert samp.metrics["HR@1"] == 1.0


def test_unknown_items_and_short_sessions_are_dropped_and_counted():
    m = MarkovChain().fit([[1, 2, 3], [2, 3, 1]])
    res = evaluate_next_item(m, [[1, 9, 2], [7, 3], [8, 8], [1, 2]], k=2)
    assert res.metrics["n_unknown_dropped"] == 4  # 9, 7, 8, 8
    assert res.metrics["n_short_dropped"] == 2  # [3] and []
    assert res.n_test == 2  # 1->2 (after dropping 9) and 1->2
    with pytest.raises(DataError, match="2 or more known"):
        evaluate_next_item(m, [[9, 9], [1]])


def test_ties_rule():
    m = MarkovChain().fit([[1, 2], [3, 4]])

    class Const(MarkovChain):
        def _score_positions(self, seqs):
            return np.zeros((sum(len(s) - 1 for s in seqs), self.n_items), np.float32)

    c = Const().fit([[1, 2], [3, 4]])
    assert evaluate_next_item(c, [[1, 2]], k=1).metrics["Recall@1"] == 0.0
    assert (
        evaluate_next_item(c, [[1, 2]], k=1, ties="optimistic").metrics["Recall@1"]
        == 1.0
    )
    with pytest.raises(ValueError, match="ties"):
        evaluate_next_item(m, [[1, 2]], ties="random")


def test_sasrec_cases():
    data = Interactions.from_arrays(
        [1, 1, 1, 1, 2, 2, 3, 3, 3],
        [10, 11, 12, 13, 14, 15, 16, 17, 18],
        timestamps=[4, 1, 2, 3, 1, 2, 9, 8, 7],
    )
    c = sasrec_cases(data)
    # user 1 in time order: 11 12 13 10; user 2 too short; user 3: 18 17 16
    assert [list(t) for t in c.train] == [[11, 12], [14, 15], [18]]
    assert list(c.users) == [0, 2]
    assert list(c.valid) == [13, 17] and list(c.test) == [10, 16]
    assert [list(p) for p in c.test_prefix] == [[11, 12, 13], [18, 17]]
    assert [list(p) for p in c.valid_prefix] == [[11, 12], [18]]
    assert sorted(c.history[0]) == [10, 11, 12, 13]
    no_ts = Interactions.from_arrays([1, 1, 1], [10, 20, 30])
    with pytest.raises(DataError, match="no timestamps"):
        sasrec_cases(no_ts)


def test_sampled_next_negatives_avoid_history_and_match_brute_force():
    sess = _sessions(60, n_items=30, mean_length=8, seed=5)
    m = Fixed(seed=1).fit(sess)
    pre = [s[:-1] for s in sess if len(s) >= 3]
    tgt = [s[-1] for s in sess if len(s) >= 3]
    res = evaluate_sampled_next(m, pre, tgt, n_neg=10, ks=(3,), seed=7)
    # brute force with the same sampler
    rng = np.random.default_rng(7)
    ranks = []
    for p, t in zip(pre, tgt):
        seen = np.zeros(m.n_items, bool)
        seen[m.item_index(p)] = True
        ti = m.item_index([t])[0]
        seen[ti] = True
        neg = rng.integers(0, m.n_items, 10)
        bad = seen[neg]
        while bad.any():
            neg[bad] = rng.integers(0, m.n_items, int(bad.sum()))
            bad = seen[neg]
        assert not seen[neg].any()
        sc = m.W[m.item_index(p)[-1]].astype(np.float32)
        ranks.append(int((sc[neg] >= sc[ti]).sum()))
    r = np.array(ranks)
    assert res.metrics["HR@3"] == pytest.approx((r < 3).mean())
    assert res.protocol == "sasrec-sampled(1+10)"
    with pytest.raises(ValueError, match="one target"):
        evaluate_sampled_next(m, pre, tgt[:-1])
    with pytest.raises(ValueError, match="n_neg"):
        evaluate_sampled_next(m, pre, tgt, n_neg=0)


def test_max_users_subsample():
    sess = _sessions(50, n_items=20, mean_length=6, seed=6)
    m = MarkovChain().fit(sess)
    pre = [s[:-1] for s in sess if len(s) >= 2]
    tgt = [s[-1] for s in sess if len(s) >= 2]
    assert evaluate_sampled_next(m, pre, tgt, n_neg=5, max_users=10).n_test == 10


def test_sessions_and_interactions_inputs():
    ses = synthetic_sessions(30, n_items=10, seed=1)
    m = MarkovChain().fit(ses)
    assert m.n_items <= 10
    r = evaluate_next_item(m, ses, k=3)
    assert r.n_test == ses.n_events - ses.n_sessions
    data = Interactions.from_arrays([1, 1, 2, 2], [5, 6, 6, 5], timestamps=[2, 1, 1, 2])
    seqs = as_sequences(data)
    assert [list(s) for s in seqs] == [[6, 5], [6, 5]]


def test_dataframe_test_sessions():
    m = MarkovChain().fit([[1, 2, 3]])
    df = pd.DataFrame({"SessionId": [1, 1], "ItemId": [1, 2], "Time": [0, 1]})
    assert evaluate_next_item(m, df, k=1).metrics["Recall@1"] == 1.0


def test_real_data(data_root):
    from minirec.data import load_sasrec, load_session_split

    tr, te = load_session_split("rsc15-100k", path=data_root / "sessions/rsc15-100k")
    train = as_sequences(tr)
    assert (len(train), sum(map(len, train))) == (17_794, 70_278)
    test = as_sequences(te)
    assert sum(len(s) - 1 for s in test) == 10_152  # next-item events evaluated
    c = sasrec_cases(load_sasrec(data_root / "sasrec" / "Video.txt"))
    assert len(c.train) == 31_013
    assert len(c.users) + sum(len(t) < 1 for t in c.train) <= 31_013
    assert sum(map(len, c.train)) + 2 * len(c.users) == 287_107
