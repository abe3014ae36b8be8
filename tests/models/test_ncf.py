"""NCF models (GMF, NCF-MLP, NeuMF): gradients, learning on planted data,
pre-training, errors."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions
from minirec.data.ncf import ncf_protocol
from minirec.errors import DataError, TrainingDivergedError
from minirec.evaluation import evaluate_sampled
from minirec.models._train import NegativeSampler, gradcheck_module, pointwise_epoch
from minirec.models.ncf import GMF, NCFMLP, GMFNet, MLPNet, NeuMF, NeuMFNet
from minirec.nn import losses


@pytest.fixture(scope="module")
def planted():
    """Two user groups, each interacting with (most of) its own half of the items;
    one held-out positive per user and 20 negatives from the other half."""
    r = np.random.default_rng(0)
    n_users = 40
    us, its = [], []
    test_items = np.empty(n_users, dtype=np.int64)
    for u in range(n_users):
        own = np.arange(15) + (15 if u % 2 else 0)
        picked = r.choice(own, size=9, replace=False)
        test_items[u] = picked[0]
        us += [u] * 8
        its += picked[1:].tolist()
    data = Interactions.from_arrays(np.array(us), np.array(its), None)
    # internal ids equal raw ids here (0..n-1, every id present)
    assert np.array_equal(data.user_ids, np.arange(n_users))
    other = np.array([np.arange(15) + (0 if u % 2 else 15) for u in range(n_users)])
    negs = other[:, :14]
    return data, np.arange(n_users), test_items, negs


def test_log_loss_gradient_is_y_hat_minus_y():
    """∂L/∂z = (σ(z) − y) / B for the mean log loss (doc 000 §3.1)."""
    from minirec.autograd import Tensor

    z = Tensor(np.array([0.3, -1.2, 2.0, 0.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    losses.bce_with_logits(z, y).backward()
    expected = (1 / (1 + np.exp(-z.data)) - y) / 4
    np.testing.assert_allclose(z.grad, expected, rtol=1e-6)


@pytest.mark.parametrize("which", ["gmf", "mlp", "neumf"])
def test_gradcheck_ncf_log_loss(which):
    u = np.array([0, 1, 2, 4, 1])
    i = np.array([1, 2, 5, 0, 5])
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    net = {
        "gmf": lambda: GMFNet(5, 6, 3, 0, std=0.5),
        "mlp": lambda: MLPNet(5, 6, [4, 3], 0, std=0.5),
        "neumf": lambda: NeuMFNet(5, 6, 2, [4, 3], 0),
    }[which]()
    res = gradcheck_module(net, lambda: losses.bce_with_logits(net(u, i), y))
    assert res.ok


def test_sampled_negatives_are_unseen(planted):
    data = planted[0]
    u, i, y = pointwise_epoch(data, 4, np.random.default_rng(0), NegativeSampler(data))
    assert len(u) == 5 * len(data) and y.sum() == len(data)
    seen = set(zip(data.users.tolist(), data.items.tolist()))
    for uu, ii in zip(u[y == 0].tolist(), i[y == 0].tolist()):
        assert (uu, ii) not in seen


@pytest.mark.parametrize(
    "make",
    [
        lambda: GMF(k=8, n_epochs=30, batch_size=64, lr=0.02),
        lambda: NCFMLP(layers=(32, 16), n_epochs=30, batch_size=64, lr=0.01),
        lambda: GMF(k=8, n_epochs=30, batch_size=64, lr=0.005, lazy=False),
    ],
    ids=["gmf", "mlp", "gmf-dense-adam"],
)
def test_learns_planted_groups(planted, make):
    data, tu, ti, negs = planted
    m = make().fit(data)
    hr = evaluate_sampled(m, tu, ti, negs, ks=(5,)).metrics["HR@5"]
    assert hr >= 0.9, hr  # random ranking gives 5/15 = 0.33
    assert m.history_[-1]["loss"] < m.history_[0]["loss"]


def test_neumf_pretraining_fuses_the_two_models(planted):
    data = planted[0]
    gmf = GMF(k=4, n_epochs=3, batch_size=64, lr=0.01).fit(data)
    mlp = NCFMLP(layers=(8, 4), n_epochs=3, batch_size=64, lr=0.01).fit(data)
    # a vanishing SGD step keeps the fused start: z = α z_GMF + (1 − α) z_MLP
    neu = NeuMF(k=4, layers=(8, 4), alpha=0.3, lr=1e-12, n_epochs=1, optimizer="sgd",
                gmf=gmf, mlp=mlp)  # fmt: skip
    seen = []
    neu.fit(data, on_epoch=lambda m, e, r: seen.append(e))
    assert seen == [1]
    u, i = data.users[:20], data.items[:20]
    want = 0.3 * gmf.predict_pairs(u, i) + 0.7 * mlp.predict_pairs(u, i)
    np.testing.assert_allclose(neu.predict_pairs(u, i), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same sizes"):
        NeuMF(k=8, layers=(8, 4), n_epochs=1, gmf=gmf, mlp=mlp).fit(data)


def test_neumf_zero_epochs_is_the_fused_start_exactly(planted):
    """n_epochs=0: no fine-tuning step at all; unfitted starts are fitted first
    with their own hyperparameters, and the score is α z_GMF + (1 − α) z_MLP."""
    data = planted[0]
    gmf = GMF(k=4, n_epochs=2, batch_size=64, lr=0.01)
    mlp = NCFMLP(layers=(8, 4), n_epochs=2, batch_size=64, lr=0.01)
    neu = NeuMF(k=4, layers=(8, 4), alpha=0.6, n_epochs=0, gmf=gmf, mlp=mlp)
    seen = []
    neu.fit(data, on_epoch=lambda m, e, r: seen.append(e))
    assert seen == [] and neu.history_ == [] and neu.best_epoch_ == 0
    g, m = GMF(**gmf.get_params()).fit(data), NCFMLP(**mlp.get_params()).fit(data)
    u, i = data.users[:20], data.items[:20]
    want = 0.6 * g.predict_pairs(u, i) + 0.4 * m.predict_pairs(u, i)
    np.testing.assert_allclose(neu.predict_pairs(u, i), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"n_epochs=0\) keeps the fused"):
        NeuMF(pretrain=False, n_epochs=0)
    with pytest.raises(ValueError, match="n_epochs"):
        NeuMF(n_epochs=-1)


def test_neumf_with_own_pretraining_learns(planted):
    data, tu, ti, negs = planted
    m = NeuMF(k=8, layers=(16, 8), pretrain_epochs=20, pretrain_lr=0.01,
              optimizer="adam", lr=0.001, n_epochs=3, batch_size=64)  # fmt: skip
    m.fit(data)
    assert set(m.pretrain_history_) == {"gmf", "mlp"}
    assert evaluate_sampled(m, tu, ti, negs, ks=(5,)).metrics["HR@5"] >= 0.9


def test_early_stopping_on_validation_keeps_best(planted):
    data, tu, ti, negs = planted
    m = GMF(k=8, n_epochs=40, batch_size=64, lr=0.02, patience=2)
    m.fit(data, valid=(tu, ti, negs))
    scores = [h["valid"] for h in m.history_]
    assert len(scores) < 40 or max(scores) == scores[-1]
    best = max(scores)
    pos = m.predict_pairs(tu, ti)
    neg = m.predict_pairs(np.repeat(tu, negs.shape[1]), negs.ravel())
    rank = (neg.reshape(negs.shape) >= pos[:, None]).sum(axis=1)
    assert float((rank < 10).mean()) == pytest.approx(best)


def test_early_stopping_restores_the_best_epochs_weights(planted):
    """The kept weights are those of ``best_epoch_`` (not the last epoch's), for
    GMF and for NeuMF fine-tuning."""
    data, tu, ti, negs = planted
    u, i = data.users[:30], data.items[:30]
    for make in (
        lambda: GMF(k=8, n_epochs=12, batch_size=64, lr=0.05, patience=12),
        lambda: NeuMF(
            k=4,
            layers=(8, 4),
            pretrain_epochs=2,
            pretrain_lr=0.01,
            optimizer="sgd",
            lr=0.5,
            n_epochs=6,
            batch_size=64,
            patience=6,
        ),
    ):
        m = make()
        scores = {}

        def keep(mm, epoch, rec, scores=scores):
            scores[epoch] = mm.predict_pairs(u, i)

        m.fit(data, valid=(tu, ti, negs), on_epoch=keep)
        valid = [h["valid"] for h in m.history_]  # NeuMF: from its fused start, 0
        assert [h["epoch"] for h in m.history_][0] == (1 if m.name == "gmf" else 0)
        assert m.best_epoch_ == m.history_[int(np.argmax(valid))]["epoch"]
        assert m.best_epoch_ > 0  # here an epoch beats the start (see below)
        np.testing.assert_array_equal(m.predict_pairs(u, i), scores[m.best_epoch_])
    # NeuMF's own pre-training was selected on `valid` too
    assert all("valid" in h for h in m.pretrain_history_["gmf"])
    no_valid = GMF(k=4, n_epochs=2, batch_size=64).fit(data)
    assert no_valid.best_epoch_ == 2


def test_neumf_keeps_its_fused_start_when_no_epoch_beats_it(planted):
    """With `valid`, the fused pre-trained start competes as epoch 0: with a
    vanishing step no epoch beats it (they tie), and the start is what the model
    keeps (the first maximum)."""
    data, tu, ti, negs = planted
    gmf = GMF(k=4, n_epochs=4, batch_size=64, lr=0.02).fit(data)
    mlp = NCFMLP(layers=(8, 4), n_epochs=4, batch_size=64, lr=0.02).fit(data)
    m = NeuMF(k=4, layers=(8, 4), alpha=0.5, optimizer="sgd", lr=1e-12, n_epochs=2,
              batch_size=64, patience=2, gmf=gmf, mlp=mlp)  # fmt: skip
    m.fit(data, valid=(tu, ti, negs))
    assert m.history_[0]["epoch"] == 0 and m.history_[0]["best"]
    assert len(m.history_) == 3 and not any(h.get("best") for h in m.history_[1:])
    assert m.best_epoch_ == 0
    u, i = data.users[:20], data.items[:20]
    want = 0.5 * gmf.predict_pairs(u, i) + 0.5 * mlp.predict_pairs(u, i)
    np.testing.assert_allclose(m.predict_pairs(u, i), want, rtol=1e-5, atol=1e-6)


def test_neumf_alpha_valid_picks_the_best_blend_on_validation(planted):
    """alpha='valid' scores the fused start α z_GMF + (1 − α) z_MLP on `valid` for
    α = 0, 0.1, ..., 1 and keeps the first best."""
    data, tu, ti, negs = planted
    gmf = GMF(k=4, n_epochs=1, batch_size=64, lr=0.01, seed=1).fit(data)
    mlp = NCFMLP(layers=(8, 4), n_epochs=1, batch_size=64, lr=0.01, seed=2).fit(data)
    # a hard case: the user's own held-out item against its other own items
    hard = np.array([[x for x in np.arange(15) + (15 if u % 2 else 0) if x != t][:12]
                     for u, t in zip(tu, ti, strict=True)])  # fmt: skip

    def hr10(a):
        pos = a * gmf.predict_pairs(tu, ti) + (1 - a) * mlp.predict_pairs(tu, ti)
        u, i = np.repeat(tu, hard.shape[1]), hard.ravel()
        neg = a * gmf.predict_pairs(u, i) + (1 - a) * mlp.predict_pairs(u, i)
        rank = (neg.reshape(hard.shape) >= pos[:, None]).sum(axis=1)
        return float((rank < 10).mean())

    want = [hr10(a / 10) for a in range(11)]
    assert len(set(want)) > 1  # the blend matters on these cases
    m = NeuMF(k=4, layers=(8, 4), alpha="valid", optimizer="sgd", lr=1e-12,
              n_epochs=1, batch_size=64, gmf=gmf, mlp=mlp)  # fmt: skip
    m.fit(data, valid=(tu, ti, hard))
    assert [a for a, _ in m.alpha_scores_] == [a / 10 for a in range(11)]
    np.testing.assert_allclose([h for _, h in m.alpha_scores_], want)
    assert m.alpha_ == int(np.argmax(want)) / 10
    u, i = data.users[:20], data.items[:20]
    a = m.alpha_
    blend = a * gmf.predict_pairs(u, i) + (1 - a) * mlp.predict_pairs(u, i)
    np.testing.assert_allclose(m.predict_pairs(u, i), blend, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="valid="):
        NeuMF(k=4, layers=(8, 4), alpha="valid", n_epochs=1, gmf=gmf, mlp=mlp).fit(data)
    with pytest.raises(ValueError, match="'valid'"):
        NeuMF(alpha="best")


def test_default_mlp_tower_is_the_papers_three_hidden_layers():
    """32 predictive factors: embeddings 64, hidden layers 128 -> 64 -> 32 (§4.1)."""
    from minirec.nn import Linear

    assert list(NCFMLP().layers) == [128, 128, 64, 32] == list(NeuMF().layers)
    net = MLPNet(5, 6, NCFMLP().layers, 0)
    shapes = [m.W.shape for m in net.tower.layers if isinstance(m, Linear)]
    assert shapes == [(128, 128), (128, 64), (64, 32)]
    assert net.P.W.shape == (5, 64)


def test_mlp_tower_init_he_or_glorot_uniform():
    """init="xavier" (the released code's Keras default) draws the tower from
    U(-a, a), a = sqrt(6 / (fan_in + fan_out)); "he" is N(0, 2 / fan_in), wider."""
    from minirec.nn import Linear

    def tower(init):
        m = NCFMLP(layers=(128, 128, 64, 32), init=init)
        return [
            x.W.data for x in m._build(5, 6, 0).tower.layers if isinstance(x, Linear)
        ]

    for W in tower("xavier"):
        a = np.sqrt(6.0 / sum(W.shape))
        assert np.abs(W).max() <= a and np.abs(W).max() > 0.9 * a
    for W in tower("he"):
        assert np.abs(W).max() > np.sqrt(6.0 / sum(W.shape))  # normal tails go past
    with pytest.raises(ValueError, match="init"):
        NCFMLP(init="glorot")


def test_bad_input_errors(planted, tiny_ratings):
    data = planted[0]
    with pytest.raises(ValueError, match="batch_size=0"):
        GMF(batch_size=0)
    with pytest.raises(ValueError, match="batch_size=-5"):
        NCFMLP(batch_size=-5)
    with pytest.raises(DataError, match="n_negatives=25.*lower n_negatives"):
        GMF(n_negatives=25, n_epochs=1).fit(data)  # each user has 22 unseen items
    with pytest.raises(ValueError, match="layers"):
        NCFMLP(layers=(15, 8))
    with pytest.raises(ValueError, match="valid must be"):
        GMF(n_epochs=1).fit(data, valid=(np.arange(3), np.arange(3), np.arange(3)))
    gmf = GMF(k=4, n_epochs=1).fit(tiny_ratings)
    mlp = NCFMLP(layers=(8, 4), n_epochs=1).fit(tiny_ratings)
    with pytest.raises(ValueError, match="pre-train on the same Interactions"):
        NeuMF(k=4, layers=(8, 4), n_epochs=1, gmf=gmf, mlp=mlp).fit(data)
    with pytest.raises(TypeError, match="NeuMF\\(gmf=...\\): a NCFMLP.*pass a GMF"):
        NeuMF(gmf=mlp)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        GMF(optimizer="rmsprop")


def test_divergence_stops_with_advice(planted):
    with pytest.raises(TrainingDivergedError, match="lower lr"):
        GMF(k=4, n_epochs=3, lr=1e30, optimizer="sgd", batch_size=64).fit(planted[0])


def test_ncf_files_with_other_ids_are_rejected(data_root, tiny_ratings):
    with pytest.raises(DataError, match="not in the data"):
        ncf_protocol(tiny_ratings, path=data_root / "ncf")
