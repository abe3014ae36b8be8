"""Factorization machines on the GPU: ``sgd_fm_epoch``, ``sgd_fm_blocks_epoch``
(each with its ``_hogwild`` variant) and ``fm_predict``.

Spec: :func:`minirec.backends.numpy_ops.sgd_fm_epoch`,
:func:`~minirec.backends.numpy_ops.sgd_fm_blocks_epoch`,
:func:`~minirec.backends.numpy_ops.fm_predict`. A row is a padded ``(idx, val)``
block of feature ids and values (value 0 = padding, skipped). The SGD kernels
run one GPU thread per row, each with its own column of the float32 scratch
``s[f, thread]`` (s_f = Σ_j v_jf x_j); the serial wrappers launch them on one
thread, the spec's exact sequence. The hogwild ones race on shared feature rows
(nondeterministic), except the global bias w0, which every row touches and is
therefore updated with an atomic add. ``fm_predict`` runs one thread per row and
needs no scratch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from ._launch import Launch, empty, f32


@cuda.jit(device=True)
def _fm_accumulate(idx, val, r, w, V, s, tid):
    """Add row r of a (idx, val) block to s[:, tid] (s_f = Σ_j v_jf x_j); return
    (Σ_j w_j x_j, Σ_jf (v_jf x_j)²). Padding slots (x == 0) are skipped."""
    lin = float32(0.0)
    sq = float32(0.0)
    for a in range(idx.shape[1]):
        x = val[r, a]
        if x == 0:
            continue
        j = idx[r, a]
        lin += w[j] * x
        for f in range(V.shape[1]):
            vx = V[j, f] * x
            s[f, tid] += vx
            sq += vx * vx
    return lin, sq


@cuda.jit(device=True)
def _fm_update(idx, val, r, g, lr, reg_w, reg_V, w, V, s, tid):
    """The SGD step for the features of row r of a block, with s from before it."""
    for a in range(idx.shape[1]):
        x = val[r, a]
        if x == 0:
            continue
        j = idx[r, a]
        w[j] -= lr * (g * x + reg_w * w[j])
        gx = g * x
        for f in range(V.shape[1]):
            v = V[j, f]
            V[j, f] = v - lr * (gx * (s[f, tid] - v * x) + reg_V * v)


@cuda.jit(device=True)
def _fm_loss_grad(pred, yn, logistic):
    """(loss ℓ as float64, g = ∂ℓ/∂ŷ as float32) for prediction `pred`, target yn."""
    if logistic:
        p64 = float64(pred)
        z = (2.0 * float64(yn) - 1.0) * p64
        loss = max(-z, 0.0) + math.log1p(math.exp(-abs(z)))
        if p64 >= 0:
            sig = 1.0 / (1.0 + math.exp(-p64))
        else:
            e = math.exp(p64)
            sig = e / (1.0 + e)
        return loss, float32(sig - float64(yn))
    g = pred - yn
    return float64(g) * float64(g), g


@cuda.jit
def _sgd_fm_kernel(idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic, s, loss):
    tid = cuda.grid(1)
    T = cuda.gridsize(1)
    k = V.shape[1]
    acc = 0.0
    for t in range(tid, order.shape[0], T):
        n = order[t]
        for f in range(k):
            s[f, tid] = 0.0
        lin, sq = _fm_accumulate(idx, val, n, w, V, s, tid)
        inter = float32(0.0)
        for f in range(k):
            inter += s[f, tid] * s[f, tid]
        pred = w0[0] + lin + float32(0.5) * (inter - sq)
        row_loss, g = _fm_loss_grad(pred, y[n], logistic)
        acc += row_loss
        cuda.atomic.add(w0, 0, -lr * g)  # every row touches w0: no lost updates
        _fm_update(idx, val, n, g, lr, reg_w, reg_V, w, V, s, tid)
    cuda.atomic.add(loss, 0, acc)


@cuda.jit
def _sgd_fm_blocks_kernel(
    users, items, y, order, user_idx, user_val, item_idx, item_val, w0, w, V,
    lr, reg_w, reg_V, logistic, s, loss,
):  # fmt: skip
    tid = cuda.grid(1)
    T = cuda.gridsize(1)
    k = V.shape[1]
    acc = 0.0
    for t in range(tid, order.shape[0], T):
        n = order[t]
        u = users[n]
        i = items[n]
        for f in range(k):
            s[f, tid] = 0.0
        lin_u, sq_u = _fm_accumulate(user_idx, user_val, u, w, V, s, tid)
        lin_i, sq_i = _fm_accumulate(item_idx, item_val, i, w, V, s, tid)
        inter = float32(0.0)
        for f in range(k):
            inter += s[f, tid] * s[f, tid]
        pred = w0[0] + (lin_u + lin_i) + float32(0.5) * (inter - (sq_u + sq_i))
        row_loss, g = _fm_loss_grad(pred, y[n], logistic)
        acc += row_loss
        cuda.atomic.add(w0, 0, -lr * g)
        _fm_update(user_idx, user_val, u, g, lr, reg_w, reg_V, w, V, s, tid)
        _fm_update(item_idx, item_val, i, g, lr, reg_w, reg_V, w, V, s, tid)
    cuda.atomic.add(loss, 0, acc)


def _sgd_fm(caller, serial, kernel, reads, w0, w, V, lr, reg_w, reg_V, logistic):
    """Launch an FM SGD kernel: `reads` (name -> array, in the kernel's order)
    are read, w0, w, V updated; one thread per entry of ``reads["order"]``."""
    run = Launch(caller, len(reads["order"]), serial)
    return run(
        kernel,
        *run.inputs(**reads),
        *run.updated(w0=w0, w=w, V=V),
        *f32(lr, reg_w, reg_V),
        bool(logistic),
        *run.scratch(np.float32, (V.shape[1],)),  # s[f, thread]
        run.loss(),
    )


def sgd_fm_epoch(
    idx, val, y, order, w0, w, V, lr: float, reg_w: float, reg_V: float, logistic: bool
) -> float:
    """One SGD epoch of an FM over the rows in `order` (spec:
    :func:`minirec.backends.numpy_ops.sgd_fm_epoch`): with s_f = Σ_j v_jf x_j
    before the step and g = ∂ℓ/∂ŷ, w0 -= lr g; w_i -= lr (g x_i + λ_w w_i);
    v_if -= lr (g (x_i s_f - v_if x_i²) + λ_V v_if). Returns Σ ℓ before each update.
    CUDA: one GPU thread, the spec's exact sequence."""
    reads = {"idx": idx, "val": val, "y": y, "order": order}
    args = (w0, w, V, lr, reg_w, reg_V, logistic)
    return _sgd_fm("sgd_fm_epoch", True, _sgd_fm_kernel, reads, *args)


def sgd_fm_epoch_hogwild(
    idx, val, y, order, w0, w, V, lr: float, reg_w: float, reg_V: float, logistic: bool
) -> float:
    """`sgd_fm_epoch` with one GPU thread per row, lock-free (**nondeterministic**;
    w0 by atomic add)."""
    reads = {"idx": idx, "val": val, "y": y, "order": order}
    args = (w0, w, V, lr, reg_w, reg_V, logistic)
    return _sgd_fm("sgd_fm_epoch_hogwild", False, _sgd_fm_kernel, reads, *args)


def _blocks_reads(users, items, y, order, user_idx, user_val, item_idx, item_val):
    """The arrays the blocks kernel reads, by name, in its order."""
    return {
        "users": users,
        "items": items,
        "y": y,
        "order": order,
        "user_idx": user_idx,
        "user_val": user_val,
        "item_idx": item_idx,
        "item_val": item_val,
    }


def sgd_fm_blocks_epoch(
    users, items, y, order, user_idx, user_val, item_idx, item_val, w0, w, V,
    lr: float, reg_w: float, reg_V: float, logistic: bool,
) -> float:  # fmt: skip
    """:func:`sgd_fm_epoch` where row n is the user block of ``users[n]`` followed
    by the item block of ``items[n]`` (spec:
    :func:`minirec.backends.numpy_ops.sgd_fm_blocks_epoch`). One GPU thread: the
    spec's exact sequence."""
    reads = _blocks_reads(
        users, items, y, order, user_idx, user_val, item_idx, item_val
    )
    args = (w0, w, V, lr, reg_w, reg_V, logistic)
    return _sgd_fm("sgd_fm_blocks_epoch", True, _sgd_fm_blocks_kernel, reads, *args)


def sgd_fm_blocks_epoch_hogwild(
    users, items, y, order, user_idx, user_val, item_idx, item_val, w0, w, V,
    lr: float, reg_w: float, reg_V: float, logistic: bool,
) -> float:  # fmt: skip
    """`sgd_fm_blocks_epoch` with one GPU thread per rating, lock-free
    (**nondeterministic**; w0 by atomic add)."""
    reads = _blocks_reads(
        users, items, y, order, user_idx, user_val, item_idx, item_val
    )
    args = (w0, w, V, lr, reg_w, reg_V, logistic)
    name = "sgd_fm_blocks_epoch_hogwild"
    return _sgd_fm(name, False, _sgd_fm_blocks_kernel, reads, *args)


@cuda.jit
def _fm_predict_kernel(idx, val, w0, w, V, out):
    tid = cuda.grid(1)
    T = cuda.gridsize(1)
    W = idx.shape[1]
    k = V.shape[1]
    for r in range(tid, idx.shape[0], T):
        pred = w0[0]
        sq = float32(0.0)
        inter = float32(0.0)
        for f in range(k):  # s_f for one f at a time: no workspace needed
            sf = float32(0.0)
            for a in range(W):
                x = val[r, a]
                if x != 0:
                    vx = V[idx[r, a], f] * x
                    sf += vx
                    sq += vx * vx
            inter += sf * sf
        for a in range(W):
            x = val[r, a]
            if x != 0:
                pred += w[idx[r, a]] * x
        out[r] = pred + float32(0.5) * (inter - sq)


def fm_predict(idx, val, w0, w, V):
    """ŷ of every row (float32, shape (n,)) by the O(k·nnz) identity; a GPU array
    when the inputs are on the GPU, else a NumPy array."""
    run = Launch("fm_predict", idx.shape[0])
    out = empty((idx.shape[0],), np.float32, like=idx)
    run(_fm_predict_kernel, *run.inputs(idx=idx, val=val, w0=w0, w=w, V=V), out)
    return run.results(idx, out)[0]
