"""Checks of lesson 14's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.models.convncf import ConvNCFNet
from minirec.nn import losses


def check_14_1(fn):
    rng = np.random.default_rng(0)
    E = rng.normal(size=(2, 8, 8, 3))
    Wc, b = rng.normal(size=(4, 3, 2, 2)), rng.normal(size=4)
    want = np.zeros((2, 4, 4, 4))
    for n in range(2):
        for a in range(4):
            for c in range(4):
                patch = E[n, 2 * a : 2 * a + 2, 2 * c : 2 * c + 2]  # (2, 2, C_in)
                want[n, a, c] = b + np.einsum(
                    "oxyc,xyc->o", Wc.transpose(0, 2, 3, 1), patch
                )
    got = np.asarray(fn(E.copy(), Wc.copy(), b.copy()), np.float64)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got, want), (
        "values differ from the direct loop over patches; check the order of the "
        f"patch axes (max error {np.abs(got - want).max():.3g})"
    )


def _count(k, channels):
    net = ConvNCFNet(2, 2, k, channels, 0.0, rng=0)  # the layer sizes of the library
    total, side = k * k, k
    for conv in net.convs:
        c_in = conv.conv2d_weight().shape[1]
        side //= 2
        total += side * side * channels * 4 * c_in
    return total + net.fc.W.shape[0]


def check_14_2(fn):
    for k, c in ((8, 3), (64, 32), (16, 8)):
        got, want = int(fn(k, c)), _count(k, c)
        assert got == want, (
            f"k={k}, channels={c}: {got:,} multiply-adds, expected {want:,} "
            "(outer product + every conv layer down to 2x2 + the output layer)"
        )


def check_14_3(fn):
    s_pos = np.array([2.0, -1.0, 0.0, 500.0, -500.0])
    s_neg = np.array([0.5, 1.0, 0.0, -1.0, 1.0])
    loss, gp, gn = fn(s_pos.copy(), s_neg.copy())
    tp, tn = Tensor(s_pos, requires_grad=True), Tensor(s_neg, requires_grad=True)
    want = losses.bpr(tp, tn)
    want.backward()
    assert np.isfinite(loss) and np.isclose(float(loss), want.item(), rtol=1e-8), (
        f"loss {loss}, expected {want.item():.6f} (use -log sigmoid(x) = softplus(-x))"
    )
    assert np.allclose(gp, tp.grad, atol=1e-12), f"g_pos {gp}, expected {tp.grad}"
    assert np.allclose(gn, tn.grad, atol=1e-12), f"g_neg {gn}, expected {tn.grad}"
