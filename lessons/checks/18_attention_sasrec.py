"""Checks of lesson 18's exercises."""

import numpy as np

from minirec.autograd import Tensor
from minirec.nn import AttentionPooling, MultiHeadSelfAttention


def check_18_1(fn):
    rng = np.random.default_rng(0)
    pool = AttentionPooling(4, None, attn_dim=5, rng=2)
    h = rng.normal(size=(3, 6, 4)).astype(np.float32)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2, 1:] = False
    c, alpha = pool(Tensor(h), mask=mask)
    got_c, got_a = fn(h.copy(), pool.Wh.W.data.copy(), pool.v.data.copy(), mask)
    got_a = np.asarray(got_a, np.float64)
    assert got_a.shape == (3, 6), f"alpha must be (B, T) = (3, 6), got {got_a.shape}"
    assert np.all(got_a[~mask] == 0), "padded steps must get alpha exactly 0"
    assert np.allclose(got_a, alpha.numpy(), atol=1e-6), (
        f"alpha row 1 {np.round(got_a[1], 3)}, minirec gives {np.round(alpha.numpy()[1], 3)}"
    )
    assert np.allclose(got_c, c.numpy(), atol=1e-5), "c differs from minirec's pooling"


def check_18_2(fn):
    rng = np.random.default_rng(1)
    T, d = 5, 4
    attn = MultiHeadSelfAttention(d, heads=1, causal=True, rng=3)
    attn.Wo.W.data[...] = np.eye(d, dtype=np.float32)  # read A V directly
    for lin in (attn.Wq, attn.Wk, attn.Wv, attn.Wo):
        lin.b.data[...] = 0
    X = rng.normal(size=(T, d)).astype(np.float32)
    want = attn(Tensor(X[None])).numpy()[0]
    got = np.asarray(
        fn(
            X.copy(),
            attn.Wq.W.data.copy(),
            attn.Wk.W.data.copy(),
            attn.Wv.W.data.copy(),
        ),
        np.float64,
    )
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    assert np.allclose(got[0], want[0], atol=1e-5), (
        "position 0 may attend only to itself: its output is its own value row"
    )
    assert np.allclose(got, want, atol=1e-5), (
        f"differs from minirec's MultiHeadSelfAttention (max error "
        f"{np.abs(got - want).max():.3g}): scale by 1/sqrt(d), mask t' > t"
    )
