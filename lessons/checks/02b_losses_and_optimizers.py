"""Checks of lesson 02b's exercises (called by lessons/_exercises.py)."""

import numpy as np

from minirec import nn
from minirec.autograd import Tensor
from minirec.optim import Adam, clip_grad_norm


def check_02b_1(fn):
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(6, 5)) * 3
    Z[0] = [2000.0, -1500.0, 0.0, 1999.0, 3.0]  # overflows a naive exp
    y = np.array([3, 0, 4, 1, 1, 2])
    with np.errstate(all="ignore"):
        loss, grad = fn(Z.copy(), y.copy())
    Zt = Tensor(Z, requires_grad=True, dtype=np.float64)
    want = nn.losses.cross_entropy(Zt, y)
    want.backward()
    assert np.isfinite(loss), f"loss {loss} is not finite: subtract each row's max"
    assert np.isclose(float(loss), want.item(), rtol=1e-8), (
        f"loss {float(loss):.6f}, expected {want.item():.6f} = mean(logsumexp(z) - z_y)"
    )
    grad = np.asarray(grad, dtype=np.float64)
    assert grad.shape == Z.shape, f"gradient shape {grad.shape}, expected {Z.shape}"
    assert np.allclose(grad, Zt.grad, rtol=1e-8, atol=1e-12), (
        f"gradient off by up to {np.abs(grad - Zt.grad).max():.3g}: "
        "expected (softmax(z) - onehot(y)) / N"
    )


def check_02b_2(fn):
    rng = np.random.default_rng(4)
    theta0 = rng.normal(size=(3, 2))
    h = rng.uniform(0.1, 10, size=(3, 2))
    p = nn.Parameter(theta0.copy())
    opt = Adam([p], lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    theta, m, v = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    grads_seen = []
    for t in range(1, 6):
        g = h * theta  # gradient of 1/2 sum h theta^2 at the learner's theta
        grads_seen.append(g)
        p.grad = h * p.data
        opt.step()
        out = fn(theta.copy(), g.copy(), m.copy(), v.copy(), t, 0.05, 0.8, 0.99, 1e-6)
        assert isinstance(out, tuple) and len(out) == 3, "return (theta, m, v)"
        theta, m, v = (np.asarray(a, dtype=np.float64) for a in out)
        assert np.allclose(theta, p.data, rtol=1e-6, atol=1e-9), (
            f"after step {t} theta = {np.round(theta.ravel(), 6)}, but "
            f"minirec.optim.Adam gives {np.round(p.data.ravel(), 6)}: update m and v, "
            "correct them by 1 - b^t, step by lr m_hat / (sqrt(v_hat) + eps)"
        )
    want_m = sum(0.8 ** (5 - t) * 0.2 * gt for t, gt in enumerate(grads_seen, 1))
    assert np.allclose(m, want_m, rtol=1e-8), "m is not the running mean of g"


def check_02b_3(fn):
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(4, 3)) * 3, rng.normal(size=5) * 3]
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
    want_norm = clip_grad_norm(params, 1.5)
    clipped, norm = fn([g.copy() for g in grads], 1.5)
    assert np.isclose(float(norm), want_norm, rtol=1e-10), (
        f"norm {norm}, expected the joint L2 norm {want_norm:.6f} of all gradients"
    )
    assert len(clipped) == len(grads), "return one clipped array per gradient"
    for c, p in zip(clipped, params, strict=True):
        assert np.allclose(c, p.grad, rtol=1e-10), (
            "clipped gradients differ from minirec.optim.clip_grad_norm: scale all "
            "of them by max_norm / (norm + 1e-6)"
        )
    after = np.sqrt(sum(float((np.asarray(c) ** 2).sum()) for c in clipped))
    assert after <= 1.5 + 1e-9, f"norm after clipping {after:.6f} > max_norm 1.5"
    short, _ = fn([g * 0.01 for g in grads], 1.5)
    assert all(np.allclose(s, g * 0.01) for s, g in zip(short, grads, strict=True)), (
        "gradients shorter than max_norm must be left unchanged"
    )


def check_02b_4(fn):
    x = np.random.default_rng(8).normal(size=(50, 20)).astype(np.float32)
    p = 0.25
    layer = nn.Dropout(p, rng=np.random.default_rng(9))
    want = layer(Tensor(x)).data
    u = np.random.default_rng(9).random(x.shape, dtype=np.float32)  # the same draws
    got = np.asarray(fn(x.copy(), p, u, True))
    assert got.shape == x.shape, f"output shape {got.shape}, expected {x.shape}"
    assert np.allclose(got, want, rtol=1e-6), (
        "training output differs from minirec's Dropout: zero where u < p and "
        "divide the kept entries by 1 - p"
    )
    assert np.array_equal(np.asarray(fn(x.copy(), p, u, False)), x), (
        "in evaluation (training=False) dropout is the identity"
    )
