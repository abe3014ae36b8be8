"""Each optimizer's first steps against its formula, sparse (RowGrad) updates against
dense ones, clipping and the LR schedules."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from standin import namespace

from minirec.autograd import RowGrad, Tensor
from minirec.optim import (
    FLUSH_EVERY,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineLR,
    ExponentialLR,
    StepLR,
    WarmupLR,
    clip_grad_norm,
)


@pytest.fixture(params=os.environ.get("MINIREC_TEST_XP", "numpy,standin").split(","))
def xp(request, monkeypatch):
    return namespace(request.param, monkeypatch)


def _np(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


GRADS = [
    np.array([0.5, -1.0, 2.0]),
    np.array([-0.3, 0.2, 1.0]),
    np.array([1.0, 1.0, 0.0]),
]
THETA0 = np.array([1.0, -2.0, 0.5])


def run(xp, opt_cls, **kw):
    p = Tensor(xp.asarray(THETA0.copy()), requires_grad=True)
    opt = opt_cls([p], **kw)
    out = []
    for g in GRADS:
        p.grad = xp.asarray(g)
        opt.step()
        out.append(_np(p.data).copy())
    return out


def test_sgd_momentum_weight_decay(xp):
    lr, mu, wd = 0.1, 0.9, 0.01
    got = run(xp, SGD, lr=lr, momentum=mu, weight_decay=wd)
    th, v = THETA0.copy(), np.zeros(3)
    for g, res in zip(GRADS, got, strict=True):
        v = mu * v + (g + wd * th)
        th = th - lr * v
        np.testing.assert_allclose(res, th, rtol=1e-12)
    plain = run(xp, SGD, lr=lr)
    np.testing.assert_allclose(plain[0], THETA0 - lr * GRADS[0])


def test_adagrad(xp):
    got = run(xp, Adagrad, lr=0.5, eps=1e-10)
    th, G = THETA0.copy(), np.zeros(3)
    for g, res in zip(GRADS, got, strict=True):
        G += g * g
        th = th - 0.5 * g / (np.sqrt(G) + 1e-10)
        np.testing.assert_allclose(res, th, rtol=1e-12)


@pytest.mark.parametrize("cls,wd", [(Adam, 0.0), (Adam, 0.1), (AdamW, 0.1)])
def test_adam_and_adamw(xp, cls, wd):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    got = run(xp, cls, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    th, m, v = THETA0.copy(), np.zeros(3), np.zeros(3)
    for t, (g, res) in enumerate(zip(GRADS, got, strict=True), start=1):
        if cls is Adam:
            g = g + wd * th
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        if cls is AdamW:
            th = th - lr * wd * th
        th = th - lr * mhat / (np.sqrt(vhat) + eps)
        np.testing.assert_allclose(res, th, rtol=1e-12)
    # the first Adam step moves every coordinate by about lr (sign of the gradient)
    if wd == 0:
        np.testing.assert_allclose(np.abs(got[0] - THETA0), lr, rtol=1e-5)


def _sparse_vs_dense(xp, make_opt, steps):
    rng = np.random.default_rng(0)
    W0 = rng.normal(size=(6, 2))
    pd = Tensor(xp.asarray(W0.copy()), requires_grad=True)
    ps = Tensor(xp.asarray(W0.copy()), requires_grad=True)
    od, os_ = make_opt([pd]), make_opt([ps])
    for rows in steps:
        rows = np.asarray(rows)
        vals = rng.normal(size=(len(rows), 2))
        rg = RowGrad(xp.asarray(rows), xp.asarray(vals), (6, 2))
        ps.grad, pd.grad = rg, rg.dense()
        od.step()
        os_.step()
    return _np(pd.data), _np(ps.data), W0


def test_sparse_sgd_and_adagrad_equal_dense(xp):
    steps = [[0, 3], [3, 5], [1]]
    for make in (lambda p: SGD(p, lr=0.1), lambda p: Adagrad(p, lr=0.1)):
        d, s, _ = _sparse_vs_dense(xp, make, steps)
        np.testing.assert_allclose(s, d, rtol=1e-12)


def test_lazy_adam_touches_only_rows_in_the_batch(xp):
    steps = [[0, 3], [3, 5]]
    d, s, W0 = _sparse_vs_dense(xp, lambda p: Adam(p, lr=0.1, lazy=True), steps)
    np.testing.assert_array_equal(s[[1, 2, 4]], W0[[1, 2, 4]])  # never touched
    # touched every step: dense Adam but for where ε goes (SparseAdam adds it to √v)
    np.testing.assert_allclose(s[3], d[3], rtol=1e-6)
    assert not np.allclose(d[0], s[0])  # dense Adam keeps moving row 0 by momentum
    # dense mode with a RowGrad is exact Adam
    d2, s2, _ = _sparse_vs_dense(xp, lambda p: Adam(p, lr=0.1, lazy=False), steps)
    np.testing.assert_allclose(s2, d2, rtol=1e-12)


@pytest.mark.parametrize(
    "make", [lambda p: Adam(p, lr=0.01), lambda p: SGD(p, lr=0.01)]
)
def test_tiny_values_are_flushed_every_flush_every_steps(xp, make):
    """Parameter entries below √tiny (a dead factor column) are zeroed every
    FLUSH_EVERY steps, subnormal optimizer state too; the rest is left alone."""
    tiny = np.finfo(np.float32).tiny
    w0 = np.array([[0.5, 1e-20, 1e-18], [-0.25, -tiny / 2, -1e-18]], dtype=np.float32)
    p = Tensor(xp.asarray(w0.copy()), requires_grad=True)
    opt = make([p])
    for t in range(1, FLUSH_EVERY + 1):
        p.grad = xp.zeros_like(p.data)  # no gradient: nothing else moves p
        opt.step()
        w = _np(p.data)
        if t < FLUSH_EVERY:
            np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(w[:, 1], 0.0)
    np.testing.assert_array_equal(w[:, [0, 2]], w0[:, [0, 2]])
    # the Adam moments: a subnormal one is flushed, normal ones (even 1e-20) kept
    opt = Adam([p], lr=0.01)
    p.grad = xp.asarray(np.full((2, 3), 1e-19, dtype=np.float32))
    opt.step()  # m = 0.1 g = 1e-20 (normal), v = 0.001 g² = 1e-41 (subnormal)
    m, v = (_np(a) for a in opt._state(p, "m", "v"))
    assert (m > 0).all() and ((0 < v) & (v < tiny)).all()
    p.data[0, 0] = 1e-20  # a tiny entry: zeroed with its moments
    before = _np(p.data).copy()
    opt.flush_tiny()
    m2, v2 = (_np(a) for a in opt._state(p, "m", "v"))
    assert _np(p.data)[0, 0] == 0 and m2[0, 0] == 0
    np.testing.assert_array_equal(_np(p.data).ravel()[1:], before.ravel()[1:])
    np.testing.assert_array_equal(m2.ravel()[1:], m.ravel()[1:])
    np.testing.assert_array_equal(v2, 0.0)


def test_clip_grad_norm(xp):
    a = Tensor(xp.zeros(2), requires_grad=True)
    b = Tensor(xp.zeros((4, 2)), requires_grad=True)
    a.grad = xp.asarray([3.0, 0.0])
    b.grad = RowGrad(xp.asarray([1]), xp.asarray([[0.0, 4.0]]), (4, 2))
    norm = clip_grad_norm([a, b], 1.0)
    assert norm == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)  # torch.nn.utils.clip_grad_norm_'s 1e-6
    np.testing.assert_allclose(_np(a.grad), [3 * scale, 0], rtol=1e-12)
    np.testing.assert_allclose(_np(b.grad.values), [[0, 4 * scale]], rtol=1e-12)
    assert clip_grad_norm([a, b], 10.0) == pytest.approx(1.0)
    np.testing.assert_allclose(_np(a.grad), [3 * scale, 0], rtol=1e-12)


def test_schedulers(xp):
    def opt():
        return SGD([Tensor(xp.zeros(1), requires_grad=True)], lr=1.0)

    s = StepLR(opt(), step_size=2, gamma=0.5)
    assert [s.step() for _ in range(5)] == [1.0, 0.5, 0.5, 0.25, 0.25]
    e = ExponentialLR(opt(), gamma=0.9)
    assert [round(e.step(), 6) for _ in range(2)] == [0.9, 0.81]
    c = CosineLR(opt(), total=4, min_factor=0.1)
    lrs = [c.step() for _ in range(5)]
    assert lrs[1] == pytest.approx(0.55) and lrs[3] == pytest.approx(0.1) == lrs[4]
    o = opt()
    w = WarmupLR(o, warmup=4, after=ExponentialLR(o, gamma=0.5))
    assert o.lr == pytest.approx(0.25)
    assert [w.step() for _ in range(6)] == pytest.approx(
        [0.5, 0.75, 1.0, 0.5, 0.25, 0.125]
    )
    assert math.isclose(CosineLR(opt(), total=10).factor(0), 1.0)


def test_bad_arguments_are_named(xp):
    p = [Tensor(xp.zeros(1), requires_grad=True)]
    with pytest.raises(ValueError, match="lr=-1"):
        Adam(p, lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="momentum"):
        SGD(p, momentum=-0.5)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
