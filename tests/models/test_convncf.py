"""ConvNCF: the patch convolution equals conv2d, BPR gradient, learning."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions
from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.models._train import gradcheck_module
from minirec.models.convncf import ConvNCF, ConvNCFNet, PatchConv
from minirec.models.ncf import GMF
from minirec.nn import losses


def test_patch_conv_equals_conv2d():
    pc = PatchConv(3, 5, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    got = pc(Tensor(x)).numpy()
    ref = F.conv2d(
        Tensor(x.transpose(0, 3, 1, 2)),
        Tensor(pc.conv2d_weight()),
        Tensor(pc.lin.b.data),
        stride=2,
    ).numpy()
    np.testing.assert_allclose(got, ref.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)


def test_interaction_map_is_outer_product():
    net = ConvNCFNet(4, 5, 8, 2, 0.0, 0)
    E = net.interaction_map(np.array([1]), np.array([3])).numpy()[0, :, :, 0]
    np.testing.assert_allclose(E, np.outer(net.P.W.data[1], net.Q.W.data[3]))


def test_gradcheck_bpr_loss():
    net = ConvNCFNet(4, 5, 4, 2, 0.0, 0)
    u, i, j = np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0, 4, 2])

    def loss():
        s = net(np.concatenate([u, u]), np.concatenate([i, j]))
        return losses.bpr(s[:3], s[3:])

    assert gradcheck_module(net, loss, atol=1e-5).ok


def _groups():
    r = np.random.default_rng(0)
    us, its = [], []
    for u in range(30):
        own = np.arange(10) + (10 if u % 2 else 0)
        us += [u] * 6
        its += r.choice(own, size=6, replace=False).tolist()
    return Interactions.from_arrays(np.array(us), np.array(its), None)


def test_learns_planted_groups_and_init_from():
    data = _groups()
    gmf = GMF(k=8, n_epochs=2, batch_size=64).fit(data)
    m = ConvNCF(k=8, channels=4, n_epochs=25, batch_size=32, lr=0.01, init_from=gmf)
    m.fit(data)
    s = m.score_items(np.arange(30))
    own = np.array([np.arange(10) + (10 if u % 2 else 0) for u in range(30)])
    other = np.array([np.arange(10) + (0 if u % 2 else 10) for u in range(30)])
    auc = (
        np.take_along_axis(s, own, 1)[:, :, None]
        > np.take_along_axis(s, other, 1)[:, None, :]
    ).mean()
    assert auc > 0.9, auc
    with pytest.raises(ValueError, match="same k"):
        ConvNCF(k=4, channels=2, n_epochs=1, init_from=gmf).fit(data)


def test_errors():
    with pytest.raises(ValueError, match="power of two"):
        ConvNCF(k=12)
    with pytest.raises(ValueError, match="batch_size=0"):
        ConvNCF(batch_size=0)
    with pytest.raises(ValueError, match="sample_fraction"):
        ConvNCF(sample_fraction=1.5)


def test_init_from_bpr_copies_its_factor_tables():
    """The paper's start: ConvNCF's embeddings begin as a trained MF-BPR's."""
    from minirec.models.bpr import BPR

    data = _groups()
    bpr = BPR(k=8, n_epochs=3, seed=0).fit(data)
    m = ConvNCF(k=8, channels=2, n_epochs=1, lr=1e-12, batch_size=512, init_from=bpr)
    m.fit(data)
    np.testing.assert_allclose(m.net_.P.W.data, bpr.P_, atol=1e-6)
    np.testing.assert_allclose(m.net_.Q.W.data, bpr.Q_, atol=1e-6)
    assert "BPR(" in m.fit_info_["init_from"]
    # an unfitted start (what sklearn's clone leaves) is fitted on the data first,
    # as a copy: the same tables as the BPR fitted above, the caller's BPR unfitted
    fresh = BPR(k=8, n_epochs=3, seed=0)
    m2 = ConvNCF(k=8, channels=2, n_epochs=1, lr=1e-12, batch_size=512,
                 init_from=fresh).fit(data)  # fmt: skip
    np.testing.assert_array_equal(m2.net_.P.W.data, m.net_.P.W.data)
    assert not hasattr(fresh, "user_ids_")
    with pytest.raises(TypeError, match="object is not a model"):
        ConvNCF(init_from=object())
    from minirec.models.baselines import Popularity

    with pytest.raises(TypeError, match="Popularity has no factor tables"):
        ConvNCF(k=8, n_epochs=1, init_from=Popularity().fit(data)).fit(data)


