"""CUDA twins of :mod:`minirec.backends.numpy_ops` (same names, signatures, math).

Read ``numpy_ops`` first: it is the spec. Every function here is a ``numba.cuda``
kernel plus a small host wrapper with exactly the spec's signature; the contract is
:class:`minirec.backends.base.KernelBackend` (its FM and KNN kernels
included: ``sgd_fm_epoch``, ``fm_predict``, ``knn_similarity``, ``knn_predict``).

Why ``numba.cuda`` and not CuPy raw kernels
-------------------------------------------
Most machines that build minirec (CI included) have no GPU. A ``numba.cuda`` kernel is
plain Python syntax that runs unchanged under Numba's CUDA **simulator**
(``NUMBA_ENABLE_CUDASIM=1``, package ``numba-cuda``): every line of every kernel here,
the launch configuration, the atomics and the host <-> device transfers are executed
by the CPU test suite (``tests/backends/test_cuda_ops.py``) and compared with the
NumPy spec. A CuPy ``RawKernel`` is a C++ string compiled by NVRTC: without a GPU it
cannot run at all, so each would need a separately written simulated twin, and the
twin, not the kernel, would be what CI tests. ``numba.cuda`` kernels still take CuPy
arrays (through ``__cuda_array_interface__``, zero copy), so the CuPy autograd and
these kernels share memory. The cost: Numba's CUDA codegen is a little less tunable
than hand-written CUDA C++ (no templates; shared-memory sizes fixed at compile time).

Arrays and transfers (explicit)
-------------------------------
Each wrapper accepts, per array argument, a GPU array (CuPy, Numba device array, or
the simulator's) used in place, zero copy; or a NumPy array, which the wrapper
copies to the device with ``cuda.to_device`` and, for the arrays the kernel updates,
copies back into the same NumPy array after the kernel (so the in-place contract of
the spec holds). That per-call copy is the price of passing host arrays: for speed,
keep the data and parameters on the device (:func:`minirec.backends.device.to_device`)
and pass those. The loss comes back as a Python float (one 8-byte copy, one sync).

Parallel layout and the Hogwild race
------------------------------------
* ``sgd_mf_epoch_hogwild`` / ``bpr_epoch_hogwild`` / ``sgd_fm_epoch_hogwild``: one GPU
  thread per rating (grid-stride loop over ``order``), lock-free: two threads that
  hold the same user or item row at once race, and one update may overwrite the
  other (Hogwild!, Niu et al. 2011). Results are **not** reproducible bit for bit;
  the tests compare their loss/RMSE with the serial spec, not their bits. FM's global
  bias w0 is the one parameter every row touches, so it is updated with an atomic add.
* ``sgd_mf_epoch`` / ``bpr_epoch`` / ``sgd_fm_epoch`` (serial): the *same* kernels
  launched with a single thread, so they follow the spec's update sequence exactly
  (float32, up to summation order). Correct and slow on a GPU: for speed use the
  hogwild variants (models do with ``hogwild=True``).
* ALS (``als_solve``, ``implicit_als_solve`` by Cholesky, ``implicit_als_cg``):
  batched, one thread per row of the CSR, each with its own k x k float64 workspace
  in global memory laid out thread-last (``A[a, c, t]``) so a warp's accesses are
  coalesced. Rows are independent: deterministic.
* ``knn_similarity``: one thread per row of X, the co-occurrence walk of the Numba
  twin into a dense float64 row of sims (rows chunked to bound the scratch); the
  per-row top-``keep`` selection runs on the host. ``knn_predict``: one thread per
  (row, column) pair. Both deterministic. ``knn_predict_rows`` /
  ``knn_predict_cols`` (every item of a user, for rankings by predicted rating)
  are the host Numba kernels of :mod:`minirec.backends.numba_ops`: a sparse walk of
  the query's own entries, with NumPy arrays in and out.
* Launch size: :func:`launch_config` (threads per block, cap on total threads);
  defaults are 128 x 512 blocks on a GPU and a tiny 8 x 4 under the simulator,
  where each GPU thread is a Python thread.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
from numba import config as _numba_config
from numba import cuda, float32, float64

from .device import is_device_array, to_host

SIMULATOR = bool(getattr(_numba_config, "ENABLE_CUDASIM", 0))
if not cuda.is_available():  # turned into BackendUnavailableError by get_kernels
    raise ImportError(
        "numba.cuda sees no CUDA GPU here (and the CUDA simulator is off: set "
        "NUMBA_ENABLE_CUDASIM=1 before importing numba to run the kernels on the CPU)"
    )

__all__ = [
    "SIMULATOR",
    "als_solve",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "fm_predict",
    "implicit_als_cg",
    "implicit_als_solve",
    "knn_predict",
    "knn_predict_cols",
    "knn_predict_rows",
    "knn_similarity",
    "launch_config",
    "sgd_fm_blocks_epoch",
    "sgd_fm_blocks_epoch_hogwild",
    "sgd_fm_epoch",
    "sgd_fm_epoch_hogwild",
    "sgd_mf_epoch",
    "sgd_mf_epoch_hogwild",
    "synchronize",
    "to_device",
]

_DEFAULT_LAUNCH = (
    {"threads_per_block": 8, "max_threads": 32}
    if SIMULATOR
    else {"threads_per_block": 128, "max_threads": 128 * 512}
)
_LAUNCH = dict(_DEFAULT_LAUNCH)
#: workspace cap for the batched ALS solves (bytes of float64 k x k per thread)
_ALS_WORKSPACE_BYTES = 256 * 2**20


@contextlib.contextmanager
def launch_config(
    threads_per_block: int | None = None, max_threads: int | None = None
) -> Iterator[dict]:
    """Temporarily set the launch size of the parallel kernels.

    ``threads_per_block``: threads of a block; ``max_threads``: cap on the total
    threads of a grid (fewer threads = fewer concurrent Hogwild races; 1 makes a
    hogwild kernel serial, equal to the spec). Yields the active settings.
    """
    old = dict(_LAUNCH)
    for name, v in (
        ("threads_per_block", threads_per_block),
        ("max_threads", max_threads),
    ):
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: must be a positive integer")
            _LAUNCH[name] = v
    try:
        yield dict(_LAUNCH)
    finally:
        _LAUNCH.clear()
        _LAUNCH.update(old)


def synchronize() -> None:
    """Wait for every kernel launched so far (for timing)."""
    cuda.synchronize()


def _grid(n_work: int, serial: bool = False) -> tuple[int, int]:
    """(blocks, threads per block) for `n_work` independent items."""
    if serial:
        return 1, 1
    total = max(1, min(int(n_work), _LAUNCH["max_threads"]))
    tpb = min(_LAUNCH["threads_per_block"], total)
    return (total + tpb - 1) // tpb, tpb


class _Transfer:
    """Per call: host arrays copied to the device, updated ones copied back."""

    def __init__(self) -> None:
        self._back: list[tuple[np.ndarray, object]] = []

    def __call__(self, a, write: bool = False):
        if is_device_array(a):
            return a
        if not isinstance(a, np.ndarray):
            raise TypeError(
                f"cuda kernels take NumPy, CuPy or Numba device arrays, got "
                f"{type(a).__name__}"
            )
        d = cuda.to_device(np.ascontiguousarray(a))  # host -> device
        if write:
            self._back.append((a, d))
        return d

    def finish(self) -> None:
        for a, d in self._back:  # device -> host, into the caller's array
            if a.flags.c_contiguous:
                d.copy_to_host(a)
            else:
                a[...] = d.copy_to_host()


def _loss_buffer():
    return cuda.to_device(np.zeros(1, dtype=np.float64))


def _read_loss(buf) -> float:
    return float(buf.copy_to_host()[0])


# ----------------------------------------------------------------------------- SGD MF
@cuda.jit
def _sgd_mf_kernel(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, loss
):
    tid = cuda.grid(1)
    T = cuda.gridsize(1)
    k = P.shape[1]
    acc = 0.0
    for n in range(tid, order.shape[0], T):
        idx = order[n]
        u = users[idx]
        i = items[idx]
        pred = float32(0.0)
        for f in range(k):
            pred += P[u, f] * Q[i, f]
        if biased:
            pred += mu + bu[u] + bi[i]
        err = ratings[idx] - pred
        acc += float64(err) * float64(err)
        if biased:
            bu[u] += lr * (err - reg_bias * bu[u])
            bi[i] += lr * (err - reg_bias * bi[i])
        for f in range(k):
            pf = P[u, f]  # the old p_u for the q_i update
            qf = Q[i, f]
            P[u, f] = pf + lr * (err * qf - reg * pf)
            Q[i, f] = qf + lr * (err * pf - reg * qf)
    cuda.atomic.add(loss, 0, acc)


def _sgd_mf(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, serial
):
    tr = _Transfer()
    args = (
        tr(users),
        tr(items),
        tr(ratings),
        tr(order),
        tr(P, True),
        tr(Q, True),
        tr(bu, True),
        tr(bi, True),
        np.float32(mu),
        np.float32(lr),
        np.float32(reg),
        np.float32(reg_bias),
        bool(biased),
    )
    loss = _loss_buffer()
    blocks, tpb = _grid(len(order), serial)
    _sgd_mf_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def sgd_mf_epoch(
    users,
    items,
    ratings,
    order,
    P,
    Q,
    bu,
    bi,
    mu: float,
    lr: float,
    reg: float,
    reg_bias: float,
    biased: bool,
) -> float:
    """One SGD epoch of (biased) MF over the ratings in `order`.

    For n in order: e = r - (mu + bu[u] + bi[i] + P[u]·Q[i]) (biases only when
    `biased`), then bu[u] += lr (e - reg_bias bu[u]), bi[i] likewise, and with the
    *old* p_u: P[u] += lr (e Q[i] - reg P[u]), Q[i] += lr (e p_u - reg Q[i]).
    Updates P, Q (and bu, bi) in place. Returns sum of e² (errors before each update).
    CUDA: the Hogwild kernel on one GPU thread, so exactly the spec's sequence.
    """
    return _sgd_mf(
        users,
        items,
        ratings,
        order,
        P,
        Q,
        bu,
        bi,
        mu,
        lr,
        reg,
        reg_bias,
        biased,
        serial=True,
    )


def sgd_mf_epoch_hogwild(
    users,
    items,
    ratings,
    order,
    P,
    Q,
    bu,
    bi,
    mu: float,
    lr: float,
    reg: float,
    reg_bias: float,
    biased: bool,
) -> float:
    """`sgd_mf_epoch` with one GPU thread per rating, lock-free (Hogwild!):
    **nondeterministic**, threads race on shared rows. Launch size:
    :func:`launch_config`."""
    return _sgd_mf(
        users,
        items,
        ratings,
        order,
        P,
        Q,
        bu,
        bi,
        mu,
        lr,
        reg,
        reg_bias,
        biased,
        serial=False,
    )


# ----------------------------------------------------------------------------- BPR
@cuda.jit
def _bpr_kernel(users, pos, neg, P, Q, bi, lr, reg, reg_bias, loss):
    tid = cuda.grid(1)
    T = cuda.gridsize(1)
    k = P.shape[1]
    acc = 0.0
    for n in range(tid, users.shape[0], T):
        u = users[n]
        i = pos[n]
        j = neg[n]
        x = bi[i] - bi[j]
        for f in range(k):
            x += P[u, f] * (Q[i, f] - Q[j, f])
        xf = float64(x)
        # -log σ(x) and g = σ(-x), both without overflow for any x
        if xf > 0:
            e = math.exp(-xf)
            acc += math.log1p(e)
            g = float32(e / (1.0 + e))
        else:
            e = math.exp(xf)
            acc += -xf + math.log1p(e)
            g = float32(1.0 / (1.0 + e))
        for f in range(k):
            pf = P[u, f]
            qi = Q[i, f]
            qj = Q[j, f]
            P[u, f] = pf + lr * (g * (qi - qj) - reg * pf)
            Q[i, f] = qi + lr * (g * pf - reg * qi)
            Q[j, f] += lr * (-g * pf - reg * qj)  # += : i == j accumulates both
        bi[i] += lr * (g - reg_bias * bi[i])
        bi[j] += lr * (-g - reg_bias * bi[j])
    cuda.atomic.add(loss, 0, acc)


def _bpr(users, pos, neg, P, Q, bi, lr, reg, reg_bias, serial):
    tr = _Transfer()
    args = (
        tr(users),
        tr(pos),
        tr(neg),
        tr(P, True),
        tr(Q, True),
        tr(bi, True),
        np.float32(lr),
        np.float32(reg),
        np.float32(reg_bias),
    )
    loss = _loss_buffer()
    blocks, tpb = _grid(len(users), serial)
    _bpr_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def bpr_epoch(
    users, pos, neg, P, Q, bi, lr: float, reg: float, reg_bias: float
) -> float:
    """One BPR pass over the triples (users[n], pos[n], neg[n]) in order.

    x = p_u·(q_i - q_j) + b_i - b_j; g = σ(-x) = 1 - σ(x);
    p_u += lr (g (q_i - q_j) - reg p_u); q_i += lr (g p_u - reg q_i);
    q_j += lr (-g p_u - reg q_j); b_i += lr (g - reg_bias b_i);
    b_j += lr (-g - reg_bias b_j) (all with the old values).
    Returns sum of -log σ(x). CUDA: one GPU thread, the spec's exact sequence.
    """
    return _bpr(users, pos, neg, P, Q, bi, lr, reg, reg_bias, serial=True)


def bpr_epoch_hogwild(
    users, pos, neg, P, Q, bi, lr: float, reg: float, reg_bias: float
) -> float:
    """`bpr_epoch` with one GPU thread per triple, lock-free
    (**nondeterministic**)."""
    return _bpr(users, pos, neg, P, Q, bi, lr, reg, reg_bias, serial=False)


# ----------------------------------------------------------------------------- FM
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
    s,
    loss,
):
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


def _sgd_fm(idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic, serial):
    tr = _Transfer()
    blocks, tpb = _grid(len(order), serial)
    s = cuda.device_array((V.shape[1], blocks * tpb), dtype=np.float32)
    args = (
        tr(idx),
        tr(val),
        tr(y),
        tr(order),
        tr(w0, True),
        tr(w, True),
        tr(V, True),
        np.float32(lr),
        np.float32(reg_w),
        np.float32(reg_V),
        bool(logistic),
        s,
    )
    loss = _loss_buffer()
    _sgd_fm_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def sgd_fm_epoch(
    idx,
    val,
    y,
    order,
    w0,
    w,
    V,
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """One SGD epoch of an FM over the rows in `order` (spec:
    :func:`minirec.backends.numpy_ops.sgd_fm_epoch`): with s_f = Σ_j v_jf x_j
    before the step and g = ∂ℓ/∂ŷ, w0 -= lr g; w_i -= lr (g x_i + λ_w w_i);
    v_if -= lr (g (x_i s_f - v_if x_i²) + λ_V v_if). Returns Σ ℓ before each update.
    CUDA: one GPU thread, the spec's exact sequence."""
    return _sgd_fm(
        idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic, serial=True
    )


