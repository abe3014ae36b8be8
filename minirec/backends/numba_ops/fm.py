"""Numba twins of :mod:`minirec.backends.numpy_ops.fm` (read the spec's docstring
for the model, the loss and the SGD step).

Per row: gather its nonzero slots, then the spec's step, one slot and one factor
at a time. Serial and bitwise reproducible run to run; the results differ from
the spec only in float32 summation order. ``numba_fast`` has the tuned variants
the FM model trains with.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._jit import JIT as _JIT

__all__ = ["sgd_fm_epoch", "sgd_fm_blocks_epoch", "fm_predict"]


@njit(inline="always", **_JIT)
def _fm_loss(pred, yn, logistic):
    """(ℓ, g = ∂ℓ/∂ŷ) of one row: squared loss (ŷ − y)², g = ŷ − y, or the
    logistic loss of y ∈ {0, 1}, g = σ(ŷ) − y (numpy_ops.fm)."""
    if logistic:
        z = (2.0 * yn - 1.0) * pred
        loss = max(-z, 0.0) + math.log1p(math.exp(-abs(z)))
        g = np.float32(1.0 / (1.0 + math.exp(-pred)) - yn)
    else:
        g = np.float32(pred - yn)
        loss = float(g) * float(g)
    return loss, g


@njit(inline="always", **_JIT)
def _gather_slots(idx, val, r, jj, xx, m):
    """Append the nonzero slots of row r of (idx, val) to jj, xx from position m;
    returns the new count."""
    for a in range(idx.shape[1]):
        if val[r, a] != 0:
            jj[m] = idx[r, a]
            xx[m] = val[r, a]
            m += 1
    return m


@njit(**_JIT)
def _fm_step(jj, xx, m, yn, w0, w, V, s, lr, reg_w, reg_V, logistic):
    """One SGD step on the row of the m slots (jj[:m], xx[:m]); `s` is a (k,)
    scratch for s_f = Σ_j v_jf x_j. Returns the row's loss."""
    k = V.shape[1]
    lr32, rw, rv = np.float32(lr), np.float32(reg_w), np.float32(reg_V)
    pred = np.float32(w0[0])
    sq = np.float32(0.0)  # Σ_jf (v_jf x_j)²
    for f in range(k):
        s[f] = 0.0
    for b in range(m):
        j = jj[b]
        x = xx[b]
        pred += w[j] * x
        for f in range(k):
            vx = V[j, f] * x
            s[f] += vx
            sq += vx * vx
    ss = np.float32(0.0)
    for f in range(k):
        ss += s[f] * s[f]
    pred += np.float32(0.5) * (ss - sq)
    loss, g = _fm_loss(pred, yn, logistic)
    w0[0] -= lr32 * g
    for b in range(m):
        j = jj[b]
        x = xx[b]
        w[j] -= lr32 * (g * x + rw * w[j])
        for f in range(k):
            v = V[j, f]
            V[j, f] = v - lr32 * (g * (x * s[f] - v * x * x) + rv * v)
    return loss


@njit(**_JIT)
def sgd_fm_epoch(idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic):
    """One SGD epoch of an FM over the rows in `order` (Numba twin of
    :func:`minirec.backends.numpy_ops.sgd_fm_epoch`, same arguments, same updates;
    slots with ``val == 0`` are padding and are skipped)."""
    W = idx.shape[1]
    s = np.zeros(V.shape[1], dtype=np.float32)
    jj = np.zeros(max(W, 1), dtype=np.int64)
    xx = np.zeros(max(W, 1), dtype=np.float32)
    loss = 0.0
    for t in range(len(order)):
        n = order[t]
        m = _gather_slots(idx, val, n, jj, xx, 0)
        loss += _fm_step(jj, xx, m, y[n], w0, w, V, s, lr, reg_w, reg_V, logistic)
    return loss


@njit(**_JIT)
def sgd_fm_blocks_epoch(
    users, items, y, order, user_idx, user_val, item_idx, item_val, w0, w, V, lr,
    reg_w, reg_V, logistic,
):  # fmt: skip
    """:func:`sgd_fm_epoch` where row n is the user block of ``users[n]`` followed
    by the item block of ``items[n]`` (Numba twin of
    :func:`minirec.backends.numpy_ops.sgd_fm_blocks_epoch`)."""
    Wu = user_idx.shape[1]
    Wi = item_idx.shape[1]
    s = np.zeros(V.shape[1], dtype=np.float32)
    jj = np.zeros(Wu + Wi + 1, dtype=np.int64)
    xx = np.zeros(Wu + Wi + 1, dtype=np.float32)
    loss = 0.0
    for t in range(len(order)):
        n = order[t]
        m = _gather_slots(user_idx, user_val, users[n], jj, xx, 0)
        m = _gather_slots(item_idx, item_val, items[n], jj, xx, m)
        loss += _fm_step(jj, xx, m, y[n], w0, w, V, s, lr, reg_w, reg_V, logistic)
    return loss


@njit(parallel=True, **_JIT)
def fm_predict(idx, val, w0, w, V):
    """ŷ of every row (float32, shape (n,)) by the O(k·nnz) identity, rows in
    parallel (Numba twin of :func:`minirec.backends.numpy_ops.fm_predict`)."""
    n, W = idx.shape
    k = V.shape[1]
    out = np.empty(n, dtype=np.float32)
    for r in prange(n):
        s = np.zeros(k, dtype=np.float32)
        pred = np.float32(w0[0])
        sq = np.float32(0.0)
        for a in range(W):
            x = val[r, a]
            if x == 0:
                continue
            j = idx[r, a]
            pred += w[j] * x
            for f in range(k):
                vx = V[j, f] * x
                s[f] += vx
                sq += vx * vx
        inter = np.float32(0.0)
        for f in range(k):
            inter += s[f] * s[f]
        out[r] = pred + np.float32(0.5) * (inter - sq)
    return out
