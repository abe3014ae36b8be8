"""I-AutoRec: masked loss and its gradient, learning, persistence of the inputs."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Recommender
from minirec.autograd import Tensor
from minirec.errors import TrainingDivergedError
from minirec.metrics import rmse
from minirec.models._train import gradcheck_module
from minirec.models.autorec import AutoRec, AutoRecNet, autorec_loss, full_objective


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
    m = AutoRec(k=16, n_epochs=60, batch_size=8, lr=0.01, reg=0.1)
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
    m = AutoRec(k=4, n_epochs=2, batch_size=8).fit(train)
    got = m.predict_pairs(np.array([0, 1]), np.array([0, 0]))
    np.testing.assert_allclose(got, train.ratings.mean(), rtol=1e-5)


def test_errors(tiny_ratings):
    with pytest.raises(ValueError, match="batch_size=0"):
        AutoRec(batch_size=0)
    with pytest.raises(ValueError, match="k=0"):
        AutoRec(k=0)
    with pytest.raises(TrainingDivergedError, match="lower lr"):
        AutoRec(k=4, n_epochs=3, lr=1e30, optimizer="sgd").fit(tiny_ratings)


# ---------------------------------------------------------------- normalisation
def _paper_objective(net, R, M, reg):
    """L = Σ_i ‖(r_i − h(r_i)) ⊙ O_i‖² + λ/2 (‖W‖² + ‖V‖²) in float64 NumPy."""
    V, b1 = net.encoder.W.data.astype(np.float64), net.encoder.b.data
    W, b2 = net.decoder.W.data.astype(np.float64), net.decoder.b.data
    h = (1 / (1 + np.exp(-(R @ V + b1)))) @ W + b2
    return (((R - h) * M) ** 2).sum() + reg / 2 * ((V**2).sum() + (W**2).sum())


def test_batches_sum_to_the_paper_objective_once():
    """The penalty is counted once per pass over the items, not once per batch:
    Σ_batches B · loss(batch, frac = B/n) = L, with a short last batch too."""
    R, M = _batch(2, n_items=11, n_users=6)
    net = AutoRecNet(6, 4, rng=2)
    reg = 3.0
    total = 0.0
    for s in range(0, 11, 4):  # batches of 4, 4, 3
        B = min(4, 11 - s)
        total += B * autorec_loss(net, R[s : s + B], M[s : s + B], reg, B / 11).item()
    want = _paper_objective(net, R, M, reg)
    assert total == pytest.approx(want, rel=1e-5)
    net.zero_grad()
    assert full_objective(net, R, M, reg, chunk=3) == pytest.approx(want, rel=1e-5)


def test_full_objective_gradient():
    """full_objective's chunked gradient is the gradient of L (gradchecked)."""
    R, M = _batch(3, n_items=7, n_users=5)
    net = AutoRecNet(5, 3, rng=3)
    reg = 2.0
    net.zero_grad()
    full_objective(net, R, M, reg, chunk=3)
    chunked = {n: p.grad.copy() for n, p in net.named_parameters()}
    res = gradcheck_module(net, lambda: autorec_loss(net, R, M, reg) * len(R))
    assert res.ok
    net.zero_grad()
    (autorec_loss(net, R, M, reg) * len(R)).backward()
    for n, p in net.named_parameters():
        np.testing.assert_allclose(chunked[n], p.grad, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- early stopping
@pytest.mark.parametrize(
    "kw",
    [
        {"optimizer": "adam", "lr": 0.05, "batch_size": 8},
        {"optimizer": "lbfgs"},
    ],
)
def test_early_stopping_restores_the_best_epoch(tiny_ratings, kw):
    """A weakly regularised net overfits; the weights kept are those of the epoch
    with the lowest validation RMSE, not the last."""
    states = {}

    def keep(model, epoch, rec):
        states[epoch] = model.net_.state_dict()

    m = AutoRec(k=32, reg=0.001, n_epochs=80, early_stopping=True, patience=5, **kw)
    m.fit(tiny_ratings, on_epoch=keep)
    val = [r["valid_rmse"] for r in m.history_]
    assert m.best_epoch_ == int(np.argmin(val)) + 1
    assert m.best_epoch_ < len(m.history_)  # it went on, got worse, stopped
    assert len(m.history_) == m.best_epoch_ + 5
    for name, a in m.net_.state_dict().items():
        np.testing.assert_array_equal(a, states[m.best_epoch_][name])
    # the validation ratings were held out of the inputs
    n_val = round(0.05 * len(tiny_ratings))
    assert len(m._R.data) == len(tiny_ratings) - n_val


def test_pair_predictions_match_the_reconstruction(tiny_ratings):
    m = AutoRec(k=8, n_epochs=3, batch_size=8, early_stopping=True)
    m.fit(tiny_ratings)
    u, i = tiny_ratings.users, tiny_ratings.items
    want = np.clip(m.reconstruct()[i, u], *m.rating_range_)
    np.testing.assert_allclose(m.predict_pairs(u, i), want, rtol=1e-5)


def test_option_errors():
    with pytest.raises(ValueError, match="optimizer='rprop'"):
        AutoRec(optimizer="rprop")
    with pytest.raises(ValueError, match="validation_fraction"):
        AutoRec(validation_fraction=1.0)
