"""Attention layers.

* ``MultiHeadSelfAttention`` (Vaswani et al. 2017; SASRec, Kang & McAuley 2018)::

      Q = X W_q, K = X W_k, V = X W_v   split into h heads of size d/h
      A = softmax(Q Kᵀ / √(d/h) + M)   M = -1e9 where attention is not allowed
      out = concat_heads(A V) W_o

  ``causal=True`` lets position t attend to positions <= t only; ``pad_mask`` (B, T)
  bool (True = real item) hides padded keys. ``forward(x, kv=Y)`` takes K and V
  from Y instead of x (SASRec's reference code: Q from LN(X), K and V from X).

* ``AttentionPooling`` (doc 002 §4.2)::

      e_t = vᵀ tanh(W_h h_t + W_x x_t),   α = softmax(e),   c = Σ_t α_t h_t
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import as_rng, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from . import init as inits
from .layers import Dropout, Linear
from .module import Module, Parameter

NEG = -1e9  # a large negative logit, not -inf: fully masked rows stay finite


class MultiHeadSelfAttention(Module):
    def __init__(
        self,
        dim: int,
        heads: int = 1,
        causal: bool = True,
        dropout: float = 0.0,
        rng=None,
        xp=None,
    ):
        check_positive_int("dim", dim)
        check_positive_int("heads", heads)
        if dim % heads:
            raise ValueError(
                f"MultiHeadSelfAttention: dim={dim} not divisible by heads={heads}"
            )
        rng = as_rng(rng)
        self.heads, self.causal = heads, causal
        self.Wq = Linear(dim, dim, rng=rng, xp=xp)
        self.Wk = Linear(dim, dim, rng=rng, xp=xp)
        self.Wv = Linear(dim, dim, rng=rng, xp=xp)
        self.Wo = Linear(dim, dim, rng=rng, xp=xp)
        self.drop = Dropout(dropout, rng=rng)

    def _split(self, t: Tensor) -> Tensor:  # (B, T, d) -> (B, h, T, d/h)
        B, T, d = t.shape
        return F.transpose(
            F.reshape(t, (B, T, self.heads, d // self.heads)), (0, 2, 1, 3)
        )

    def forward(self, x: Tensor, pad_mask=None, kv: Tensor | None = None) -> Tensor:
        """x (B, T, dim) -> (B, T, dim); keys and values from `kv` (default x)."""
        B, T, d = x.shape
        xp = x.xp
        kv = x if kv is None else kv
        q, k, v = (
            self._split(self.Wq(x)),
            self._split(self.Wk(kv)),
            self._split(self.Wv(kv)),
        )
        scores = (q @ F.transpose(k, (0, 1, 3, 2))) * (1 / math.sqrt(d // self.heads))
        allowed = None
        if self.causal:
            allowed = xp.tril(xp.ones((T, T), dtype=bool))
        if pad_mask is not None:
            keys = xp.asarray(pad_mask, dtype=bool)[:, None, None, :]
            allowed = keys if allowed is None else allowed & keys
        if allowed is not None:
            scores = F.where(allowed, scores, Tensor(xp.asarray(NEG, dtype=x.dtype)))
        att = self.drop(F.softmax(scores, axis=-1))
        ctx = F.reshape(F.transpose(att @ v, (0, 2, 1, 3)), (B, T, d))
        return self.Wo(ctx)


class AttentionPooling(Module):
    """``pool(h (B, T, h_dim), x (B, T, x_dim) or None, mask=None) -> (c, alpha)``."""

    def __init__(
        self,
        h_dim: int,
        x_dim: int | None = None,
        attn_dim: int = 32,
        rng=None,
        xp=None,
    ):
        rng = as_rng(rng)
        self.Wh = Linear(h_dim, attn_dim, bias=False, rng=rng, xp=xp)
        self.Wx = Linear(x_dim, attn_dim, rng=rng, xp=xp) if x_dim else None
        self.v = Parameter(inits.xavier_uniform((attn_dim, 1), rng, xp)[:, 0].copy())

    def forward(self, h: Tensor, x: Tensor | None = None, mask=None):
        a = self.Wh(h)
        if self.Wx is not None:
            if x is None:
                raise ValueError("AttentionPooling was built with x_dim: pass x")
            a = a + self.Wx(x)
        e = F.tanh(a) @ self.v  # (B, T)
        if mask is not None:
            e = F.where(
                np.asarray(mask, dtype=bool) if h.xp is np else mask,
                e,
                Tensor(h.xp.asarray(NEG, dtype=h.dtype)),
            )
        alpha = F.softmax(e, axis=-1)
        c = F.sum(F.reshape(alpha, alpha.shape + (1,)) * h, axis=1)
        return c, alpha
