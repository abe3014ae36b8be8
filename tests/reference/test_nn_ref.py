"""Every layer and loss of minirec.nn against PyTorch (CPU, float64): the forward
values and the gradients of the inputs and of every parameter. The torch side is a
torch.nn module with minirec's weights copied in where one exists (minirec's Linear
weight is (in, out), torch's (out, in)), else the documented formula in torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirec import nn
from minirec.autograd import Tensor
from minirec.nn import init, losses

from .conftest import (
    CONV,
    SETTINGS,
    compare,
    coverage,
    documented_difference,
    grid,
    normal,
    seeds,
)

torch = pytest.importorskip("torch", reason="PyTorch (the dev extra) is the reference")
TF = torch.nn.functional

COVERED, covers = coverage()  # the names some reference case below compares


def f64(module, seed=0):
    """`module` with float64 parameters, each redrawn N(0, 0.5²) so that zero biases
    and unit LayerNorm scales do not hide a wrong gradient."""
    r = np.random.default_rng(seed)
    for p in module.parameters():
        p.data = r.normal(0, 0.5, size=p.shape)
    return module


def run(module, torch_fn, *arrays, seed=0, call=None, **kw):
    """compare() for a module: torch_fn gets the torch inputs and a dict of the
    torch parameters by minirec's dotted names."""
    names = [n for n, _ in module.named_parameters()]
    call = call or (lambda *ts: module(*ts))

    def ref(*ts):
        k = len(ts) - len(names)
        return torch_fn(*ts[:k], dict(zip(names, ts[k:], strict=True)))

    return compare(call, ref, *arrays, params=module.parameters(), seed=seed, **kw)


def _copy(dst, src):
    with torch.no_grad():
        dst.copy_(src)


batch = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
sizes = st.integers(1, 5)


# -- feed-forward layers ---------------------------------------------------------------
@covers("Linear")
@SETTINGS
@given(b=batch, io=st.tuples(sizes, sizes), bias=st.booleans(), seed=seeds)
def test_linear(b, io, bias, seed):
    m = f64(nn.Linear(*io, bias=bias), seed)
    run(m, lambda x, P: TF.linear(x, P["W"].T, P.get("b")), normal(b + io[:1], seed))


@covers("Embedding")
@SETTINGS
@given(data=st.data(), nd=st.tuples(sizes, sizes), sparse=st.booleans(), seed=seeds)
def test_embedding(data, nd, sparse, seed):
    """Repeated rows; indices of any shape (torch.nn.Embedding has no negative ones,
    and minirec's Embedding rejects them as torch does)."""
    shape = data.draw(st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple))
    idx = np.random.default_rng(seed).integers(0, nd[0], size=shape)
    m = f64(nn.Embedding(*nd, sparse=sparse), seed)
    run(m, lambda P: TF.embedding(torch.tensor(idx), P["W"]), call=lambda: m(idx))


def test_embedding_bad_indices_are_named():
    m = nn.Embedding(4, 2)
    for bad in (np.array([0, 4]), np.array([-1])):
        with pytest.raises(IndexError, match="out of range for a table of 4 rows"):
            m(bad)
    with pytest.raises(TypeError, match="indices must be integers"):
        m(np.array([0.0]))


@covers("Dropout")
@SETTINGS
@given(
    shape=batch.map(lambda b: b + (3,)), p=st.sampled_from([0.0, 0.3, 0.8]), seed=seeds
)
def test_dropout_module(shape, p, seed):
    """Training: the mask comes from the module's own Generator (torch's stream is
    another), so torch applies the same mask, a * mask / (1 - p); eval: identity, as
    torch.nn.Dropout.eval()."""
    documented_difference("Dropout", "random mask from NumPy's Generator, not torch's")
    x = normal(shape, seed)
    keep = torch.tensor(np.random.default_rng(seed).random(shape) >= p)
    m = nn.Dropout(p, rng=seed)
    run(m, lambda t, P: t * keep / (1 - p) if p else t, x)
    m.eval()
    run(m, lambda t, P: torch.nn.Dropout(p).eval()(t), x)


ACTIVATIONS = {
    "ReLU": torch.nn.ReLU,
    "Tanh": torch.nn.Tanh,
    "Sigmoid": torch.nn.Sigmoid,
    "Identity": torch.nn.Identity,
}


