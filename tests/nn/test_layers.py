"""Every layer and loss passes gradcheck (parameters included); Module bookkeeping,
state_dict round trip, and a small MLP that learns a non-linear task."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.errors import ModelFileError
from minirec.nn import losses
from minirec.nn.recurrent import gru_scan
from minirec.optim import Adam

SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _np(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def arr(xp, shape, seed=0, lo=-1.0, hi=1.0):
    return xp.asarray(np.random.default_rng(seed).uniform(lo, hi, size=shape))


def check_module(module, *inputs, out=lambda y: y, xp=np):
    """gradcheck a module w.r.t. its inputs (float arrays) and all its parameters:
    each Parameter attribute is swapped for the float64 Tensor gradcheck perturbs."""
    module.to(xp)
    slots = [
        (m, name, v)
        for m in module.modules()
        for name, v in vars(m).items()
        if isinstance(v, nn.Parameter)
    ]
    n_in = len(inputs)

    def f(*args):
        for (m, name, _), a in zip(slots, args[n_in:], strict=True):
            setattr(m, name, a)
        try:
            return out(module(*args[:n_in]))
        finally:
            for m, name, v in slots:
                setattr(m, name, v)

    params = [xp.asarray(v.data, dtype=xp.float64) for _, _, v in slots]
    res = gradcheck(f, *inputs, *params, raise_on_fail=False)
    assert res.ok, ([f"{type(m).__name__}.{n}" for m, n, _ in slots], str(res))


def test_linear_mlp_and_activations(xp):
    check_module(nn.Linear(3, 2, rng=0), arr(xp, (4, 3)), xp=xp)
    check_module(
        nn.Linear(3, 2, bias=False, init="he", rng=0), arr(xp, (2, 5, 3)), xp=xp
    )
    mlp = nn.MLP([4, 3, 2], activation="tanh", rng=1)
    check_module(mlp, arr(xp, (5, 4)), xp=xp)
    check_module(
        nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sigmoid()), arr(xp, (3, 2)), xp=xp
    )
    relu_mlp = nn.MLP([64, 32, 16, 8], rng=0)
    assert (
        len(relu_mlp) == 6
        and relu_mlp.num_parameters() == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 8 + 8
    )
    assert isinstance(nn.MLP([4, 2], activate_last=False).layers[-1], nn.Linear)


def test_embedding_layer_gather_and_errors(xp):
    emb = nn.Embedding(6, 3, rng=0).to(xp)
    idx = xp.asarray([[0, 5], [5, 5]])
    assert emb(idx).shape == (2, 2, 3)
    np.testing.assert_allclose(_np(emb(idx).data[1, 0]), _np(emb.W.data[5]))

    def f(W):
        return F.embedding(W, idx)

    gradcheck(f, xp.asarray(emb.W.data, dtype=xp.float64))
    with pytest.raises(IndexError, match="index 6 out of range for a table of 6 rows"):
        emb(xp.asarray([6]))
    with pytest.raises(TypeError, match="integers"):
        emb(xp.asarray([0.5]))
    sparse = nn.Embedding(6, 3, sparse=True, rng=0).to(xp)
    sparse(xp.asarray([1, 1, 4])).sum().backward()
    assert list(_np(sparse.W.grad.rows)) == [1, 4]
    np.testing.assert_allclose(_np(sparse.W.grad.values), [[2] * 3, [1] * 3])


def test_conv_pool_layernorm_positional(xp):
    check_module(nn.Conv2d(2, 3, 2, stride=2, rng=0), arr(xp, (2, 2, 4, 4)), xp=xp)
    check_module(nn.Conv2d(1, 2, 3, padding=1, rng=0), arr(xp, (1, 1, 3, 3)), xp=xp)
    check_module(nn.MaxPool2d(2), arr(xp, (1, 2, 4, 4)), xp=xp)
    ln = nn.LayerNorm(4).to(xp)
    ln.gamma.data = ln.gamma.data + xp.asarray([0.1, -0.2, 0.3, 0.0], dtype=np.float32)
    check_module(ln, arr(xp, (3, 4)), xp=xp)
    check_module(nn.PositionalEmbedding(5, 3, rng=0), arr(xp, (2, 4, 3)), xp=xp)
    with pytest.raises(ValueError, match="max_len"):
        nn.PositionalEmbedding(2, 3)(Tensor(xp.zeros((1, 3, 3))))
    with pytest.raises(ValueError, match="Conv2d: expected input"):
        nn.Conv2d(2, 1, 2)(Tensor(xp.zeros((1, 3, 4, 4))))


@SETTINGS
@given(T=st.integers(1, 4), B=st.integers(1, 3), masked=st.booleans())
def test_gru_scan_bptt(xp, T, B, masked):
    H = 2
    mask = None
    if masked:
        lengths = np.random.default_rng(T).integers(1, T + 1, size=B)
        mask = xp.asarray(np.arange(T)[None, :] < lengths[:, None])
    gradcheck(
        lambda xw, h0, Wh, bh: gru_scan(xw, h0, Wh, bh, mask),
        arr(xp, (B, T, 3 * H), 1),
        arr(xp, (B, H), 2),
        arr(xp, (H, 3 * H), 3),
        arr(xp, (3 * H,), 4),
    )


def test_gru_layer_matches_cell_and_masks(xp):
    gru = nn.GRU(3, 4, rng=0).to(xp)
    cell = nn.GRUCell(3, 4)
    cell.Wx, cell.Wh, cell.bx, cell.bh = gru.Wx, gru.Wh, gru.bx, gru.bh
    x = Tensor(arr(xp, (2, 5, 3)).astype(xp.float32))
    out, h_last = gru(x)
    h = None
    for t in range(5):
        h = cell(x[:, t], h)
        np.testing.assert_allclose(
            _np(out.data[:, t]), _np(h.data), rtol=1e-5, atol=1e-6
        )
    # variable lengths: the state after the last real step is carried to the end
    mask = xp.asarray([[True] * 5, [True, True, False, False, False]])
    out_m, h_m = gru(x, mask=mask)
    short, h_short = gru(x[1:2, :2])
    np.testing.assert_allclose(
        _np(h_m.data[1]), _np(h_short.data[0]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        _np(h_m.data[0]), _np(h_last.data[0]), rtol=1e-5, atol=1e-6
    )
    check_module(gru, arr(xp, (2, 3, 3)), out=lambda r: r[0], xp=xp)
    check_module(nn.GRUCell(2, 3, rng=1), arr(xp, (2, 2)), arr(xp, (2, 3)), xp=xp)
    with pytest.raises(ValueError, match="mask"):
        gru(x, mask=xp.ones((2, 4), dtype=bool))


def test_self_attention_causal_and_padding(xp):
    att = nn.MultiHeadSelfAttention(4, heads=2, causal=True, rng=0).to(xp)
    check_module(att, arr(xp, (2, 3, 4)), xp=xp)
    x = arr(xp, (1, 4, 4)).astype(xp.float32)
    y = att(Tensor(x)).data
    x2 = x.copy()
    x2[0, 3] += 5  # changing the last position must not change earlier outputs
    y2 = att(Tensor(x2)).data
    np.testing.assert_allclose(_np(y[0, :3]), _np(y2[0, :3]), rtol=1e-6)
    assert not np.allclose(_np(y[0, 3]), _np(y2[0, 3]))
    pad = xp.asarray([[False, True, True, True]])  # position 0 is padding
    x3 = x.copy()
    x3[0, 0] -= 5
    np.testing.assert_allclose(
        _np(att(Tensor(x), pad).data[0, 1:]),
        _np(att(Tensor(x3), pad).data[0, 1:]),
        rtol=1e-6,
    )
    full = nn.MultiHeadSelfAttention(4, heads=1, causal=False, rng=0).to(xp)
    check_module(full, arr(xp, (1, 3, 4)), xp=xp)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiHeadSelfAttention(5, heads=2)


def test_attention_pooling_doc002(xp):
    pool = nn.AttentionPooling(3, 2, attn_dim=4, rng=0).to(xp)
    check_module(
        pool, arr(xp, (2, 4, 3)), arr(xp, (2, 4, 2)), out=lambda r: r[0], xp=xp
    )
    h, x = arr(xp, (2, 4, 3)), arr(xp, (2, 4, 2))
    c, alpha = pool(Tensor(h), Tensor(x))
    # e_t = v^T tanh(W_h h_t + W_x x_t), alpha = softmax(e), c = sum_t alpha_t h_t
    e = np.tanh(
        _np(h) @ _np(pool.Wh.W.data)
        + _np(x) @ _np(pool.Wx.W.data)
        + _np(pool.Wx.b.data)
    ) @ _np(pool.v.data)
    a = np.exp(e - e.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    np.testing.assert_allclose(_np(alpha.data), a, rtol=1e-5)
    np.testing.assert_allclose(_np(c.data), (a[..., None] * _np(h)).sum(1), rtol=1e-5)
    mask = xp.asarray([[True, True, False, False]] * 2)
    _, am = pool(Tensor(h), Tensor(x), mask)
    np.testing.assert_allclose(_np(am.data[:, 2:]), 0, atol=1e-12)


# -- losses ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bpr", "top1", "hinge"])
@SETTINGS
@given(B=st.integers(1, 4), S=st.sampled_from([None, 1, 3]))
def test_pairwise_losses(xp, name, B, S):
    fn = getattr(losses, name)
    neg_shape = (B,) if S is None else (B, S)
    gradcheck(fn, arr(xp, (B,), 1), arr(xp, neg_shape, 2, -0.3, 0.3))


def test_loss_values_match_formulas(xp):
    pos, neg = arr(xp, (5,), 1), arr(xp, (5, 3), 2)
    p, n = _np(pos), _np(neg)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    cases = {
        "bpr": (
            losses.bpr(Tensor(pos), Tensor(neg)),
            -np.log(sig(p[:, None] - n)).mean(),
        ),
        "top1": (
            losses.top1(Tensor(pos), Tensor(neg)),
            (sig(n - p[:, None]) + sig(n**2)).mean(),
        ),
        "hinge": (
            losses.hinge(Tensor(pos), Tensor(neg), 0.5),
            np.maximum(0, 0.5 - p[:, None] + n).mean(),
        ),
    }
    s = np.exp(n) / np.exp(n).sum(1, keepdims=True)
    bmax = (-np.log((s * sig(p[:, None] - n)).sum(1)) + 0.5 * (s * n**2).sum(1)).mean()
    cases["bpr_max"] = (losses.bpr_max(Tensor(pos), Tensor(neg), reg=0.5), bmax)
    y = (np.arange(5) % 2).astype(float)
    cases["mse"] = (losses.mse(Tensor(pos), xp.asarray(y)), ((p - y) ** 2).mean())
    for name, (got, want) in cases.items():
        np.testing.assert_allclose(float(got.data), want, rtol=1e-10, err_msg=name)


def test_bpr_max_and_softmax_losses_gradcheck(xp):
    gradcheck(
        lambda p, n: losses.bpr_max(p, n, reg=0.5), arr(xp, (3,), 1), arr(xp, (3, 4), 2)
    )
    t = xp.asarray([0, 2, 1])
    gradcheck(lambda z: losses.cross_entropy(z, t), arr(xp, (3, 4), 3))
    w = xp.asarray([1.0, 0.0, 1.0])
    gradcheck(lambda z: losses.cross_entropy(z, t, weight=w), arr(xp, (3, 4), 3))
    gradcheck(
        lambda z: losses.cross_entropy(z, xp.asarray([[0, 1]])), arr(xp, (1, 2, 3), 4)
    )
    lq = xp.log(arr(xp, (3, 4), 5, 0.1, 0.9))
    gradcheck(
        lambda p, n: losses.sampled_softmax(p, n, xp.log(xp.asarray(0.2)), lq),
        arr(xp, (3,), 1),
        arr(xp, (3, 4), 2),
    )
    gradcheck(
        lambda a, b: losses.l2_penalty([a, b], 0.3),
        arr(xp, (2, 2), 1),
        arr(xp, (3,), 2),
    )


def test_cross_entropy_values_and_errors(xp):
    z = arr(xp, (4, 5), 1)
    t = xp.asarray([0, 4, 2, 2])
    zn = _np(z)
    lsm = zn - np.log(np.exp(zn).sum(1, keepdims=True))
    want = -lsm[np.arange(4), _np(t)].mean()
    np.testing.assert_allclose(float(losses.cross_entropy(Tensor(z), t).data), want)
    # sampled softmax over all other classes equals the full softmax
    pos = Tensor(z[:, 0])
    neg = Tensor(z[:, 1:])
    np.testing.assert_allclose(
        float(losses.sampled_softmax(pos, neg).data),
        -lsm[:, 0].mean(),
        rtol=1e-10,
    )
    with pytest.raises(IndexError, match="outside 0..4"):
        losses.cross_entropy(Tensor(z), xp.asarray([0, 5, 1, 1]))
    with pytest.raises(ValueError, match="targets"):
        losses.cross_entropy(Tensor(z), xp.asarray([0, 1]))
    np.testing.assert_allclose(
        float(losses.l2_penalty([Tensor(xp.asarray([3.0, 4.0]))], 0.2).data), 2.5
    )


# -- Module bookkeeping ---------------------------------------------------------------
class Tower(nn.Module):
    def __init__(self, rng=0):
        self.user = nn.Embedding(10, 4, rng=rng)
        self.item = nn.Embedding(8, 4, rng=rng)
        self.mlp = nn.MLP([8, 4], dropout=0.5, rng=rng)
        self.out = nn.Linear(4, 1, rng=rng)

    def forward(self, u, i):
        x = F.concat([self.user(u), self.item(i)], axis=-1)
        return F.reshape(self.out(self.mlp(x)), (-1,))


def test_named_parameters_train_eval_and_state_dict_round_trip(xp, tmp_path):
    m = Tower(rng=0).to(xp)
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "user.W",
        "item.W",
        "mlp.layers.0.W",
        "mlp.layers.0.b",
        "out.W",
        "out.b",
    ]
    assert m.training and all(mod.training for mod in m.modules())
    m.eval()
    assert not any(mod.training for mod in m.modules())
    u, i = xp.asarray([1, 2, 3]), xp.asarray([0, 7, 7])
    y = m(u, i).data
    np.testing.assert_array_equal(_np(m(u, i).data), _np(y))  # eval: no dropout
    path = tmp_path / "m.npz"
    np.savez(path, **{k: _np(v) for k, v in m.state_dict().items()})
    m2 = Tower(rng=99).to(xp)
    assert not np.allclose(_np(m2.eval()(u, i).data), _np(y))
    with np.load(path, allow_pickle=False) as f:
        m2.load_state_dict(dict(f))
    np.testing.assert_array_equal(_np(m2(u, i).data), _np(y))
    sd = m.state_dict()
    sd["out.W"] = sd["out.W"][:2]
    with pytest.raises(ModelFileError, match="'out.W' has shape"):
        m2.load_state_dict(sd)
    del sd["out.W"]
    with pytest.raises(ModelFileError, match=r"missing keys \['out.W'\]"):
        m2.load_state_dict(sd)


def test_small_mlp_learns_xor_like_task(xp):
    """A linear model cannot beat chance on XOR of two signs; the MLP must fit it."""
    r = np.random.default_rng(0)
    X = r.uniform(-1, 1, size=(256, 2)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.float32)
    Xd, yd = xp.asarray(X), xp.asarray(y)
    mlp = nn.Sequential(nn.MLP([2, 16, 16], rng=0), nn.Linear(16, 1, rng=0)).to(xp)
    opt = Adam(mlp.parameters(), lr=0.02)
    for _ in range(300):
        loss = losses.bce_with_logits(F.reshape(mlp(Tensor(Xd)), (-1,)), yd)
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = float(((mlp(Tensor(Xd)).data[:, 0] > 0) == (yd > 0.5)).mean())
    assert acc > 0.95, acc
    assert float(loss.data) < 0.2


@SETTINGS
@given(
    batch=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 3),
    bias=st.booleans(),
)
def test_linear_any_shape(xp, batch, n_in, n_out, bias):
    check_module(
        nn.Linear(n_in, n_out, bias=bias, rng=0), arr(xp, batch + (n_in,)), xp=xp
    )


@SETTINGS
@given(T=st.integers(1, 4), heads=st.sampled_from([1, 2]), causal=st.booleans())
def test_self_attention_any_length(xp, T, heads, causal):
    att = nn.MultiHeadSelfAttention(4, heads=heads, causal=causal, rng=T)
    check_module(att, arr(xp, (2, T, 4)), xp=xp)