def test_dot_head_init_is_the_dot_product_and_its_gradient():
    """head_init="dot": the tower starts as pᵀq (extra channels random, unread),
    so the score and its gradient in p and q are the MF ones."""
    net = ConvNCFNet(6, 7, 16, 5, 0.0, 0, tower="conv", head_init="dot")
    r = np.random.default_rng(3)
    net.P.W.data[...] = r.normal(size=net.P.W.shape).astype(np.float32)
    net.Q.W.data[...] = r.normal(size=net.Q.W.shape).astype(np.float32)
    u, i, j = np.array([0, 2, 5, 5]), np.array([1, 6, 3, 0]), np.array([4, 2, 2, 6])
    P, Q = net.P.W.data.astype(np.float64), net.Q.W.data.astype(np.float64)
    s = net(u, i).numpy()
    np.testing.assert_allclose(s, (P[u] * Q[i]).sum(1), rtol=1e-5, atol=1e-5)
    # BPR loss: d/dp_u = -σ(-(x_ui - x_uj)) (q_i - q_j), d/dq_i = -σ(·) p_u, ...
    B = len(u)
    out = net(np.concatenate([u, u]), np.concatenate([i, j]))
    loss = losses.bpr(out[:B], out[B:])
    loss.backward()
    x = (P[u] * (Q[i] - Q[j])).sum(1)
    c = -1.0 / (1.0 + np.exp(x)) / B  # d mean(-log σ(x)) / dx
    gP, gQ = np.zeros_like(P), np.zeros_like(Q)
    np.add.at(gP, u, c[:, None] * (Q[i] - Q[j]))
    np.add.at(gQ, i, c[:, None] * P[u])
    np.add.at(gQ, j, -c[:, None] * P[u])
    np.testing.assert_allclose(net.P.W.grad.dense(), gP, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.Q.W.grad.dense(), gQ, rtol=1e-4, atol=1e-6)


def test_gradcheck_conv_tower_dot_init():
    net = ConvNCFNet(4, 5, 4, 3, 0.0, 0, tower="conv", head_init="dot")
    net.P.W.data += 0.5  # away from ReLU kinks at 0
    u, i, j = np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0, 4, 2])

    def loss():
        s = net(np.concatenate([u, u]), np.concatenate([i, j]))
        return losses.bpr(s[:3], s[3:])

    assert gradcheck_module(net, loss, atol=1e-5).ok


def test_dot_start_is_scored_as_epoch_0_and_equals_bpr():
    from minirec.models.bpr import BPR

    data = _groups()
    # the paper's MF-BPR: a pure dot product (no item bias), which the tower
    # starts as exactly
    bpr = BPR(k=8, n_epochs=3, seed=0, item_bias=False).fit(data)
    r = np.random.default_rng(0)
    users = np.arange(30)
    pos = r.integers(0, 20, size=30)
    neg = r.integers(0, 20, size=(30, 20))
    valid = (users, pos, neg)
    m = ConvNCF(k=8, channels=3, n_epochs=1, tower="conv", head_init="dot",
                init_from=bpr).fit(data, valid=valid)  # fmt: skip
    h0 = m.history_[0]
    assert h0["epoch"] == 0 and "loss" not in h0
    assert m.best_epoch_ in (0, 1) and m.history_[m.best_epoch_].get("best")
    # the start's validation HR@10 is BPR's own (ties pessimistic in both)
    s_pos = bpr.predict_pairs(users, pos)
    s_neg = bpr.predict_pairs(np.repeat(users, 20), neg.ravel()).reshape(30, 20)
    hr = float((((s_neg >= s_pos[:, None]).sum(1)) < 10).mean())
    assert h0["valid"] == pytest.approx(hr)