@covers(*ACTIVATIONS)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@SETTINGS
@given(shape=batch, seed=seeds)
def test_activations(name, shape, seed):
    """Grid values: ReLU's kink at exactly 0 (gradient 0 there, as in torch)."""
    ref = ACTIVATIONS[name]()
    run(getattr(nn, name)(), lambda t, P: ref(t), grid(shape + (3,), seed))


TORCH_ACT = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "none": torch.nn.Identity,
}


def _torch_weights(P):
    """minirec's Sequential parameters ``layers.k.W`` / ``layers.k.b`` as the state of
    a torch.nn.Sequential: ``k.weight`` (= Wᵀ) / ``k.bias``."""
    out = {}
    for name, t in P.items():
        _, k, leaf = name.split(".")
        out[f"{k}.weight" if leaf == "W" else f"{k}.bias"] = t.T if leaf == "W" else t
    return out


@covers("MLP", "Sequential")
@SETTINGS
@given(
    widths=st.lists(sizes, min_size=2, max_size=4),
    act=st.sampled_from(sorted(TORCH_ACT)),
    last=st.booleans(),
    seed=seeds,
)
def test_mlp(widths, act, last, seed):
    """MLP (a Sequential of Linear and activation layers) against the same
    torch.nn.Sequential of torch.nn.Linear, run with minirec's weights
    (torch.func.functional_call)."""
    mlp = f64(nn.MLP(widths, activation=act, activate_last=last, rng=seed), seed)
    tmod = torch.nn.Sequential(
        *(
            torch.nn.Linear(*m.W.shape, dtype=torch.float64)
            if isinstance(m, nn.Linear)
            else TORCH_ACT[act]()
            for m in mlp.layers
        )
    )
    assert len(mlp) == len(tmod)
    run(
        mlp,
        lambda x, P: torch.func.functional_call(tmod, _torch_weights(P), (x,)),
        normal((3, widths[0]), seed),
    )


@covers("Conv2d")
@SETTINGS
@given(
    co=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=seeds,
    **CONV,
)
def test_conv2d_module(co, hw, k, stride, padding, bias, seed):
    m = f64(nn.Conv2d(*co, k, stride=stride, padding=padding, bias=bias), seed)
    tm = torch.nn.Conv2d(*co, k, stride=stride, padding=padding, bias=bias)
    run(
        m,
        lambda x, P: torch.func.functional_call(
            tm, {"weight": P["W"], **({"bias": P["b"]} if bias else {})}, (x,)
        ),
        normal((2, co[0]) + hw, seed),
    )
    with pytest.raises(ValueError, match=r"expected input \(N, "):
        m(Tensor(np.zeros((1, co[0] + 1) + hw)))


@covers("MaxPool2d")
@SETTINGS
@given(
    hw=st.tuples(st.integers(2, 6), st.integers(2, 6)), k=st.integers(1, 3), seed=seeds
)
def test_maxpool2d_module(hw, k, seed):
    """Ties on a grid: the first maximum of each window gets the gradient."""
    k = min(k, *hw)
    tm = torch.nn.MaxPool2d(k)
    run(nn.MaxPool2d(k), lambda x, P: tm(x), grid((2, 2) + hw, seed))


@covers("LayerNorm")
@SETTINGS
@given(b=batch, d=sizes, eps=st.sampled_from([1e-5, 1e-2]), seed=seeds)
def test_layer_norm_module(b, d, eps, seed):
    m = f64(nn.LayerNorm(d, eps=eps), seed)
    run(
        m,
        lambda x, P: TF.layer_norm(x, (d,), P["gamma"], P["beta"], eps),
        normal(b + (d,), seed, 3),
        rtol=1e-8,
    )


@covers("PositionalEmbedding")
@SETTINGS
@given(b=batch, t=sizes, extra=st.integers(0, 2), d=sizes, seed=seeds)
def test_positional_embedding(b, t, extra, d, seed):
    m = f64(nn.PositionalEmbedding(t + extra, d), seed)
    run(m, lambda x, P: x + P["P"][:t], normal(b + (t, d), seed))
    with pytest.raises(ValueError, match="sequence length .* > max_len"):
        m(Tensor(np.zeros((t + extra + 1, d))))


