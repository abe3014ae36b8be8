"""Factorization-machine kernels: the spec (Numba twins in ``numba_ops/fm.py``,
tuned ones in ``numba_fast.py``).

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
Shuffle orders are drawn outside (``order``), so the backends can be compared on
exactly the same sequence of updates.

Contract names: ``sgd_fm_epoch``, ``sgd_fm_blocks_epoch`` (rows built from per-user
and per-item blocks, the form the FM model trains with) and ``fm_predict``.
"""

from __future__ import annotations

import math

import numpy as np


def _fm_step(j, x, yn, w0, w, V, lr, reg_w, reg_V, logistic) -> float:
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


def sgd_fm_epoch(
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
        loss += _fm_step(
            idx[n][keep], val[n][keep], y[n], w0, w, V, lr, reg_w, reg_V, logistic
        )
    return loss


def sgd_fm_blocks_epoch(
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
    """:func:`sgd_fm_epoch` where row n is built on the fly as the user
    block of ``users[n]`` followed by the item block of ``items[n]``
    (:class:`minirec.data.features.FMFields`).

    Same updates as ``sgd_fm_epoch(*fields.rows(users, items), ...)``
    without materialising the (n, W) rows: the per-rating reads are the same
    three arrays an MF epoch reads, which keeps the epoch cache-friendly.
    """
    loss = 0.0
    for n in order:
        u, i = users[n], items[n]
        j = np.concatenate([user_idx[u], item_idx[i]])
        x = np.concatenate([user_val[u], item_val[i]])
        keep = x != 0
        loss += _fm_step(j[keep], x[keep], y[n], w0, w, V, lr, reg_w, reg_V, logistic)
    return loss


def fm_predict(
    idx: np.ndarray, val: np.ndarray, w0: np.ndarray, w: np.ndarray, V: np.ndarray
) -> np.ndarray:
    """ŷ of every row (float32, shape (n,)) by the O(k·nnz) identity, vectorised."""
    Vx = V[idx] * val[:, :, None]  # (n, W, k); padding slots have x = 0
    s = Vx.sum(axis=1)
    pair = 0.5 * ((s * s).sum(axis=1) - (Vx * Vx).sum(axis=(1, 2)))
    lin = (w[idx] * val).sum(axis=1)
    return (w0[0] + lin + pair).astype(np.float32)
