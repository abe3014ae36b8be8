"""SASRec: API shapes, causality, window, determinism, save/load, divergence, and
recovery of a planted first-order Markov structure under SASRec's protocol."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import Interactions, synthetic_sessions
from minirec.errors import TrainingDivergedError
from minirec.evaluation_seq import evaluate_sampled_next, sasrec_cases
from minirec.models.sasrec import SASRec
from minirec.models.session_baselines import (
    SequentialRecommender,
    SessionPop,
    as_sequences,
)

FAST = dict(
    k=16, maxlen=8, n_blocks=1, heads=2, dropout=0.1, lr=0.01, batch_size=64, n_epochs=2
)


@pytest.fixture(scope="module")
def planted_sessions():
    return synthetic_sessions(
        400, n_items=25, mean_length=8, n_next=1, noise=0.05, seed=2
    )


@pytest.fixture(scope="module")
def planted(planted_sessions):
    return as_sequences(planted_sessions)


@pytest.fixture(scope="module")
def fitted(planted):
    return SASRec(**FAST).fit(planted[:300])


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="divisible"):
        SASRec(k=10, heads=3)
    with pytest.raises(ValueError, match="dropout"):
        SASRec(dropout=-0.1)
    with pytest.raises(ValueError, match="maxlen"):
        SASRec(maxlen=0)


def test_shapes_and_window(fitted, planted):
    q = [planted[310][:2], planted[311], [1, 99999]]
    S = fitted.score_next(q)
    assert S.shape == (3, fitted.n_items) and np.isfinite(S).all()
    ids, sc = fitted.recommend_next(q, n=4)
    assert ids.shape == (3, 4) and (np.diff(sc, axis=1) <= 0).all()
    long = np.concatenate([planted[312], planted[313], planted[314]])
    assert len(long) > fitted.maxlen
    np.testing.assert_allclose(
        fitted.score_next([long]),
        fitted.score_next([long[-fitted.maxlen :]]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_attention_is_causal(fitted):
    """F_t must not depend on items after t (the future mask)."""
    net = fitted.net_
    a = np.array([[0, 0, 3, 4, 5, 6, 7, 8]])
    b = a.copy()
    b[0, 6:] = [20, 21]
    from minirec.autograd import no_grad

    with no_grad():
        fa, fb = net(a).data, net(b).data
    np.testing.assert_allclose(fa[0, :6], fb[0, :6], rtol=1e-5, atol=1e-6)
    assert not np.allclose(fa[0, 6:], fb[0, 6:])


def test_deterministic_with_seed(planted):
    a = SASRec(**FAST, seed=1).fit(planted[:100])
    b = SASRec(**FAST, seed=1).fit(planted[:100])
    c = SASRec(**FAST, seed=2).fit(planted[:100])
    q = [planted[0][:3]]
    np.testing.assert_array_equal(a.score_next(q), b.score_next(q))
    assert not np.allclose(a.score_next(q), c.score_next(q))


def test_save_load_round_trip(fitted, planted, tmp_path):
    m = SequentialRecommender.load(fitted.save(tmp_path / "s"))
    assert isinstance(m, SASRec) and m.get_params() == fitted.get_params()
    q = [planted[1][:5], planted[2][:1]]
    np.testing.assert_allclose(m.score_next(q), fitted.score_next(q), rtol=1e-6)


def test_catalog_is_the_data_sets_items(planted):
    seqs = planted[:50]
    users = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    # items 26..39 are in no sequence: an Interactions that names them still
    # ranks them, as SASRec's protocol ranks every item of the data set
    data = Interactions.from_arrays(
        users,
        np.concatenate(seqs),
        timestamps=np.arange(len(users), dtype=np.float64),
        item_ids=np.arange(1, 40),
        duplicates="keep",
    )
    m = SASRec(**{**FAST, "n_epochs": 1}).fit(data)
    assert m.n_items == 39 and list(m.item_ids_) == list(range(1, 40))
    assert m.recommend([0], n=5)[0].shape == (1, 5)


def test_learns_planted_markov_under_sasrec_protocol(planted_sessions):
    c = sasrec_cases(planted_sessions.to_interactions())
    m = SASRec(**{**FAST, "n_epochs": 8}).fit(c.train)
    kw = dict(history=c.history, n_neg=20, ks=(3,))
    r = evaluate_sampled_next(m, c.test_prefix, c.test, **kw).metrics
    p = evaluate_sampled_next(SessionPop().fit(c.train), c.test_prefix, c.test, **kw)
    assert r["HR@3"] > 0.6 and r["HR@3"] > p.metrics["HR@3"] + 0.2, r
    assert m.history_[-1]["loss"] < m.history_[0]["loss"]


def test_nan_stops_training(planted):
    class Poisoned(SASRec):
        def _build(self, n_items, rng):
            super()._build(n_items, rng)
            self.net_.E.data[3] = np.nan  # a poisoned embedding row -> NaN loss

    with pytest.raises(TrainingDivergedError, match="lower lr"):
        Poisoned(**{**FAST, "n_epochs": 1}).fit(planted[:50])


def _paper_block_numpy(x, pad, blk, heads):
    """The paper code's block (kang205/SASRec modules.py) written out in NumPy from
    the weights: Z = LN(X), X = Z + softmax(Q Kᵀ/√(d/h) + M) V W_o with Q = Z W_q,
    K = X W_k, V = X W_v, then Z = LN(X), X = (Z + W₂ ReLU(W₁ Z)) · mask."""

    def ln(a, g, b):
        mu = a.mean(-1, keepdims=True)
        return (a - mu) / np.sqrt(a.var(-1, keepdims=True) + 1e-5) * g + b

    def lin(a, layer):
        return a @ layer.W.data + layer.b.data

    att = blk.attn
    B, T, d = x.shape
    z = ln(x, blk.ln1.gamma.data, blk.ln1.beta.data)
    split = lambda t: t.reshape(B, T, heads, d // heads).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = split(lin(z, att.Wq)), split(lin(x, att.Wk)), split(lin(x, att.Wv))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    hidden = np.triu(np.ones((T, T), bool), 1)[None, None] | ~pad[:, None, None, :]
    s = np.where(hidden, -1e9, s)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    a = (w @ v).transpose(0, 2, 1, 3).reshape(B, T, d)
    x = z + lin(a, att.Wo)
    z = ln(x, blk.ln2.gamma.data, blk.ln2.beta.data)
    y = lin(np.maximum(lin(z, blk.W1), 0), blk.W2)
    return (z + y) * pad[..., None]


def test_paper_layout_block_is_the_reference_codes(planted):
    """layout="paper": the trained block equals the reference code's formula in
    NumPy (eval mode: no dropout), and differs from the pre-LN block."""
    from minirec.autograd import Tensor, no_grad

    m = SASRec(**dict(FAST, layout="paper", lazy=False)).fit(planted[:300])
    blk = m.net_.blocks[0]
    blk.eval()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8, 16)).astype(np.float32)
    pad = rng.random((3, 8)) < 0.8
    pad[:, 0] = True
    mask = Tensor(pad[..., None].astype(np.float32))
    with no_grad():
        got = blk(Tensor(x), mask, pad).data
        blk.layout = "pre-ln"
        other = blk(Tensor(x), mask, pad).data
    want = _paper_block_numpy(x.astype(np.float64), pad, blk, heads=2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(other, want, atol=1e-3)


def test_layout_and_lazy_are_checked():
    with pytest.raises(ValueError, match="layout="):
        SASRec(layout="post-ln")
    with pytest.raises(ValueError, match="lazy="):
        SASRec(lazy="yes")


# ---------------------------------------------------------------- loss="ce"
def _ce_case(seed=0, N=13, d=5, n=8):
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(N, d))
    E = rng.normal(size=(n + 1, d))
    tokens = rng.integers(1, n + 1, N)
    return H, E, tokens


@pytest.mark.parametrize("chunk", [16, 10_000])  # 2 rows per chunk, one chunk
def test_softmax_ce_matches_torch_cross_entropy(chunk):
    """_softmax_ce (value and both gradients, any chunking) equals torch's
    cross_entropy over the logits H @ E[1:]ᵀ; the padding row gets no gradient."""
    torch = pytest.importorskip("torch")
    from minirec.autograd import Tensor
    from minirec.models.sasrec import _softmax_ce

    H, E, tokens = _ce_case()
    h, e = Tensor(H, requires_grad=True), Tensor(E, requires_grad=True)
    loss = _softmax_ce(h, e, tokens, chunk=chunk)
    loss.backward()
    ht = torch.tensor(H, requires_grad=True)
    et = torch.tensor(E, requires_grad=True)
    want = torch.nn.functional.cross_entropy(
        ht @ et[1:].T, torch.tensor(tokens - 1, dtype=torch.long)
    )
    want.backward()
    np.testing.assert_allclose(float(loss.item()), want.item(), rtol=1e-12)
    np.testing.assert_allclose(h.grad, ht.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(e.grad, et.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert not np.any(e.grad[0])


def test_softmax_ce_gradcheck():
    from minirec.autograd.gradcheck import gradcheck
    from minirec.models.sasrec import _softmax_ce

    H, E, tokens = _ce_case(seed=1)
    gradcheck(lambda h, e: _softmax_ce(h, e, tokens, chunk=24), H, E)


def _tiny_ce_model():
    """A fitted tiny SASRec(loss="ce") in eval mode with float64 weights, and a
    padded batch of (input, positive) tokens."""
    seqs = [np.array(s) for s in ([0, 1, 2, 3, 4], [5, 6, 2], [3, 1, 0, 6, 5, 4])]
    m = SASRec(k=4, maxlen=5, n_blocks=1, heads=1, dropout=0.2, n_epochs=1, loss="ce")
    m.fit(seqs)
    net = m.net_
    net.eval()
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    inp, pos, _ = m._batch(
        np.arange(3), m._tables(*_csr(seqs)), np.random.default_rng(0)
    )
    return m, net, np.asarray(inp), np.asarray(pos)


def _csr(seqs):
    from minirec.models.sequential import _to_csr

    return _to_csr([s.astype(np.int32) for s in seqs])


def test_ce_loss_of_the_model_matches_torch_on_its_states():
    """SASRec._loss with loss="ce" is torch's cross_entropy of the states at the
    real (non-padded) positions against every item, the targets the next items;
    its gradient w.r.t. the final states and E's output use equal torch's."""
    torch = pytest.importorskip("torch")
    from minirec.autograd import Tensor
    from minirec.autograd import ops as F
    from minirec.models.sasrec import _softmax_ce

    m, net, inp, pos = _tiny_ce_model()
    assert (pos == 0).any() and (pos > 0).any()  # padding is exercised
    loss = m._loss(net, inp, pos, None)
    Fs = net(inp)
    states = Tensor(Fs.data, requires_grad=True)
    E = Tensor(net.E.data, requires_grad=True)
    real = pos > 0
    head = _softmax_ce(F.getitem(states, real), E, pos[real])
    head.backward()
    st = torch.tensor(Fs.data, requires_grad=True)
    et = torch.tensor(net.E.data, requires_grad=True)
    r = torch.tensor(real)
    want = torch.nn.functional.cross_entropy(
        st[r] @ et[1:].T, torch.tensor(pos[real] - 1, dtype=torch.long)
    )
    want.backward()
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-10)
    np.testing.assert_allclose(states.grad, st.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(E.grad, et.grad.numpy(), atol=1e-12)


def test_ce_loss_gradient_through_the_network_by_finite_differences():
    """The gradient of the whole CE loss (item embeddings used at the input and
    the output, attention, layer norms) w.r.t. E and a block weight, by central
    differences in float64."""
    from minirec.autograd.gradcheck import gradcheck

    m, net, inp, pos = _tiny_ce_model()
    W1 = net.blocks[0].W1

    def f(E, W):
        net.E, W1.W = E, W
        return m._loss(net, inp, pos, None)

    gradcheck(f, net.E.data.copy(), W1.W.data.copy(), atol=1e-7, rtol=1e-5)


def test_ce_learns_planted_markov_and_loss_is_checked(planted_sessions):
    with pytest.raises(ValueError, match="loss="):
        SASRec(loss="bpr")
    c = sasrec_cases(planted_sessions.to_interactions())
    m = SASRec(**{**FAST, "n_epochs": 8, "loss": "ce"}).fit(c.train)
    kw = dict(history=c.history, n_neg=20, ks=(3,))
    r = evaluate_sampled_next(m, c.test_prefix, c.test, **kw).metrics
    p = evaluate_sampled_next(SessionPop().fit(c.train), c.test_prefix, c.test, **kw)
    assert r["HR@3"] > 0.6 and r["HR@3"] > p.metrics["HR@3"] + 0.2, r
    assert m.history_[-1]["loss"] < m.history_[0]["loss"]