# -- recurrent -------------------------------------------------------------------------
def _gru_weights(P):
    """minirec's gates [r, z, n] side by side, x W (W is (in, 3H)), are torch's
    weight_ih = Wxᵀ, weight_hh = Whᵀ, bias_ih = bx, bias_hh = bh."""
    return {
        "weight_ih": P["Wx"].T,
        "weight_hh": P["Wh"].T,
        "bias_ih": P["bx"],
        "bias_hh": P["bh"],
    }


@covers("GRUCell")
@SETTINGS
@given(bih=st.tuples(st.integers(1, 3), sizes, sizes), h0=st.booleans(), seed=seeds)
def test_gru_cell(bih, h0, seed):
    B, i, H = bih
    m = f64(nn.GRUCell(i, H), seed)
    tm = torch.nn.GRUCell(i, H, dtype=torch.float64)
    x = normal((B, i), seed)
    if h0:
        run(
            m,
            lambda x, h, P: torch.func.functional_call(tm, _gru_weights(P), (x, h)),
            x,
            normal((B, H), seed + 1),
        )
    else:
        run(m, lambda x, P: torch.func.functional_call(tm, _gru_weights(P), (x,)), x)


@covers("GRU")
@SETTINGS
@given(
    btih=st.tuples(st.integers(1, 3), st.integers(1, 4), sizes, sizes),
    masked=st.booleans(),
    seed=seeds,
)
def test_gru(btih, masked, seed):
    """Without a mask, torch.nn.GRU(batch_first=True). With a mask (any pattern, not
    only padding at the end), torch.nn.GRUCell step by step where a masked step keeps
    the state: minirec's documented rule, which torch's packed sequences cover only
    for padding at the end."""
    B, T, i, H = btih
    m = f64(nn.GRU(i, H), seed)
    x, h0 = normal((B, T, i), seed), normal((B, H), seed + 1)
    if not masked:
        tm = torch.nn.GRU(i, H, batch_first=True, dtype=torch.float64)

        def ref(x, h, P):
            w = {k + "_l0": v for k, v in _gru_weights(P).items()}
            out, hn = torch.func.functional_call(tm, w, (x, h[None]))
            return out, hn[0]

        run(m, ref, x, h0, call=lambda x, h: m(x, h))
        return
    mask = np.random.default_rng(seed).random((B, T)) < 0.6
    tm = torch.nn.GRUCell(i, H, dtype=torch.float64)
    tmask = torch.tensor(mask)

    def stepwise(x, h, P):
        w, outs = _gru_weights(P), []
        for t in range(T):
            hn = torch.func.functional_call(tm, w, (x[:, t], h))
            h = torch.where(tmask[:, t, None], hn, h)
            outs.append(h)
        out = torch.stack(outs, 1)
        return out, out[:, -1]

    run(m, stepwise, x, h0, call=lambda x, h: m(x, h, mask=mask))


