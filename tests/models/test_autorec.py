"""I-AutoRec: masked loss and its gradient, learning, persistence of the inputs."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Recommender
from minirec.autograd import Tensor
from minirec.errors import TrainingDivergedError
from minirec.metrics import rmse
from minirec.models._train import gradcheck_module
from minirec.models.autorec import AutoRec, AutoRecNet, autorec_loss


def _batch(seed=0, n_items=5, n_users=7):
    r = np.random.default_rng(seed)
    M = (r.random((n_items, n_users)) < 0.5).astype(np.float64)
    R = np.round(r.uniform(1, 5, size=M.shape)) * M
    return R, M


def test_gradcheck_masked_loss():
    R, M = _batch()
    net = AutoRecNet(7, 3, rng=0)
    res = gradcheck_module(net, lambda: autorec_loss(net, R, M, reg=0.5, frac=0.3))
    assert res.ok


def test_loss_formula_and_mask():
    """L = (Σ ‖(r − h(r)) ⊙ O‖² + frac λ/2 (‖W‖² + ‖V‖²)) / B; unobserved outputs
    do not count."""
    R, M = _batch(1)
    net = AutoRecNet(7, 3, rng=1)
    V, b1 = net.encoder.W.data, net.encoder.b.data
    W, b2 = net.decoder.W.data, net.decoder.b.data
    h = (1 / (1 + np.exp(-(R @ V + b1)))) @ W + b2
    want = (((R - h) * M) ** 2).sum() + 0.2 * 0.7 / 2 * ((V**2).sum() + (W**2).sum())
    got = autorec_loss(net, R, M, reg=0.7, frac=0.2).item()
    assert got == pytest.approx(want / len(R), rel=1e-4)
    # the error at an unobserved entry has no gradient on the output bias
    out = net(Tensor(R))
    e = (out - R) * M
    (e * e).sum().backward()
    unobserved_users = np.flatnonzero(M.sum(axis=0) == 0)
    assert np.all(net.decoder.b.grad[unobserved_users] == 0)


def test_fits_tiny_ratings_and_round_trips(tiny_ratings, tmp_path):
    y = tiny_ratings.ratings
    u, i = tiny_ratings.users, tiny_ratings.items
    m = AutoRec(hidden=16, n_epochs=60, batch_size=8, lr=0.01, reg=0.1)
    m.fit(tiny_ratings)
    base = rmse(y, np.full(len(y), y.mean()))
    assert rmse(y, m.predict_pairs(u, i)) < 0.6 * base
    p = m.predict_pairs(u, i)
    assert p.min() >= y.min() and p.max() <= y.max()
    m2 = Recommender.load(m.save(tmp_path / "a.npz"))
    np.testing.assert_allclose(m2.predict_pairs(u, i), p, rtol=1e-6)


def test_cold_items_get_the_mean(tiny_ratings):
    keep = tiny_ratings.items != 0  # item 0 has no training rating
    train = tiny_ratings.subset(np.flatnonzero(keep))
    m = AutoRec(hidden=4, n_epochs=2, batch_size=8).fit(train)
    got = m.predict_pairs(np.array([0, 1]), np.array([0, 0]))
    np.testing.assert_allclose(got, train.ratings.mean(), rtol=1e-5)


def test_errors(tiny_ratings):
    with pytest.raises(ValueError, match="batch_size=0"):
        AutoRec(batch_size=0)
    with pytest.raises(ValueError, match="hidden"):
        AutoRec(hidden=0)
    with pytest.raises(TrainingDivergedError, match="lower lr"):
        AutoRec(hidden=4, n_epochs=3, lr=1e30, optimizer="sgd").fit(tiny_ratings)
