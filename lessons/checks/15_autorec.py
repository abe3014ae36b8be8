"""Checks of lesson 15's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.models.autorec import AutoRecNet, autorec_loss


def _case():
    rng = np.random.default_rng(4)
    M = (rng.random((5, 6)) < 0.5).astype(np.float64)
    M[:, 3] = 0.0  # user 3 rated none of these items
    R = np.round(rng.uniform(1, 5, M.shape)) * M
    net = AutoRecNet(6, 3, rng=1)
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    net.decoder.b.data[:] = rng.normal(size=6)
    w = [net.encoder.W.data, net.encoder.b.data, net.decoder.W.data, net.decoder.b.data]
    return R, M, net, [a.copy() for a in w]


def check_15_1(fn):
    R, M, net, w = _case()
    got = float(fn(R, M, *w, 0.5))
    want = autorec_loss(net, R, M, 0.5).item() * len(R)
    assert np.isclose(got, want, rtol=1e-8), (
        f"L = {got:.5f}, minirec's autorec_loss x n gives {want:.5f} (errors only "
        "where M = 1, squared and summed; penalty lam/2 (|W|^2 + |V|^2) once)"
    )


def check_15_2(fn):
    R, M, net, w = _case()
    net.zero_grad()
    autorec_loss(net, R, M, 0.5).backward()
    want = net.decoder.b.grad * len(R)
    got = np.asarray(fn(R, M, *w, 0.5), np.float64)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert got[3] == 0.0, f"user 3 has no rating: its gradient must be 0, got {got[3]}"
    assert np.allclose(got, want, rtol=1e-8, atol=1e-12), (
        f"got {np.round(got, 4)}, autograd gives {np.round(want, 4)}"
    )


def check_15_3(fn):
    H = np.array([[-2.0, 1.0, 3.0], [4.5, 6.3, 40.0]])
    pred, d = fn(H.copy())
    h = Tensor(H, requires_grad=True)
    out = 1 + 4 * F.sigmoid(h - 3)
    F.sum(out).backward()
    assert np.allclose(pred, out.numpy()), f"predictions {pred}, expected {out.numpy()}"
    assert np.all((pred > 1) & (pred < 5) | np.isclose(pred, 5)), "outside (1, 5)"
    assert np.allclose(d, h.grad), f"derivative {d}, autograd gives {h.grad}"