def test_gru_bad_shapes_are_named():
    m = nn.GRU(2, 3)
    with pytest.raises(ValueError, match=r"expected input \(B, T, in_dim\)"):
        m(Tensor(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"mask \(2, 3\) must be \(B, T\)"):
        m(Tensor(np.zeros((2, 4, 2))), mask=np.ones((2, 3), bool))


# -- attention -------------------------------------------------------------------------
def _mha_weights(P):
    """minirec's four Linear layers (W is (in, out)) as torch.nn.MultiheadAttention's
    packed in_proj (rows q, k, v) and out_proj."""
    return {
        "in_proj_weight": torch.cat([P[f"{n}.W"].T for n in ("Wq", "Wk", "Wv")]),
        "in_proj_bias": torch.cat([P[f"{n}.b"] for n in ("Wq", "Wk", "Wv")]),
        "out_proj.weight": P["Wo.W"].T,
        "out_proj.bias": P["Wo.b"],
    }


@covers("MultiHeadSelfAttention")
@SETTINGS
@given(
    bt=st.tuples(st.integers(1, 3), st.integers(1, 5)),
    heads=st.sampled_from([1, 2, 3]),
    hd=st.integers(1, 3),
    causal=st.booleans(),
    padded=st.booleans(),
    seed=seeds,
)
def test_multi_head_self_attention(bt, heads, hd, causal, padded, seed):
    """torch.nn.MultiheadAttention(batch_first=True) with the same weights, a causal
    attn_mask and key_padding_mask = ~pad_mask. Position 0 is always a real item, so
    no query has every key hidden (that case is a documented difference, below)."""
    (B, T), d = bt, heads * hd
    m = f64(nn.MultiHeadSelfAttention(d, heads, causal=causal), seed)
    tm = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    pad = np.random.default_rng(seed).random((B, T)) < 0.7
    pad[:, 0] = True
    kw = {}
    if causal:
        kw["attn_mask"] = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    if padded:
        kw["key_padding_mask"] = torch.tensor(~pad)

    def ref(x, P):
        out, _ = torch.func.functional_call(
            tm, _mha_weights(P), (x, x, x), dict(kw, need_weights=False)
        )
        return out

    run(m, ref, normal((B, T, d), seed), call=lambda x: m(x, pad if padded else None))


def test_attention_with_every_key_hidden():
    """minirec masks with the finite logit -1e9, so a query whose keys are all hidden
    attends uniformly to all T positions (finite output); torch's -inf gives NaN."""
    documented_difference(
        "MultiHeadSelfAttention", "a fully masked query averages all keys, not NaN"
    )
    m = f64(nn.MultiHeadSelfAttention(4, 2, causal=True), 1)
    pad = np.array([[False, True, True]])  # query 0 sees key 0 only, a padded one
    x = normal((1, 3, 4), 2)

    def formula(x, P):
        v = x @ P["Wv.W"] + P["Wv.b"]  # uniform attention: the mean of all values
        return v.mean(1, keepdim=True) @ P["Wo.W"] + P["Wo.b"]

    run(m, formula, x, call=lambda x: m(x, pad)[:, :1])


@covers("AttentionPooling")
@SETTINGS
@given(
    bt=st.tuples(st.integers(1, 3), st.integers(1, 5)),
    dims=st.tuples(sizes, st.one_of(st.none(), sizes), sizes),
    masked=st.booleans(),
    seed=seeds,
)
def test_attention_pooling(bt, dims, masked, seed):
    """The documented formula (doc 002 §4.2) in torch: e = vᵀ tanh(W_h h + W_x x),
    hidden steps set to -1e9, α = softmax(e), c = Σ α h."""
    (B, T), (h_dim, x_dim, a_dim) = bt, dims
    m = f64(nn.AttentionPooling(h_dim, x_dim, a_dim), seed)
    mask = np.random.default_rng(seed).random((B, T)) < 0.7
    mask[:, 0] = True
    tmask = torch.tensor(mask)

    def ref(h, *rest):
        *x, P = rest
        a = h @ P["Wh.W"]
        if x:
            a = a + x[0] @ P["Wx.W"] + P["Wx.b"]
        e = torch.tanh(a) @ P["v"]
        if masked:
            e = e.masked_fill(~tmask, -1e9)
        alpha = torch.softmax(e, -1)
        return (alpha[..., None] * h).sum(1), alpha

    arrays = [normal((B, T, h_dim), seed)]
    if x_dim:
        arrays.append(normal((B, T, x_dim), seed + 1))

    def call(h, x=None):
        return m(h, x, mask if masked else None)

    run(m, ref, *arrays, call=call)
    if x_dim:
        with pytest.raises(ValueError, match="built with x_dim: pass x"):
            m(Tensor(arrays[0]))


# -- losses ----------------------------------------------------------------------------
def _pairwise(torch_formula):
    """The loss of pos (B,) against neg (B,) or (B, S), pos broadcast over S."""

    def ref(pos, neg):
        return torch_formula(pos[:, None] if neg.ndim == 2 else pos, neg)

    return ref


PAIRWISE = {  # name: (minirec call, torch reference)
    "bpr": (losses.bpr, _pairwise(lambda p, n: -TF.logsigmoid(p - n).mean())),
    "top1": (
        losses.top1,
        _pairwise(lambda p, n: (torch.sigmoid(n - p) + torch.sigmoid(n * n)).mean()),
    ),
    "hinge": (
        lambda p, n: losses.hinge(p, n, margin=0.25),  # no score pair on the kink
        _pairwise(
            lambda p, n: TF.margin_ranking_loss(
                p.expand_as(n), n, torch.ones_like(n), margin=0.25
            )
        ),
    ),
}


@covers(*PAIRWISE)
@pytest.mark.parametrize("name", sorted(PAIRWISE))
@SETTINGS
@given(b=st.integers(1, 4), s=st.one_of(st.none(), st.integers(1, 4)), seed=seeds)
def test_pairwise_losses(name, b, s, seed):
    """Scores up to ±30 and ties (hinge's kink at exactly the margin)."""
    mr, ref = PAIRWISE[name]
    neg = grid((b,) if s is None else (b, s), seed, (-30.0, -0.5, 0.0, 0.5, 2.0))
    compare(mr, ref, grid((b,), seed + 1, (-0.5, 0.0, 1.0, 30.0)), neg)


def test_hinge_at_the_kink():
    """At margin - s⁺ + s⁻ = 0 exactly minirec's hinge has gradient 0 (relu's
    subgradient); torch's margin_ranking_loss (clamp_min) takes 1 there. Checked
    against the documented formula mean(relu(margin - s⁺ + s⁻)) in torch."""
    documented_difference("hinge", "gradient 0 at the kink, margin_ranking_loss's 1")
    pos, neg = np.array([1.0, 0.0, 2.0]), np.array([0.5, -0.5, 1.5])  # on the kink
    compare(
        lambda p, n: losses.hinge(p, n, margin=0.5),
        lambda p, n: torch.relu(0.5 - p + n).mean(),
        pos,
        neg,
    )
    tp, tn = (torch.tensor(a, requires_grad=True) for a in (pos, neg))
    TF.margin_ranking_loss(tp, tn, torch.ones(3), margin=0.5).backward()
    assert (tn.grad != 0).all()  # the difference is real: torch's gradient is 1/3


@covers("bpr_max")
@SETTINGS
@given(
    bs=st.tuples(st.integers(1, 4), st.integers(1, 5)),
    reg=st.sampled_from([0.0, 1.0]),
    seed=seeds,
)
def test_bpr_max(bs, reg, seed):
    """GRU4Rec's BPR-max: -log Σ_j sm_j σ(s⁺ - s⁻_j) + λ Σ_j sm_j s⁻_j², sm the
    softmax of the negatives (the 1e-24 inside the log as documented)."""

    def ref(pos, neg):
        sm = torch.softmax(neg, -1)
        p = (sm * torch.sigmoid(pos[:, None] - neg)).sum(-1)
        return (-torch.log(p + 1e-24) + reg * (sm * neg * neg).sum(-1)).mean()

    compare(
        lambda p, n: losses.bpr_max(p, n, reg=reg),
        ref,
        normal(bs[:1], seed, 3),
        normal(bs, seed + 1, 3),
    )


@covers("mse", "bce_with_logits")
@SETTINGS
@given(shape=batch.map(lambda b: b + (3,)), seed=seeds)
def test_mse_and_bce(shape, seed):
    r = np.random.default_rng(seed)
    y, y01 = r.normal(size=shape), (r.random(shape) < 0.5).astype(np.float64)
    compare(
        lambda a: losses.mse(a, y),
        lambda t: TF.mse_loss(t, torch.tensor(y)),
        normal(shape, seed),
    )
    compare(
        lambda a: losses.bce_with_logits(a, y01),
        lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y01)),
        normal(shape, seed, 30),
    )


