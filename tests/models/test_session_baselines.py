"""Session baselines and the SequentialRecommender API: shapes, bad input, the
unknown-item policy, save/load, planted Markov structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minirec.data import synthetic_sessions
from minirec.errors import DataError, ModelFileError, NotFittedError, UnknownIdError
from minirec.models.session_baselines import (
    MarkovChain,
    SequentialRecommender,
    SessionItemKNN,
    SessionPop,
    as_sequences,
)

BASELINES = [SessionPop, MarkovChain, SessionItemKNN]
SESS = [[10, 11, 12], [11, 12], [12, 10, 11, 12], [13], []]


@pytest.fixture(scope="module")
def planted():
    return as_sequences(
        synthetic_sessions(600, n_items=30, n_next=1, noise=0.05, seed=3)
    )


@pytest.mark.parametrize("cls", BASELINES)
def test_shapes_and_order(cls):
    m = cls().fit(SESS)
    assert m.n_dropped_ == 2  # [13] and [] give no (item, next) pair
    assert list(m.item_ids_) == [10, 11, 12]  # 13 only in a dropped session
    S = m.score_next([[10], [11, 12]])
    assert S.shape == (2, 3) and S.dtype == np.float32
    ids, sc = m.recommend_next([[10], [11, 12]], n=2)
    assert ids.shape == (2, 2) and sc.shape == (2, 2)
    assert (np.diff(sc, axis=1) <= 0).all()
    with pytest.raises(ValueError, match="larger than the number of items"):
        m.recommend_next([[10]], n=50)  # as recommend() does


def test_markov_counts_transitions():
    m = MarkovChain().fit(SESS)
    # transitions from 12: 12->10 once; from 11: 11->12 three times
    ids, _ = m.recommend_next([[12]], n=1)
    assert ids[0, 0] == 10
    ids, _ = m.recommend_next([[10, 11]], n=1)
    assert ids[0, 0] == 12


def test_session_pop_counts_prefix():
    m = SessionPop().fit(SESS)
    ids, _ = m.recommend_next([[10, 10, 11]], n=3)
    assert list(ids[0]) == [10, 11, 12]


def test_dataframe_input_matches_lists():
    df = pd.DataFrame(
        {
            "SessionId": [2, 1, 1, 2, 1],
            "ItemId": [7, 5, 6, 8, 7],
            "Time": [1, 3, 1, 2, 2],
        }
    )
    a = MarkovChain().fit(df)
    b = MarkovChain().fit([[6, 7, 5], [7, 8]])
    np.testing.assert_array_equal(a.score_next([[7]]), b.score_next([[7]]))
    with pytest.raises(DataError, match="SessionId"):
        MarkovChain().fit(pd.DataFrame({"item": [1, 2]}))


@pytest.mark.parametrize("cls", BASELINES)
def test_bad_input(cls):
    with pytest.raises(DataError, match="2 or more"):
        cls().fit([[1], [], [2]])
    with pytest.raises(NotFittedError):
        cls().score_next([[1]])
    m = cls().fit(SESS)
    with pytest.raises(ValueError, match="n=0"):
        m.recommend_next([[10]], n=0)
    with pytest.raises(ValueError, match="n=-3"):
        m.recommend_next([[10]], n=-3)
    with pytest.raises(ValueError, match=r"prefixes\[1\] is empty"):
        m.score_next([[10], []])
    with pytest.raises(ValueError, match="only unknown"):
        m.score_next([[99, 98]])
    with pytest.raises(UnknownIdError, match="99"):
        m.score_next([[10, 99]], unknown="raise")
    # default policy: unknown items are skipped in the prefix
    np.testing.assert_array_equal(m.score_next([[10, 99]]), m.score_next([[10]]))
    with pytest.raises(IndexError, match="out of range"):
        m._score_prefixes([np.array([0, 5])])
    with pytest.raises(TypeError, match="list of sequences"):
        m.score_next("abc")


@pytest.mark.parametrize("cls", BASELINES)
def test_positions_match_prefixes(cls, planted):
    m = cls().fit(planted[:400])
    seqs = [m.item_index(s, unknown="skip") for s in planted[400:420]]
    seqs = [s for s in seqs if len(s) >= 2]
    prefixes = [s[: t + 1] for s in seqs for t in range(len(s) - 1)]
    np.testing.assert_allclose(
        m._score_positions(seqs), m._score_prefixes(prefixes), rtol=1e-6
    )


@pytest.mark.parametrize("cls", BASELINES)
def test_save_load_round_trip(cls, planted, tmp_path):
    m = cls().fit(planted)
    p = m.save(tmp_path / "model")
    assert p.suffix == ".npz"
    with np.load(p, allow_pickle=False) as z:
        assert "__meta__" in z.files
    m2 = SequentialRecommender.load(p)
    assert type(m2) is cls and m2.get_params() == m.get_params()
    q = [planted[0][:2], planted[5][:3]]
    np.testing.assert_array_equal(m.score_next(q), m2.score_next(q))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError):
        SequentialRecommender.load(tmp_path / "bad.npz")


def test_string_item_ids_round_trip(tmp_path):
    m = MarkovChain().fit([["a", "b", "c"], ["b", "c"]])
    ids, _ = m.recommend_next([["b"]], n=1)
    assert ids[0, 0] == "c"
    m2 = SequentialRecommender.load(m.save(tmp_path / "s.npz"))
    assert m2.recommend_next([["b"]], n=1)[0][0, 0] == "c"


def test_planted_markov_is_recovered(planted):
    """Deterministic successors (noise 5%): Markov and item-KNN find them."""
    from minirec.evaluation_seq import evaluate_next_item

    train, test = planted[:500], planted[500:]
    mk = evaluate_next_item(MarkovChain().fit(train), test, k=1).metrics["Recall@1"]
    pop = evaluate_next_item(SessionPop().fit(train), test, k=1).metrics["Recall@1"]
    assert mk > 0.85
    assert pop < 0.3


def test_itemknn_params_checked():
    with pytest.raises(ValueError, match="alpha"):
        SessionItemKNN(alpha=2)
    with pytest.raises(ValueError, match="n_neighbors="):
        SessionItemKNN(n_neighbors=-1)
    with pytest.warns(DeprecationWarning, match="n_neighbors"):
        assert SessionItemKNN(k=5).n_neighbors == 5


def _legacy_file(path, model, params, extra):
    """A file as the retired "minirec-seqmodel" save wrote it (np.savez of the
    state arrays, item ids, popularity and a JSON header with no users)."""
    import json

    meta = {
        "format": "minirec-seqmodel",
        "version": 1,
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "params": params,
        "n_dropped": 2,
        "extra": extra,
    }
    arrays = {f"state/{k}": np.asarray(v) for k, v in model._state().items()}
    arrays["__item_ids__"] = model.item_ids_
    arrays["__item_popularity__"] = model.item_popularity_
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


def test_files_of_the_retired_sequence_format_still_load(tmp_path):
    from minirec.models import GRU4Rec, Recommender

    m = MarkovChain().fit(SESS)
    old = Recommender.load(_legacy_file(tmp_path / "mc.npz", m, {}, {}))
    assert isinstance(old, MarkovChain) and old.n_dropped_ == 2
    np.testing.assert_array_equal(
        old.score_next([[10], [11]]), m.score_next([[10], [11]])
    )
    g = GRU4Rec(k=4, n_negatives=2, batch_size=2, n_epochs=1).fit(SESS)
    params = {**g.get_params(deep=False), "hidden": 4, "epochs": 1}
    del params["k"], params["n_epochs"]  # the names of that release
    old = SequentialRecommender.load(  # old names map silently, as in load()
        _legacy_file(tmp_path / "g.npz", g, params, {"loss_history": [0.5]})
    )
    assert old.k == 4 and old.history_ == [{"epoch": 1, "loss": 0.5}]
    np.testing.assert_allclose(old.score_next([[10, 11]]), g.score_next([[10, 11]]))
    with pytest.raises(ModelFileError, match="sequence model"):
        mf = _legacy_file(tmp_path / "x.npz", m, {}, {})
        import json

        z = dict(np.load(mf))
        meta = json.loads(str(z["__meta__"]))
        meta["class"] = "minirec.models.baselines:Popularity"
        z["__meta__"] = np.array(json.dumps(meta))
        np.savez(mf, **z)
        Recommender.load(mf)


def test_itemknn_ties_at_the_cut_off_keep_the_smaller_items():
    import scipy.sparse as sp

    from minirec.models.session_baselines import _keep_top_k_rows

    # one row stored with its columns out of order: 2 at item 1, ties of 1 elsewhere
    for cols in ([5, 3, 1, 2, 4], [2, 4, 1, 5, 3]):
        vals = np.where(np.array(cols) == 1, 2.0, 1.0).astype(np.float32)
        S = sp.csr_matrix((vals, cols, [0, 5]), shape=(1, 6))
        kept = _keep_top_k_rows(S, 3).toarray()
        np.testing.assert_array_equal(kept, [[0, 2, 1, 1, 0, 0]])
