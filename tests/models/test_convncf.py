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