@covers("cross_entropy")
@SETTINGS
@given(b=batch, c=st.integers(1, 6), weighted=st.booleans(), seed=seeds)
def test_cross_entropy(b, c, weighted, seed):
    """Full softmax over C classes, logits up to ±1000; with per-example weights the
    loss is Σ w ℓ / Σ w (torch's `weight` is per class, so the weighting is done on
    its unreduced losses)."""
    r = np.random.default_rng(seed)
    t = r.integers(0, c, size=b)
    w = r.random(b)
    z = normal(b + (c,), seed, 3)
    z[r.random(z.shape) < 0.2] = 1000.0

    def ref(z):
        per = TF.cross_entropy(
            z.reshape(-1, c), torch.tensor(t).reshape(-1), reduction="none"
        )
        if not weighted:
            return per.mean()
        tw = torch.tensor(w).reshape(-1)
        return (per * tw).sum() / tw.sum()

    compare(lambda a: losses.cross_entropy(a, t, w if weighted else None), ref, z)


def test_cross_entropy_bad_targets_are_named():
    z = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"outside 0..2"):
        losses.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"targets \(3,\) vs logits \(2, 3\)"):
        losses.cross_entropy(z, np.array([0, 1, 2]))


@covers("sampled_softmax")
@SETTINGS
@given(
    bs=st.tuples(st.integers(1, 4), st.integers(1, 5)), logq=st.booleans(), seed=seeds
)
def test_sampled_softmax(bs, logq, seed):
    """Cross-entropy of class 0 over [s⁺ - log q⁺, s⁻ - log q⁻] (torch's
    cross_entropy on the corrected logits)."""
    r = np.random.default_rng(seed)
    lqp, lqn = np.log(r.random(bs[:1])), np.log(r.random(bs))

    def ref(pos, neg):
        if logq:
            pos, neg = pos - torch.tensor(lqp), neg - torch.tensor(lqn)
        logits = torch.cat([pos[:, None], neg], 1)
        return TF.cross_entropy(logits, torch.zeros(bs[0], dtype=torch.long))

    kw = {"log_q_pos": lqp, "log_q_neg": lqn} if logq else {}
    compare(
        lambda p, n: losses.sampled_softmax(p, n, **kw),
        ref,
        normal(bs[:1], seed, 3),
        normal(bs, seed + 1, 3),
    )


