"""GRU4Rec: API shapes, determinism, save/load, losses, clipping, divergence, and
recovery of a planted first-order Markov structure."""

from __future__ import annotations

import numpy as np
import pytest

import minirec.models.gru4rec as g4
from minirec.data import synthetic_sessions
from minirec.errors import TrainingDivergedError
from minirec.evaluation_seq import evaluate_next_item
from minirec.models.gru4rec import GRU4Rec
from minirec.models.session_baselines import (
    SequentialRecommender,
    SessionPop,
    as_sequences,
)

FAST = dict(k=16, batch_size=16, n_negatives=8, n_epochs=2, lr=0.02)


@pytest.fixture(scope="module")
def planted():
    return as_sequences(
        synthetic_sessions(500, n_items=25, n_next=1, noise=0.05, seed=1)
    )


@pytest.fixture(scope="module")
def fitted(planted):
    return GRU4Rec(**FAST, seed=0).fit(planted[:400])


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="loss='hinge'"):
        GRU4Rec(loss="hinge")
    with pytest.raises(ValueError, match="n_negatives"):
        GRU4Rec(n_negatives=-1)
    with pytest.raises(ValueError, match="dropout"):
        GRU4Rec(dropout=1.0)
    with pytest.raises(ValueError, match="k="):
        GRU4Rec(k=0)
    with pytest.warns(DeprecationWarning, match="now called k"):
        assert GRU4Rec(hidden=8).k == 8


def test_shapes_and_session_embedding(fitted, planted):
    q = [planted[450][:1], planted[451][:3], [1, 2, 99999]]
    S = fitted.score_next(q)
    assert S.shape == (3, fitted.n_items) and np.isfinite(S).all()
    ids, sc = fitted.recommend_next(q, n=5, filter_seen=True)
    assert ids.shape == (3, 5)
    assert not set(ids[1]) & set(planted[451][:3])
    h = fitted.session_embedding(q)
    assert h.shape == (3, 16)
    # ranking = session embedding against item embeddings
    net = fitted.net_
    np.testing.assert_allclose(
        S, h @ net.out_table().data.T + net.b.data[:, 0], rtol=1e-5, atol=1e-6
    )


def test_positions_match_prefixes(fitted, planted):
    seqs = [fitted.item_index(s) for s in planted[400:410] if len(s) >= 2]
    prefixes = [s[: t + 1] for s in seqs for t in range(len(s) - 1)]
    np.testing.assert_allclose(
        fitted._score_positions(seqs),
        fitted._score_prefixes(prefixes),
        rtol=1e-5,
        atol=1e-5,
    )


def test_deterministic_with_seed(planted):
    a = GRU4Rec(**FAST, seed=5).fit(planted[:100])
    b = GRU4Rec(**FAST, seed=5).fit(planted[:100])
    c = GRU4Rec(**FAST, seed=6).fit(planted[:100])
    q = [planted[0][:2]]
    np.testing.assert_array_equal(a.score_next(q), b.score_next(q))
    assert not np.allclose(a.score_next(q), c.score_next(q))


def test_save_load_round_trip(fitted, planted, tmp_path):
    p = fitted.save(tmp_path / "g.npz")
    m = SequentialRecommender.load(p)
    assert isinstance(m, GRU4Rec) and m.get_params() == fitted.get_params()
    assert m.history_ == fitted.history_
    q = [planted[3][:4], planted[7][:1]]
    np.testing.assert_allclose(m.score_next(q), fitted.score_next(q), rtol=1e-6)


@pytest.mark.parametrize("loss", ["top1", "bpr", "bpr-max", "cross-entropy"])
def test_every_loss_learns_planted_markov(loss, planted):
    """Successors are fixed (noise 5%): every loss beats session popularity."""
    kw = {**FAST, "n_epochs": 3, "loss": loss}
    m = GRU4Rec(**kw).fit(planted[:400])
    r = evaluate_next_item(m, planted[400:], k=3).metrics["Recall@3"]
    pop = evaluate_next_item(SessionPop().fit(planted[:400]), planted[400:], k=3)
    assert r > 0.6 and r > pop.metrics["Recall@3"] + 0.3, (loss, r)
    assert m.history_[-1]["loss"] < m.history_[0]["loss"]


def test_gradients_are_clipped(planted, monkeypatch):
    seen = []

    def spy(params, max_norm):
        norm = g4.__dict__["_orig_clip"](params, max_norm)
        total = sum(
            float(
                (p.grad.values if hasattr(p.grad, "values") else p.grad)
                .astype(np.float64)
                .__pow__(2)
                .sum()
            )
            for p in params
            if p.grad is not None
        )
        seen.append((norm, np.sqrt(total), max_norm))
        return norm

    monkeypatch.setitem(g4.__dict__, "_orig_clip", g4.clip_grad_norm)
    monkeypatch.setattr(g4, "clip_grad_norm", spy)
    GRU4Rec(**{**FAST, "n_epochs": 1, "clip": 1e-3}).fit(planted[:50])
    assert seen
    assert any(before > 1e-3 for before, _, _ in seen)  # something was clipped
    assert all(after <= 1e-3 * 1.001 for _, after, _ in seen)


def test_nan_stops_training(planted, monkeypatch):
    def nan_loss(self, R, B):
        return R.sum() * float("nan")

    monkeypatch.setattr(GRU4Rec, "_loss", nan_loss)
    with pytest.raises(TrainingDivergedError, match="lower lr"):
        GRU4Rec(**FAST).fit(planted[:50])