def test_freeze_epochs_keep_the_tables_bit_equal_and_lr_embed():
    from minirec.models.bpr import BPR

    data = _groups()
    bpr = BPR(k=8, n_epochs=3, seed=0).fit(data)
    kw = dict(k=8, channels=2, batch_size=32, init_from=bpr)
    frozen = ConvNCF(n_epochs=2, freeze_epochs=2, **kw).fit(data)
    np.testing.assert_array_equal(frozen.net_.P.W.data, bpr.P_.astype(np.float32))
    np.testing.assert_array_equal(frozen.net_.Q.W.data, bpr.Q_.astype(np.float32))
    head0 = ConvNCF(n_epochs=1, lr=1e-12, **kw).fit(data).net_.fc.W.data
    assert not np.allclose(frozen.net_.fc.W.data, head0)  # the head trained
    thawed = ConvNCF(n_epochs=2, freeze_epochs=1, **kw).fit(data)
    assert not np.allclose(thawed.net_.P.W.data, bpr.P_)
    # lr_embed: the tables' own step size, the head keeps lr
    slow = ConvNCF(n_epochs=1, lr_embed=1e-9, **kw).fit(data)
    fast = ConvNCF(n_epochs=1, **kw).fit(data)
    d_slow = np.abs(slow.net_.P.W.data - bpr.P_).max()
    d_fast = np.abs(fast.net_.P.W.data - bpr.P_).max()
    assert d_slow < 1e-6 < d_fast
    np.testing.assert_allclose(slow.net_.fc.W.data, fast.net_.fc.W.data, atol=0.5)
    assert not np.allclose(slow.net_.fc.W.data, head0)


def test_reg_net_shrinks_the_conv_weights():
    data = _groups()
    kw = dict(k=8, channels=4, n_epochs=3, batch_size=32, lr=0.01)
    plain = ConvNCF(**kw).fit(data)
    decayed = ConvNCF(reg_net=5.0, **kw).fit(data)
    norm = lambda m: sum(float((c.lin.W.data**2).sum()) for c in m.net_.convs)  # noqa: E731
    assert norm(decayed) < 0.75 * norm(plain)  # Adam bounds each step by ~lr


def test_option_errors():
    with pytest.raises(ValueError, match="tower='conv'"):
        ConvNCF(head_init="dot")
    with pytest.raises(ValueError, match="channels >= 2"):
        ConvNCF(head_init="dot", tower="conv", channels=1)
    with pytest.raises(ValueError, match="tower="):
        ConvNCF(tower="pool")
    with pytest.raises(ValueError, match="head_init="):
        ConvNCF(head_init="mf")
    with pytest.raises(TypeError, match="freeze_epochs"):
        ConvNCF(freeze_epochs=1.5)
    with pytest.raises(ValueError, match="lr_embed"):
        ConvNCF(lr_embed=0)


def test_conv_tower_saves_and_loads(tmp_path):
    from minirec.models import Recommender

    data = _groups()
    m = ConvNCF(k=8, channels=3, n_epochs=1, tower="conv", head_init="dot").fit(data)
    assert len(m.net_.convs) == 3  # 8 -> 4 -> 2 -> 1
    path = m.save(tmp_path / "convncf.npz")
    back = Recommender.load(path)
    assert back.tower == "conv" and back.head_init == "dot"
    np.testing.assert_array_equal(
        back.score_items(np.arange(5)), m.score_items(np.arange(5))
    )
