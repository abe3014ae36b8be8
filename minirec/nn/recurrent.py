"""GRU (Cho et al. 2014), as GRU4Rec uses it (Hidasi et al. 2016).

For input x_t and state h (PyTorch's convention, gates [r, z, n] side by side)::

    r = σ(x_t W_r + b_r + h U_r + c_r)          reset gate
    z = σ(x_t W_z + b_z + h U_z + c_z)          update gate
    n = tanh(x_t W_n + b_n + r ⊙ (h U_n + c_n))  candidate
    h' = (1 - z) ⊙ n + z ⊙ h

``GRUCell`` builds one step from ops. ``GRU`` runs a whole sequence as one fused op
(:func:`gru_scan`) whose backward is back-propagation through time written out, so a
sequence of T steps is a handful of graph nodes instead of ~15 T. With a mask (B, T)
(True = a real step) padded steps carry the state unchanged, so sequences of different
lengths share a batch; ``h_last`` is then each sequence's state after its last real
step.
"""

from __future__ import annotations

from .._utils import as_rng, check_positive_int
from ..autograd import ops as F
from ..autograd.tensor import Tensor, as_tensor, make_node
from . import init as inits
from .module import Module, Parameter


def _gate_params(in_dim, hidden, rng, xp):
    rng = as_rng(rng)
    return (
        Parameter(inits.xavier_uniform((in_dim, 3 * hidden), rng, xp)),
        Parameter(inits.xavier_uniform((hidden, 3 * hidden), rng, xp)),
        Parameter(inits.zeros(3 * hidden, xp)),
        Parameter(inits.zeros(3 * hidden, xp)),
    )


class GRUCell(Module):
    """One GRU step: ``cell(x (B, in), h (B, H) or None) -> h' (B, H)``."""

    def __init__(self, in_dim: int, hidden: int, rng=None, xp=None):
        check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.Wx, self.Wh, self.bx, self.bh = _gate_params(in_dim, hidden, rng, xp)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        H = self.hidden
        if h is None:
            h = Tensor(x.xp.zeros((x.shape[0], H), dtype=x.dtype))
        xw = F.linear(x, self.Wx, self.bx)
        hw = F.linear(h, self.Wh, self.bh)
        r = F.sigmoid(xw[:, :H] + hw[:, :H])
        z = F.sigmoid(xw[:, H : 2 * H] + hw[:, H : 2 * H])
        n = F.tanh(xw[:, 2 * H :] + r * hw[:, 2 * H :])
        return n + z * (h - n)


def gru_scan(xw: Tensor, h0: Tensor, Wh: Tensor, bh: Tensor, mask=None) -> Tensor:
    """All steps of a GRU given the input projections ``xw = x W + b`` (B, T, 3H).

    Returns the states (B, T, H). One graph node; its backward is BPTT.
    """
    xp = xw.xp
    B, T, H3 = xw.shape
    H = H3 // 3
    m = None if mask is None else xp.asarray(mask).astype(xw.dtype)[:, :, None]
    h = h0.data
    saved, outs = [], xp.empty((B, T, H), dtype=xw.dtype)
    for t in range(T):
        a = xw.data[:, t]
        hw = h @ Wh.data + bh.data
        r = F._sigmoid(xp, a[:, :H] + hw[:, :H])
        z = F._sigmoid(xp, a[:, H : 2 * H] + hw[:, H : 2 * H])
        n = xp.tanh(a[:, 2 * H :] + r * hw[:, 2 * H :])
        hn = n + z * (h - n)
        if m is not None:
            hn = h + m[:, t] * (hn - h)
        saved.append((h, r, z, n, hw[:, 2 * H :]))
        outs[:, t] = h = hn

    def backward(g):  # BPTT: h' = n + z (h - n), chain rule through r, z, n, U, c
        dxw = xp.empty_like(xw.data)
        dWh, dbh = xp.zeros_like(Wh.data), xp.zeros_like(bh.data)
        dh = xp.zeros_like(h0.data)
        for t in range(T - 1, -1, -1):
            hp, r, z, n, hwn = saved[t]
            dh = dh + g[:, t]
            if m is not None:
                dnew, dcarry = dh * m[:, t], dh * (1 - m[:, t])
            else:
                dnew, dcarry = dh, 0
            dan = dnew * (1 - z) * (1 - n * n)  # through n = tanh(a_n)
            daz = dnew * (hp - n) * z * (1 - z)  # through z = σ(a_z)
            dar = dan * hwn * r * (1 - r)  # through r = σ(a_r)
            dhw = xp.concatenate([dar, daz, dan * r], axis=1)
            dxw[:, t] = xp.concatenate([dar, daz, dan], axis=1)
            dWh += hp.T @ dhw
            dbh += dhw.sum(axis=0)
            dh = dnew * z + dcarry + dhw @ Wh.data.T
        return dxw, dh, dWh, dbh

    return make_node(outs, (xw, h0, Wh, bh), backward)


class GRU(Module):
    """A GRU layer over sequences: ``gru(x (B, T, in), h0=None, mask=None)`` returns
    ``(outputs (B, T, H), h_last (B, H))``; `mask` (B, T) bool marks real steps."""

    def __init__(self, in_dim: int, hidden: int, rng=None, xp=None):
        check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.Wx, self.Wh, self.bx, self.bh = _gate_params(in_dim, hidden, rng, xp)

    def forward(self, x: Tensor, h0=None, mask=None) -> tuple[Tensor, Tensor]:
        if x.ndim != 3:
            raise ValueError(f"GRU: expected input (B, T, in_dim), got {x.shape}")
        if mask is not None and tuple(mask.shape) != x.shape[:2]:
            raise ValueError(
                f"GRU: mask {tuple(mask.shape)} must be (B, T) = {x.shape[:2]}"
            )
        if h0 is None:
            h0 = Tensor(x.xp.zeros((x.shape[0], self.hidden), dtype=x.dtype))
        h0 = as_tensor(h0, x)
        xw = F.linear(x, self.Wx, self.bx)
        out = gru_scan(xw, h0, self.Wh, self.bh, mask)
        return out, out[:, -1]
