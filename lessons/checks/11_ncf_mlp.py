"""Checks of lesson 11's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec.autograd import Tensor
from minirec.models.ncf import MLPNet
from minirec.nn import losses


def check_11_1(fn):
    net = MLPNet(n_users=7, n_items=9, layers=[8, 6, 4], rng=3, std=0.5)
    u, i = np.array([0, 3, 6, 2, 3]), np.array([8, 1, 4, 0, 1])
    lin = net.tower.layers[::2]
    got = np.asarray(
        fn(
            net.P.W.data.copy(),
            net.Q.W.data.copy(),
            [layer.W.data.copy() for layer in lin],
            [layer.b.data.copy() for layer in lin],
            net.h.W.data[:, 0].copy(),
            float(net.h.b.data[0]),
            u,
            i,
        ),
        dtype=np.float64,
    ).reshape(-1)
    want = net(u, i).numpy()
    assert got.shape == want.shape, f"expected {want.shape[0]} logits, got {got.shape}"
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5), (
        f"logits {np.round(got, 4)} but minirec's MLPNet gives {np.round(want, 4)}: "
        "concatenate [p_u; q_i], apply x @ W + b then ReLU per layer, then h . z + b"
    )


def check_11_2(fn):
    z = np.array([-800.0, -3.0, -0.5, 0.0, 2.0, 800.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    with np.errstate(all="ignore"):
        loss, grad = fn(z.copy(), y.copy())
    zt = Tensor(z, requires_grad=True)
    want = losses.bce_with_logits(zt, y)
    want.backward()
    assert np.isfinite(loss), f"loss {loss} is not finite at logits ±800"
    assert np.isclose(float(loss), want.item(), rtol=1e-6), (
        f"loss {float(loss):.6f}, expected {want.item():.6f} = mean(softplus(z) - y z)"
    )
    grad = np.asarray(grad, dtype=np.float64)
    assert grad.shape == z.shape and np.allclose(grad, zt.grad, atol=1e-9), (
        f"gradient {np.round(grad, 4)}, expected (sigmoid(z) - y) / N = "
        f"{np.round(zt.grad, 4)}"
    )


def check_11_3(fn):
    n_items, seen, n = 10, np.array([0, 2, 3, 7]), 60_000
    got = np.asarray(fn(n_items, seen, n, np.random.default_rng(0)))
    assert got.shape == (n,), f"expected {n} items, got shape {got.shape}"
    assert np.issubdtype(got.dtype, np.integer), (
        f"indices must be integers, got {got.dtype}"
    )
    assert not np.isin(got, seen).any(), "some sampled items are in `seen`"
    assert got.min() >= 0 and got.max() < n_items, "indices outside 0..n_items-1"
    share = (
        np.bincount(got, minlength=n_items)[np.setdiff1d(np.arange(n_items), seen)] / n
    )
    assert np.all(np.abs(share - 1 / 6) < 0.01), (
        f"the 6 unseen items should each get ~1/6 of the draws, got {np.round(share, 3)}"
    )
