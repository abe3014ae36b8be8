"""Factorization-machine kernels: the NumPy spec and its Numba twin side by side.

Model (Rendle 2010; doc 000 §4.2, tag ``000-4.2``), for one sparse row x::

    ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j
         = w0 + Σ_i w_i x_i + ½ Σ_f [ (Σ_i v_if x_i)² − Σ_i v_if² x_i² ]   (O(k·nnz))

Rows come in the fixed-width field format of :mod:`minirec.data.features`:
``idx`` (n, W) int32 feature indices, ``val`` (n, W) float32 values; slots with
``val == 0`` are padding and are skipped (so they are not regularised either).

Loss per row, with g = ∂ℓ/∂ŷ:

* squared (regression): ℓ = (ŷ − y)², g = ŷ − y (the factor 2 is folded into lr);
* logistic (classification, y ∈ {0, 1}): ℓ = log(1 + e^{−t ŷ}) with t = 2y − 1,
  g = σ(ŷ) − y.

SGD step, with s_f = Σ_j v_jf x_j computed *before* the step and the gradient
∂ŷ/∂v_if = x_i s_f − v_if x_i² (doc 000 §4.2, printed correctly there)::

    w0   -= lr · g
    w_i  -= lr · (g x_i + λ_w w_i)
    v_if -= lr · (g (x_i s_f − v_if x_i²) + λ_V v_if)

Cost per epoch O(|R| · k · nnz) with nnz ≈ 7-9 on MovieLens with side features.
Shuffle orders are drawn outside (``order``), so the two backends can be compared
on exactly the same sequence of updates. The Numba twins are compiled with
``cache=True``; they also run as plain Python under ``NUMBA_DISABLE_JIT=1``.

Contract names (re-exported by ``numpy_ops`` / ``numba_ops``): ``sgd_fm_epoch``,
``sgd_fm_blocks_epoch`` (rows built from per-user and per-item blocks, the form
the FM model trains with) and ``fm_predict``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._codegen import prefetch_row, wide_vectors

__all__ = [
    "sgd_fm_epoch_numpy",
    "sgd_fm_epoch_numba",
    "sgd_fm_blocks_epoch_numpy",
    "sgd_fm_blocks_epoch_numba",
    "fm_predict_numpy",
    "fm_predict_numba",
]

_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


# ----------------------------------------------------------------------------- NumPy
def _fm_step_numpy(j, x, yn, w0, w, V, lr, reg_w, reg_V, logistic) -> float:
    """One SGD step on one row given as its nonzero (index, value) pairs."""
    Vj = V[j]
    Vx = Vj * x[:, None]
    s = Vx.sum(axis=0)  # s_f = Σ_j v_jf x_j
    y_hat = float(w0[0] + w[j] @ x + 0.5 * (s @ s - (Vx * Vx).sum()))
    if logistic:
        z = (2.0 * float(yn) - 1.0) * y_hat
        loss = max(-z, 0.0) + math.log1p(math.exp(-abs(z)))
        g = 1.0 / (1.0 + math.exp(-y_hat)) - float(yn)
    else:
        g = y_hat - float(yn)
        loss = g * g
    w0[0] -= lr * g
    w[j] -= lr * (g * x + reg_w * w[j])
    grad_V = x[:, None] * s[None, :] - Vj * (x * x)[:, None]  # ∂ŷ/∂v_jf
    V[j] = Vj - lr * (g * grad_V + reg_V * Vj)
    return loss


def sgd_fm_epoch_numpy(
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    w0: np.ndarray,
    w: np.ndarray,
    V: np.ndarray,
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """One SGD epoch of an FM over the rows in `order` (the spec).

    Parameters
    ----------
    idx, val : (n, W) int32 / float32
        Fixed-width sparse rows (``val == 0``: padding, skipped). A feature must
        not appear twice in one row.
    y : (n,) float32
        Targets: ratings (squared loss) or 0/1 labels (logistic loss).
    order : (m,) int64
        Rows to visit, in this order (drawn by the caller).
    w0 : (1,) float32, w : (n_features,) float32, V : (n_features, k) float32
        Parameters, updated in place.
    lr, reg_w, reg_V : float
        Learning rate and L2 penalties λ_w, λ_V (w0 is not penalised).
    logistic : bool
        Logistic loss on 0/1 labels instead of squared loss.

    Returns
    -------
    float
        Σ ℓ over the visited rows, each taken before its own update.
    """
    loss = 0.0
    for n in order:
        keep = val[n] != 0
        loss += _fm_step_numpy(
            idx[n][keep], val[n][keep], y[n], w0, w, V, lr, reg_w, reg_V, logistic
        )
    return loss


def sgd_fm_blocks_epoch_numpy(
    users: np.ndarray,
    items: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    user_idx: np.ndarray,
    user_val: np.ndarray,
    item_idx: np.ndarray,
    item_val: np.ndarray,
    w0: np.ndarray,
    w: np.ndarray,
    V: np.ndarray,
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """:func:`sgd_fm_epoch_numpy` where row n is built on the fly as the user
    block of ``users[n]`` followed by the item block of ``items[n]``
    (:class:`minirec.data.features.FMFields`).

    Same updates as ``sgd_fm_epoch_numpy(*fields.rows(users, items), ...)``
    without materialising the (n, W) rows: the per-rating reads are the same
    three arrays an MF epoch reads, which keeps the epoch cache-friendly.
    """
    loss = 0.0
    for n in order:
        u, i = users[n], items[n]
        j = np.concatenate([user_idx[u], item_idx[i]])
        x = np.concatenate([user_val[u], item_val[i]])
        keep = x != 0
        loss += _fm_step_numpy(
            j[keep], x[keep], y[n], w0, w, V, lr, reg_w, reg_V, logistic
        )
    return loss


def fm_predict_numpy(
    idx: np.ndarray, val: np.ndarray, w0: np.ndarray, w: np.ndarray, V: np.ndarray
) -> np.ndarray:
    """ŷ of every row (float32, shape (n,)) by the O(k·nnz) identity, vectorised."""
    Vx = V[idx] * val[:, :, None]  # (n, W, k); padding slots have x = 0
    s = Vx.sum(axis=1)
    pair = 0.5 * ((s * s).sum(axis=1) - (Vx * Vx).sum(axis=(1, 2)))
    lin = (w[idx] * val).sum(axis=1)
    return (w0[0] + lin + pair).astype(np.float32)


# ----------------------------------------------------------------------------- Numba
# Speed notes (serial SGD, ML-1M: bench_fm_knn.py; benchmarks/results/fm_knn.md).
# At k = 64 the epoch is bound by the instruction stream, not by memory or by the
# chain through the side rows that consecutive ratings share (both measured), so
# the kernel saves instructions per rating:
# * the padding slots (x = 0) are dropped once per epoch (`_left_align`): each
#   rating copies exactly its m slots, summing the linear term on the way (and
#   then pads them to a multiple of 8 with x = 0 slots for the forward);
# * the forward makes one pass over k per eight slots (k <= 64) or four (not one
#   per slot), the last pass also summing s_f², and Σ s_f² − Σ (v x)² is one
#   reduction; passes read s from one row of a (3, k) scratch and write it to
#   another, so LLVM vectorises every pass, and the first reads the zero row
#   (zeroing s is a memset call);
# * slot indices are unsigned (no negative-index wraparound code);
# * the user-id and item-id rows are random reads: the rows of the rating
#   `_PREFETCH` places ahead are prefetched (`_codegen.prefetch_row`), as MF's kernel
#   overlaps its loads by gathering a block of indices first.
# * both kernels call `wide_vectors()` (512-bit vectors on AVX-512 CPUs), and the
#   block kernel (what `FM` trains with) compiles its loop once more for each k in
#   `SPECIALIZED_K` with k a constant (see `_codegen` for the measured gains).
# Only the float32 summation order differs from the spec; the ratings and the
# slots are updated in the spec's order.
_PREFETCH = 4  # ratings ahead (k = 128: 4 is ~5% faster than 2, 0 and 8 slower)


@njit(**_JIT)
def _left_align(idx, val):
    """``(idx2, val2, m)``: each row's nonzero slots moved to the front in their
    order (``m[r]`` of them), the rest padding (index 0, value 0)."""
    n, W = idx.shape
    idx2 = np.zeros((n, max(W, 1)), dtype=np.int32)
    val2 = np.zeros((n, max(W, 1)), dtype=np.float32)
    m = np.zeros(n, dtype=np.int32)
    for r in range(n):
        c = 0
        for a in range(W):
            x = val[r, a]
            if x != 0:
                idx2[r, c] = idx[r, a]
                val2[r, c] = x
                c += 1
        m[r] = c
    return idx2, val2, m


@njit(inline="always", **_JIT)
def _pad_slots(jj, xx, m):
    """Slots m .. the next multiple of 8 become padding: value 0, and the index
    of slot 0 (a row already in cache; its product with 0 adds nothing)."""
    j0 = jj[0]
    for b in range(m, (m + 7) // 8 * 8):
        jj[b] = j0
        xx[b] = 0


@njit(inline="always", **_JIT)  # inlined at Numba IR level: ~10% faster
def _fm_step_numba(jj, xx, m, lin, yn, w0, w, V, S, lr32, rw, rv, logistic, k):
    """One SGD step on the row (jj[:m], xx[:m]) whose linear term lin = Σ_j w_j
    x_j the caller has summed while gathering the slots, and which it has padded
    with slots of value 0 up to a multiple of 8; `S` is a (3, k) scratch array
    with S[0] = 0; k = V.shape[1] (a constant when the caller passes one)."""
    pred = np.float32(w0[0]) + lin
    # pair = Σ_f s_f² − Σ_jf (v_jf x_j)² with s_f = Σ_j v_jf x_j, in passes of
    # eight slots (k <= 64) or four (k > 64) over k; the last pass also adds the
    # s_f² (one reduction, not two). Each pass reads s from row `src` of S and
    # writes it to another row `dst` (rows that LLVM sees apart, so every pass
    # vectorises); the first pass reads S[0] = 0, since zeroing s would be a
    # memset call per rating. The eight-slot passes run over the padding slots
    # (x = 0), so they need no remainder code: at k = 64 on ML-1M (m = 7 on
    # average) they take 0.90-0.92x the time of the four-slot passes, at k = 128
    # 1.10-1.16x (one-off paired comparisons, 2026-12-02, fm_knn.md). The same
    # code as two inlined helpers returning (pair, dst) was 1.7x slower: keep it
    # in one body.
    if k <= 64:
        pair = np.float32(0.0)
        b = 0
        src, dst = 0, 1
        while b < m:
            j0, j1, j2, j3 = jj[b], jj[b + 1], jj[b + 2], jj[b + 3]
            j4, j5, j6, j7 = jj[b + 4], jj[b + 5], jj[b + 6], jj[b + 7]
            x0, x1, x2, x3 = xx[b], xx[b + 1], xx[b + 2], xx[b + 3]
            x4, x5, x6, x7 = xx[b + 4], xx[b + 5], xx[b + 6], xx[b + 7]
            last = b + 8 >= m  # the last pass also sums s_f²
            for f in range(k):
                a0 = V[j0, f] * x0
                a1 = V[j1, f] * x1
                a2 = V[j2, f] * x2
                a3 = V[j3, f] * x3
                a4 = V[j4, f] * x4
                a5 = V[j5, f] * x5
                a6 = V[j6, f] * x6
                a7 = V[j7, f] * x7
                sf = S[src, f] + (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
                S[dst, f] = sf
                sq = ((a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3)) + (
                    (a4 * a4 + a5 * a5) + (a6 * a6 + a7 * a7)
                )
                pair += (sf * sf - sq) if last else -sq  # `last` is loop-invariant
            b += 8
            if not last:
                src, dst = dst, 3 - dst
    else:
        pair = np.float32(0.0)
        b = 0
        src, dst = 0, 1
        while m - b > 4:
            j0, j1, j2, j3 = jj[b], jj[b + 1], jj[b + 2], jj[b + 3]
            x0, x1, x2, x3 = xx[b], xx[b + 1], xx[b + 2], xx[b + 3]
            for f in range(k):
                a0 = V[j0, f] * x0
                a1 = V[j1, f] * x1
                a2 = V[j2, f] * x2
                a3 = V[j3, f] * x3
                S[dst, f] = S[src, f] + ((a0 + a1) + (a2 + a3))
                pair -= (a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3)
            b += 4
            src, dst = dst, 3 - dst
        r = m - b
        if r == 4:
            j0, j1, j2, j3 = jj[b], jj[b + 1], jj[b + 2], jj[b + 3]
            x0, x1, x2, x3 = xx[b], xx[b + 1], xx[b + 2], xx[b + 3]
            for f in range(k):
                a0 = V[j0, f] * x0
                a1 = V[j1, f] * x1
                a2 = V[j2, f] * x2
                a3 = V[j3, f] * x3
                sf = S[src, f] + ((a0 + a1) + (a2 + a3))
                S[dst, f] = sf
                pair += sf * sf - ((a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3))
        elif r == 3:
            j0, j1, j2 = jj[b], jj[b + 1], jj[b + 2]
            x0, x1, x2 = xx[b], xx[b + 1], xx[b + 2]
            for f in range(k):
                a0 = V[j0, f] * x0
                a1 = V[j1, f] * x1
                a2 = V[j2, f] * x2
                sf = S[src, f] + ((a0 + a1) + a2)
                S[dst, f] = sf
                pair += sf * sf - ((a0 * a0 + a1 * a1) + a2 * a2)
        elif r == 2:
            j0, j1 = jj[b], jj[b + 1]
            x0, x1 = xx[b], xx[b + 1]
            for f in range(k):
                a0 = V[j0, f] * x0
                a1 = V[j1, f] * x1
                sf = S[src, f] + (a0 + a1)
                S[dst, f] = sf
                pair += sf * sf - (a0 * a0 + a1 * a1)
        elif r == 1:
            j0 = jj[b]
            x0 = xx[b]
            for f in range(k):
                a0 = V[j0, f] * x0
                sf = S[src, f] + a0
                S[dst, f] = sf
                pair += sf * sf - (a0 * a0)
    pred += np.float32(0.5) * pair
    if logistic:
        z = (2.0 * yn - 1.0) * pred
        loss = max(-z, 0.0) + math.log1p(math.exp(-abs(z)))
        g = np.float32(1.0 / (1.0 + math.exp(-pred)) - yn)
    else:
        g = np.float32(pred - yn)
        loss = float(g) * float(g)
    w0[0] -= lr32 * g
    keep = np.float32(1.0) - lr32 * rv
    for b in range(m):
        x = xx[b]
        j = jj[b]
        w[j] -= lr32 * (g * x + rw * w[j])
        # v - lr (g x (s_f - v x) + rv v) = c v - d s_f, two flops per factor
        d = lr32 * g * x
        c = keep + d * x
        for f in range(k):
            V[j, f] = c * V[j, f] - d * S[dst, f]
    return loss


@njit(**_JIT)
def sgd_fm_epoch_numba(idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic):
    """Numba twin of :func:`sgd_fm_epoch_numpy` (same arguments, same updates).

    Serial and bitwise reproducible run to run; differs from the spec only in
    float32 summation order (``fastmath``). Not what `FM` trains with (that is
    the block form below), so k is not a constant here (compile time)."""
    wide_vectors()
    k = V.shape[1]
    W = idx.shape[1]
    S = np.zeros((3, k), dtype=np.float32)
    jj = np.zeros(W + 8, dtype=np.uint64)  # unsigned: no negative-index wraparound
    xx = np.zeros(W + 8, dtype=np.float32)  # (+ 8: room for the padding slots)
    lr32, rw, rv = np.float32(lr), np.float32(reg_w), np.float32(reg_V)
    loss = 0.0
    for t in range(len(order)):
        n = order[t]
        m = 0
        lin = np.float32(0.0)
        for a in range(W):
            x = val[n, a]
            if x != 0:
                j = idx[n, a]
                jj[m] = j
                xx[m] = x
                lin += w[j] * x
                m += 1
        _pad_slots(jj, xx, m)
        loss += _fm_step_numba(
            jj, xx, m, lin, y[n], w0, w, V, S, lr32, rw, rv, logistic, k
        )
    return loss


@njit(inline="always", **_JIT)
def _fm_blocks_k(
    users, items, y, order, uj, ux, um, ij, ix, im, w0, w, V, lr, reg_w, reg_V,
    logistic, k,
):  # fmt: skip
    S = np.zeros((3, k), dtype=np.float32)
    W = uj.shape[1] + ij.shape[1] + 8  # + 8: room for the padding slots
    jj = np.zeros(W, dtype=np.uint64)  # unsigned: no negative-index wraparound
    xx = np.zeros(W, dtype=np.float32)
    lr32, rw, rv = np.float32(lr), np.float32(reg_w), np.float32(reg_V)
    loss = 0.0
    N = len(order)
    for t in range(N):
        if t + _PREFETCH < N:  # the id rows of a rating ahead (random reads)
            ahead = order[t + _PREFETCH]
            prefetch_row(V, uj[users[ahead], 0])
            prefetch_row(V, ij[items[ahead], 0])
        n = order[t]
        u = users[n]
        i = items[n]
        mu = um[u]
        m = mu + im[i]
        lin = np.float32(0.0)
        for b in range(mu):
            j = uj[u, b]
            x = ux[u, b]
            jj[b] = j
            xx[b] = x
            lin += w[j] * x
        for b in range(mu, m):
            j = ij[i, b - mu]
            x = ix[i, b - mu]
            jj[b] = j
            xx[b] = x
            lin += w[j] * x
        _pad_slots(jj, xx, m)
        loss += _fm_step_numba(
            jj, xx, m, lin, y[n], w0, w, V, S, lr32, rw, rv, logistic, k
        )
    return loss


@njit(**_JIT)
def sgd_fm_blocks_epoch_numba(
    users,
    items,
    y,
    order,
    user_idx,
    user_val,
    item_idx,
    item_val,
    w0,
    w,
    V,
    lr,
    reg_w,
    reg_V,
    logistic,
):
    """Numba twin of :func:`sgd_fm_blocks_epoch_numpy`.

    The blocks are left-aligned once per call (padding dropped, O(#users·Wu +
    #items·Wi)); each rating then copies exactly its nonzero slots."""
    wide_vectors()
    uj, ux, um = _left_align(user_idx, user_val)
    ij, ix, im = _left_align(item_idx, item_val)
    k = V.shape[1]  # the loop compiled with k constant for SPECIALIZED_K
    if k == 32:
        return _fm_blocks_k(
            users, items, y, order, uj, ux, um, ij, ix, im, w0, w, V, lr, reg_w, reg_V,
            logistic, 32,
        )  # fmt: skip
    if k == 64:
        return _fm_blocks_k(
            users, items, y, order, uj, ux, um, ij, ix, im, w0, w, V, lr, reg_w, reg_V,
            logistic, 64,
        )  # fmt: skip
    if k == 128:
        return _fm_blocks_k(
            users, items, y, order, uj, ux, um, ij, ix, im, w0, w, V, lr, reg_w, reg_V,
            logistic, 128,
        )  # fmt: skip
    return _fm_blocks_k(
        users, items, y, order, uj, ux, um, ij, ix, im, w0, w, V, lr, reg_w, reg_V,
        logistic, k,
    )  # fmt: skip


@njit(parallel=True, **_JIT)
def fm_predict_numba(idx, val, w0, w, V):
    """Numba twin of :func:`fm_predict_numpy` (rows in parallel)."""
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