def sgd_fm_epoch_hogwild(
    idx,
    val,
    y,
    order,
    w0,
    w,
    V,
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """`sgd_fm_epoch` with one GPU thread per row, lock-free (**nondeterministic**;
    w0 by atomic add)."""
    return _sgd_fm(
        idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic, serial=False
    )


def _sgd_fm_blocks(
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
    serial,
):
    tr = _Transfer()
    blocks, tpb = _grid(len(order), serial)
    s = cuda.device_array((V.shape[1], blocks * tpb), dtype=np.float32)
    args = (
        tr(users),
        tr(items),
        tr(y),
        tr(order),
        tr(user_idx),
        tr(user_val),
        tr(item_idx),
        tr(item_val),
        tr(w0, True),
        tr(w, True),
        tr(V, True),
        np.float32(lr),
        np.float32(reg_w),
        np.float32(reg_V),
        bool(logistic),
        s,
    )
    loss = _loss_buffer()
    _sgd_fm_blocks_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def sgd_fm_blocks_epoch(
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
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """:func:`sgd_fm_epoch` where row n is the user block of ``users[n]`` followed
    by the item block of ``items[n]`` (spec:
    :func:`minirec.backends.numpy_ops.sgd_fm_blocks_epoch`). One GPU thread: the
    spec's exact sequence."""
    return _sgd_fm_blocks(
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
        True,
    )


def sgd_fm_blocks_epoch_hogwild(
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
    lr: float,
    reg_w: float,
    reg_V: float,
    logistic: bool,
) -> float:
    """`sgd_fm_blocks_epoch` with one GPU thread per rating, lock-free
    (**nondeterministic**; w0 by atomic add)."""
    return _sgd_fm_blocks(
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
        False,
    )


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
    on_gpu = is_device_array(idx)
    tr = _Transfer()
    args = (tr(idx), tr(val), tr(w0), tr(w), tr(V))
    out = _empty_like_input(idx, (idx.shape[0],), np.float32)
    blocks, tpb = _grid(idx.shape[0])
    _fm_predict_kernel[blocks, tpb](*args, out)
    return out if on_gpu else out.copy_to_host()


# ----------------------------------------------------------------------------- ALS
@cuda.jit(device=True)
def _cholesky_solve(A, b, x, t, k):
    """Solve A x = b (thread t's slices A[:, :, t], b[:, t], x[:, t]); A is SPD
    (lower triangle read), overwritten with L (A = L Lᵀ); b is overwritten with z."""
    for j in range(k):
        s = A[j, j, t]
        for m in range(j):
            s -= A[j, m, t] * A[j, m, t]
        if s <= 0.0:
            s = 1e-12  # not SPD (reg = 0 and a degenerate row): keep finite
        d = math.sqrt(s)
        A[j, j, t] = d
        for r in range(j + 1, k):
            s = A[r, j, t]
            for m in range(j):
                s -= A[r, m, t] * A[j, m, t]
            A[r, j, t] = s / d
    for r in range(k):  # L z = b
        s = b[r, t]
        for m in range(r):
            s -= A[r, m, t] * b[m, t]
        b[r, t] = s / A[r, r, t]
    for r in range(k - 1, -1, -1):  # Lᵀ x = z
        s = b[r, t]
        for m in range(r + 1, k):
            s -= A[m, r, t] * x[m, t]
        x[r, t] = s / A[r, r, t]


@cuda.jit
def _als_kernel(indptr, indices, targets, Y, X, reg, weighted, A, b, x, loss):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    acc = 0.0
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        if s == e:
            for f in range(k):
                X[u, f] = 0.0
            continue
        for a in range(k):
            b[a, t] = 0.0
            for c in range(a + 1):
                A[a, c, t] = 0.0
        for n in range(s, e):
            row = indices[n]
            tv = float64(targets[n])
            for a in range(k):
                ya = float64(Y[row, a])
                b[a, t] += ya * tv
                for c in range(a + 1):
                    A[a, c, t] += ya * float64(Y[row, c])
        lam = reg * (e - s) if weighted else reg
        for a in range(k):
            A[a, a, t] += lam
        _cholesky_solve(A, b, x, t, k)
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            pred = 0.0
            for f in range(k):
                pred += x[f, t] * Y[row, f]
            d = targets[n] - pred
            row_loss += d * d
        for f in range(k):
            X[u, f] = x[f, t]
        acc += row_loss
    cuda.atomic.add(loss, 0, acc)


@cuda.jit
def _implicit_als_kernel(indptr, indices, conf, Y, YtY, X, reg, A, b, x, loss):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    acc = 0.0
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        for a in range(k):  # A = YᵀY + reg I (lower triangle), b = 0
            b[a, t] = 0.0
            for c in range(a + 1):
                A[a, c, t] = YtY[a, c]
            A[a, a, t] += reg
        for n in range(s, e):  # + Y_Iᵀ (C_u - I) Y_I ;  b = Y_Iᵀ C_u 1
            row = indices[n]
            cu = float64(conf[n])
            for a in range(k):
                ya = float64(Y[row, a])
                b[a, t] += cu * ya
                w = (cu - 1.0) * ya
                for c in range(a + 1):
                    A[a, c, t] += w * Y[row, c]
        _cholesky_solve(A, b, x, t, k)
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            pred = 0.0
            for f in range(k):
                pred += x[f, t] * Y[row, f]
            row_loss += conf[n] * (1.0 - pred) ** 2
        for f in range(k):
            X[u, f] = x[f, t]
        acc += row_loss
    cuda.atomic.add(loss, 0, acc)


@cuda.jit
def _implicit_cg_kernel(
    indptr, indices, conf, Y, YtY, X, reg, cg_steps, r, p, Ap, loss
):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        if s == e:  # no entries: the exact solution is 0 (as Cholesky gives)
            for f in range(k):
                X[u, f] = 0.0
            continue
        # r = b - A x = -(YᵀY + reg I) x + Σ_i (c - (c - 1) y_i·x) y_i
        for a in range(k):
            acc = float32(0.0)
            for c in range(k):
                acc += YtY[a, c] * X[u, c]
            r[a, t] = -acc - reg * X[u, a]
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            cu = conf[n]
            yx = float32(0.0)
            for f in range(k):
                yx += Y[row, f] * X[u, f]
            row_loss += cu * (1.0 - yx) ** 2
            w = cu - (cu - float32(1.0)) * yx
            for f in range(k):
                r[f, t] += w * Y[row, f]
        rs_old = 0.0
        for f in range(k):
            p[f, t] = r[f, t]
            rs_old += r[f, t] * r[f, t]
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            for a in range(k):
                acc = float32(0.0)
                for c in range(k):
                    acc += YtY[a, c] * p[c, t]
                Ap[a, t] = acc + reg * p[a, t]
            for n in range(s, e):
                row = indices[n]
                yp = float32(0.0)
                for f in range(k):
                    yp += Y[row, f] * p[f, t]
                w = (conf[n] - float32(1.0)) * yp
                for f in range(k):
                    Ap[f, t] += w * Y[row, f]
            pAp = 0.0
            for f in range(k):
                pAp += p[f, t] * Ap[f, t]
            step = float32(rs_old / pAp)
            rs_new = 0.0
            for f in range(k):
                X[u, f] += step * p[f, t]
                r[f, t] -= step * Ap[f, t]
                rs_new += r[f, t] * r[f, t]
            beta = float32(rs_new / rs_old)
            for f in range(k):
                p[f, t] = r[f, t] + beta * p[f, t]
            rs_old = rs_new
        cuda.atomic.add(loss, 0, row_loss)


def _als_grid(n_rows: int, k: int) -> tuple[int, int]:
    cap = max(1, _ALS_WORKSPACE_BYTES // (8 * k * k))
    with launch_config(max_threads=max(1, min(_LAUNCH["max_threads"], cap))):
        return _grid(n_rows)


def als_solve(indptr, indices, targets, Y, X, reg: float, weighted: bool) -> float:
    """Explicit ALS half-step (Zhou et al. 2008): for each row u of the CSR,

    X[u] = (Y_Iᵀ Y_I + λ_u I)⁻¹ Y_Iᵀ t_u with λ_u = reg·|I_u| when `weighted`
    (ALS-WR) else reg; rows with no entries get X[u] = 0. Returns the sum of
    squared residuals (t - X[u]·Y[i])² after the solve.
    CUDA: one thread per row, Cholesky in float64 (deterministic).
    """
    k = Y.shape[1]
    blocks, tpb = _als_grid(len(indptr) - 1, k)
    n_t = blocks * tpb
    A = cuda.device_array((k, k, n_t), dtype=np.float64)
    b = cuda.device_array((k, n_t), dtype=np.float64)
    x = cuda.device_array((k, n_t), dtype=np.float64)
    tr = _Transfer()
    args = (
        tr(indptr),
        tr(indices),
        tr(targets),
        tr(Y),
        tr(X, True),
        float(reg),
        bool(weighted),
        A,
        b,
        x,
    )
    loss = _loss_buffer()
    _als_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def implicit_als_solve(indptr, indices, conf, Y, YtY, X, reg: float) -> float:
    """Implicit ALS half-step (Hu, Koren, Volinsky 2008), exact (Cholesky):

    X[u] = (YᵀY + Y_Iᵀ (C_u - I) Y_I + reg I)⁻¹ Y_Iᵀ C_u 1, where ``conf`` holds
    c_ui = 1 + α r_ui for the stored entries and `YtY` = YᵀY is precomputed once
    per half-step (the YᵀY trick). Returns Σ c_ui (1 - x_u·y_i)² over stored
    entries after the solve. CUDA: one thread per row, float64 Cholesky.
    """
    k = Y.shape[1]
    blocks, tpb = _als_grid(len(indptr) - 1, k)
    n_t = blocks * tpb
    A = cuda.device_array((k, k, n_t), dtype=np.float64)
    b = cuda.device_array((k, n_t), dtype=np.float64)
    x = cuda.device_array((k, n_t), dtype=np.float64)
    tr = _Transfer()
    args = (
        tr(indptr),
        tr(indices),
        tr(conf),
        tr(Y),
        tr(YtY),
        tr(X, True),
        float(reg),
        A,
        b,
        x,
    )
    loss = _loss_buffer()
    _implicit_als_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def implicit_als_cg(
    indptr, indices, conf, Y, YtY, X, reg: float, cg_steps: int
) -> float:
    """Implicit ALS half-step by `cg_steps` of conjugate gradient warm-started
    at the current X[u] (Takács et al. 2011), never forming the k×k matrix of a
    row. Returns Σ c_ui (1 - x_u·y_i)² over stored entries *before* the update
    (it falls out of the residual computation for free); a row with no entries
    gets X[u] = 0. CUDA: one thread per row, float32 like the Numba twin.
    """
    k = Y.shape[1]
    blocks, tpb = _grid(len(indptr) - 1)
    n_t = blocks * tpb
    r = cuda.device_array((k, n_t), dtype=np.float32)
    p = cuda.device_array((k, n_t), dtype=np.float32)
    Ap = cuda.device_array((k, n_t), dtype=np.float32)
    tr = _Transfer()
    args = (
        tr(indptr),
        tr(indices),
        tr(conf),
        tr(Y),
        tr(YtY),
        tr(X, True),
        np.float32(reg),
        int(cg_steps),
        r,
        p,
        Ap,
    )
    loss = _loss_buffer()
    _implicit_cg_kernel[blocks, tpb](*args, loss)
    tr.finish()
    return _read_loss(loss)


def _empty_like_input(ref, shape, dtype):
    """An uninitialised device array: CuPy when `ref` is CuPy, else Numba's."""
    if type(ref).__module__.startswith("cupy"):
        import sys

        return sys.modules["cupy"].empty(shape, dtype=dtype)
    return cuda.device_array(shape, dtype=dtype)


# ----------------------------------------------------------------------------- KNN
#: bytes of float64 scratch per launch of the KNN similarity kernel (rows chunked)
_KNN_WORKSPACE_BYTES = 256 * 2**20


@cuda.jit
def _knn_sim_kernel(
    start,
    stop,
    indptr,
    indices,
    data,
    t_indptr,
    t_indices,
    t_data,
    norms,
    pearson,
    shrink,
    dot,
    cnt,
    na,
    nb,
):
    """Rows a in [start, stop): sims to every row b into dot[b, a - start]."""
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    n_rows = indptr.shape[0] - 1
    for a in range(start + t, stop, T):
        r = a - start
        for b in range(n_rows):
            dot[b, r] = 0.0
            cnt[b, r] = 0
            if pearson:
                na[b, r] = 0.0
                nb[b, r] = 0.0
        for p in range(indptr[a], indptr[a + 1]):  # co-occurrences through Xᵀ
            c = indices[p]
            xa = float64(data[p])
            for q in range(t_indptr[c], t_indptr[c + 1]):
                b = t_indices[q]
                if b == a:
                    continue
                xb = float64(t_data[q])
                cnt[b, r] += 1
                dot[b, r] += xa * xb
                if pearson:
                    na[b, r] += xa * xa
                    nb[b, r] += xb * xb
        for b in range(n_rows):  # dot -> sim, in place
            s = 0.0
            n_ab = cnt[b, r]
            if n_ab > 0:
                if pearson:
                    den = math.sqrt(na[b, r] * nb[b, r])
                else:
                    den = norms[a] * norms[b]
                if den > 0:
                    s = dot[b, r] / den
                if shrink > 0:
                    s *= n_ab / (n_ab + shrink)
            dot[b, r] = s


def knn_similarity(
    indptr,
    indices,
    data,
    t_indptr,
    t_indices,
    t_data,
    pearson: bool,
    shrink: float,
    keep: int,
):
    """Top-`keep` positive similarities between the rows of X (spec:
    :func:`minirec.backends.numpy_ops.knn_similarity`): returns the CSR
    ``(nbr_indptr int64, nbr_indices int32, nbr_sims float32)`` on the host, rows
    sorted by (-sim, column index), self excluded.

    CUDA: one thread per row walks its co-occurrences through Xᵀ (the Numba twin's
    O(Σ_c |column c|²) walk) and writes its dense row of float64 sims, thread-last
    (``[b, a]``, coalesced); rows go in chunks that keep the device scratch under
    256 MiB. Each chunk's sims come back to the host (an explicit copy), where the
    per-row selection is one stable vectorised sort, so ties break exactly as the
    spec's. Deterministic.
    """
    n_rows = len(indptr) - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    if n_rows == 0:
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.float32)
    pearson = bool(pearson)
    tr = _Transfer()
    csr = (tr(indptr), tr(indices), tr(data), tr(t_indptr), tr(t_indices))
    d_t_data = tr(t_data)
    d64 = np.asarray(to_host(data), dtype=np.float64)
    owner = np.repeat(np.arange(n_rows), np.diff(to_host(indptr)))
    norms = np.sqrt(np.bincount(owner, weights=d64 * d64, minlength=n_rows))
    d_norms = cuda.to_device(norms)
    per_row = n_rows * (8 + 4 + (16 if pearson else 0))  # dot, cnt (, na, nb)
    chunk = max(1, min(n_rows, _KNN_WORKSPACE_BYTES // per_row))
    dot = cuda.device_array((n_rows, chunk), dtype=np.float64)
    cnt = cuda.device_array((n_rows, chunk), dtype=np.int32)
    shape = (n_rows, chunk) if pearson else (1, 1)
    na = cuda.device_array(shape, dtype=np.float64)
    nb = cuda.device_array(shape, dtype=np.float64)
    width = n_rows if keep <= 0 else min(int(keep), n_rows)
    idx_parts, sim_parts = [], []
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        blocks, tpb = _grid(stop - start)
        _knn_sim_kernel[blocks, tpb](
            start,
            stop,
            *csr[:3],
            *csr[3:],
            d_t_data,
            d_norms,
            pearson,
            float(shrink),
            dot,
            cnt,
            na,
            nb,
        )
        S = dot.copy_to_host()[:, : stop - start].T  # device -> host, (rows, n)
        # by -sim, ties by column (a stable sort keeps the column order)
        order = np.argsort(-S, axis=1, kind="stable")[:, :width]
        top = np.take_along_axis(S, order, axis=1)
        n_out = np.minimum((S > 0).sum(axis=1), width)
        mask = np.arange(order.shape[1])[None, :] < n_out[:, None]
        idx_parts.append(order[mask].astype(np.int32))
        sim_parts.append(top[mask].astype(np.float32))
        ptr[start + 1 : stop + 1] = ptr[start] + np.cumsum(n_out)
    return ptr, np.concatenate(idx_parts), np.concatenate(sim_parts)


@cuda.jit
def _knn_predict_kernel(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k, dev, used
):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    for p in range(t, rows.shape[0], T):
        a = rows[p]
        c = cols[p]
        num = 0.0
        den = 0.0
        u = 0
        for q in range(nbr_indptr[a], nbr_indptr[a + 1]):
            b = nbr_indices[q]
            hi = indptr[b + 1]
            left = indptr[b]
            right = hi
            while left < right:  # binary search for column c in row b
                mid = (left + right) // 2
                if indices[mid] < c:
                    left = mid + 1
                else:
                    right = mid
            if left < hi and indices[left] == c:
                num += nbr_sims[q] * data[left]
                den += nbr_sims[q]
                u += 1
                if u == k:
                    break
        used[p] = u
        dev[p] = num / den if den > 0 else 0.0


def knn_predict(
    nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols, k: int
):
    """Weighted deviation of the first `k` neighbours that have an entry (spec:
    :func:`minirec.backends.numpy_ops.knn_predict`): returns ``(dev float32,
    n_used int32)``, GPU arrays when `rows` is on the GPU, else NumPy arrays.
    CUDA: one thread per pair, a binary search per neighbour. Deterministic."""
    n = len(rows)
    on_gpu = is_device_array(rows)
    tr = _Transfer()
    args = [
        tr(a)
        for a in (nbr_indptr, nbr_indices, nbr_sims, indptr, indices, data, rows, cols)
    ]
    dev = _empty_like_input(rows, (n,), np.float32)
    used = _empty_like_input(rows, (n,), np.int32)
    if n:
        blocks, tpb = _grid(n)
        _knn_predict_kernel[blocks, tpb](*args, int(k), dev, used)
    if on_gpu:
        return dev, used
    return dev.copy_to_host(), used.copy_to_host()


# every item of a query: the host kernels (module docstring)
from .numba_ops import knn_predict_cols, knn_predict_rows  # noqa: E402


# ----------------------------------------------------------------------------- moves
def to_device(a):
    """A Numba device array holding a copy of host array `a` (an explicit host ->
    device transfer; device arrays are returned as they are). Unlike
    :func:`minirec.backends.device.to_device` (CuPy) it also works under the
    simulator; models use it to keep parameters on the device across epochs."""
    if is_device_array(a):
        return a
    return cuda.to_device(np.ascontiguousarray(a))


_GRID = (
    "the DSGD grid is a CPU schedule: on the GPU, MF runs sgd_mf_epoch or "
    "sgd_mf_epoch_hogwild (MF(blocks=...) with backend='cuda' is refused)"
)
_HOST = "shuffles run on the host (host_kernels()); the GPU kernels take their output"
_RANKING = "RankingMF has no GPU kernels yet: use backend='numba'"
#: contract kernels (backends/base.py) this backend does not implement, and why
UNSUPPORTED: dict[str, str] = {
    "sgd_mf_epoch_strata": _GRID,
    "sgd_mf_epoch_hogwild_strata": _GRID,
    "strata_layout": _GRID,
    "shuffle_ratings": _HOST,
    "shuffle_ratings_blocks": _HOST,
    "sgd_logistic_mf_epoch": _RANKING,
    "sgd_logistic_mf_epoch_hogwild": _RANKING,
}