@covers("l2_penalty")
@SETTINGS
@given(k=st.integers(1, 3), seed=seeds)
def test_l2_penalty(k, seed):
    arrays = [normal((j + 1, 2), seed + j) for j in range(k)]
    compare(
        lambda *ts: losses.l2_penalty(ts, 0.3),
        lambda *ts: 0.15 * sum((t**2).sum() for t in ts),
        *arrays,
    )
    with pytest.raises(ValueError, match="no tensors given"):
        losses.l2_penalty([], 0.3)


# -- initializers ----------------------------------------------------------------------
@covers("init")
@pytest.mark.parametrize("shape", [(64, 48), (8, 4, 3, 3)])
def test_initializers_match_torch_scales(shape):
    """xavier_uniform's bound and he_normal's std are torch.nn.init's for the same
    weight (torch stores a Linear weight as (out, in): the transposed shape; a conv
    weight is (O, C, kh, kw) in both): the sample's largest |value| sits just under
    torch's bound, its std within 5% of torch's std."""
    tshape = shape[::-1] if len(shape) == 2 else shape
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(tshape))
    bound = math.sqrt(6 / (fan_in + fan_out))
    x = init.xavier_uniform(shape, rng=0, dtype=np.float64)
    assert 0.97 * bound < np.abs(x).max() <= bound
    g = torch.Generator().manual_seed(0)  # torch's sample is seeded: no flaky draw
    t = torch.nn.init.kaiming_normal_(
        torch.empty(tshape), nonlinearity="relu", generator=g
    )
    std = init.he_normal(shape, rng=0, dtype=np.float64).std()
    assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert std == pytest.approx(float(t.std()), rel=0.1)
    assert init.normal(shape, 0.01, rng=0).std() == pytest.approx(0.01, rel=0.05)


# -- every layer and loss is covered ---------------------------------------------------
def test_every_layer_and_loss_has_a_reference_case():
    """A new layer in nn.__all__ or a new loss in nn.losses fails this test until a
    case above compares it with torch. Module and Parameter are the containers every
    case uses; `losses` is the module whose functions are listed one by one."""
    loss_fns = {
        n
        for n, v in vars(losses).items()
        if callable(v) and not n.startswith("_") and v.__module__ == losses.__name__
    }
    wanted = (set(nn.__all__) - {"Module", "Parameter", "losses"}) | loss_fns
    missing = wanted - COVERED
    assert not missing, f"no reference case for {sorted(missing)}"
    assert len(loss_fns) >= 9
