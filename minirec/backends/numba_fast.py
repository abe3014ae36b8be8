"""The tuned Numba kernels the models train with: ``get_kernels("numba")`` is this
module.

It exports every contract name (:mod:`minirec.backends.base`): the tuned variants
below where one exists, and the readable twins of :mod:`minirec.backends.numba_ops`
for the rest. Read the twin first: a tuned variant takes the same arguments, does
the same updates in the same order and returns the same loss, to float32 summation
order (tests/backends/test_numba_fast.py compares each with the NumPy spec). What
is tuned, and why:

* **SGD-MF** (``sgd_mf_epoch`` and its Hogwild / DSGD drivers): when ``order`` is
  the identity (what the models pass, after copying the triples shuffled) the
  triples are read front to back with row views; otherwise each block of
  ``_BLOCK`` ratings is first gathered into small contiguous buffers, so the
  random reads through ``order`` are independent loads the CPU overlaps instead of
  cache misses stalling the dependent update loop. The loop is compiled with
  512-bit vectors (:func:`~minirec.backends._codegen.wide_vectors`) and once more
  for each k in :data:`~minirec.backends._codegen.SPECIALIZED_K` with k a constant.
* **BPR** (``bpr_epoch``, ``bpr_epoch_hogwild``): the twin's loop with
  ``wide_vectors``.
* **FM** (``sgd_fm_epoch``, ``sgd_fm_blocks_epoch``): the epoch is bound by the
  instruction stream, so the kernel saves instructions per rating: padding slots
  are dropped once per epoch (``_left_align``) and each rating copies exactly its m
  slots, summing the linear term on the way; the forward makes one pass over k per
  eight slots (k <= 64) or four, the last one also summing s_f², reading s from one
  row of a (3, k) scratch and writing another so that LLVM vectorises every pass;
  slot indices are unsigned (no negative-index wraparound code); the factor rows of
  the rating ``_PREFETCH`` places ahead are prefetched
  (:func:`~minirec.backends._codegen.prefetch_row`); ``wide_vectors`` and, in the
  block kernel, ``SPECIALIZED_K``.

The figures (tuned vs the previous kernels, compile times) are in
benchmarks/results/kernels.md and fm_knn.md.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from . import numba_ops
from ._codegen import prefetch_row, wide_vectors
from .numba_ops import (  # noqa: F401  (re-exported: the untuned contract names)
    _splitmix64_draw,
    als_solve,
    fm_predict,
    implicit_als_cg,
    implicit_als_solve,
    knn_predict,
    knn_predict_cols,
    knn_predict_rows,
    knn_reverse,
    knn_similarity,
    sgd_logistic_mf_epoch,
    sgd_logistic_mf_epoch_hogwild,
    shuffle_ratings,
    shuffle_ratings_blocks,
    strata_layout,
)
from .numba_ops._jit import JIT as _JIT
from .numba_ops.bpr import _bpr_range as _bpr_steps
from .numba_ops.fm import _fm_loss
from .numba_ops.mf import _sgd_mf_range as _sgd_mf_steps
from .numba_ops.mf import grid_threads

#: the tuned kernels defined here; every other contract name is numba_ops' twin
TUNED = (
    "sgd_mf_epoch",
    "sgd_mf_epoch_hogwild",
    "sgd_mf_epoch_strata",
    "sgd_mf_epoch_hogwild_strata",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "sgd_fm_epoch",
    "sgd_fm_blocks_epoch",
)

#: the same names as numba_ops: the tuned kernel where TUNED lists it, else the twin
__all__ = list(numba_ops.__all__)
UNSUPPORTED = numba_ops.UNSUPPORTED


# ----------------------------------------------------------------------------- SGD MF
_BLOCK = 1024  # ratings gathered at a time (see _sgd_mf_range)


@njit(**_JIT)
def _is_identity(order, start, stop):
    """order[start:stop] == start..stop-1 (the models pass the identity after
    copying the triples shuffled; one sequential pass, cheap next to the epoch)."""
    ok = True
    for t in range(start, stop):
        ok &= order[t] == t
    return ok


@njit(inline="always", **_JIT)
def _sgd_mf_rows_k(
    users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, k
):
    """The SGD loop over the triples start..stop-1 in their stored order (no
    gather): the fast path. Same arithmetic as the gathered loop below, written
    out twice on purpose: a shared per-rating helper taking the row views is
    slower (inlined or not; the views passed to it are reference-counted per
    call). k = P.shape[1], a constant when the caller passes one."""
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    rb32 = np.float32(reg_bias)
    mu32 = np.float32(mu)
    loss = 0.0
    for t in range(start, stop):
        u = users[t]
        i = items[t]
        p_u = P[u]  # row views: the compiler vectorises the two loops over f
        q_i = Q[i]
        pred = np.float32(0.0)
        for f in range(k):
            pred += p_u[f] * q_i[f]
        if biased:
            pred += mu32 + bu[u] + bi[i]
        err = ratings[t] - pred
        loss += err * err
        if biased:
            bu[u] += lr32 * (err - rb32 * bu[u])
            bi[i] += lr32 * (err - rb32 * bi[i])
        for f in range(k):
            pf = p_u[f]  # old p_u for the q_i update
            qf = q_i[f]
            p_u[f] = pf + lr32 * (err * qf - reg32 * pf)
            q_i[f] = qf + lr32 * (err * pf - reg32 * qf)
    return loss


@njit(**_JIT)
def _sgd_mf_rows(
    users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """:func:`_sgd_mf_rows_k` with 512-bit vectors where the CPU has them and its
    loop compiled with k constant for each k in ``SPECIALIZED_K`` (see
    `_codegen`)."""
    wide_vectors()
    k = P.shape[1]
    if k == 32:
        return _sgd_mf_rows_k(
            users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
            biased, 32,
        )  # fmt: skip
    if k == 64:
        return _sgd_mf_rows_k(
            users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
            biased, 64,
        )  # fmt: skip
    if k == 128:
        return _sgd_mf_rows_k(
            users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
            biased, 128,
        )  # fmt: skip
    return _sgd_mf_rows_k(
        users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased, k,
    )  # fmt: skip


@njit(**_JIT)
def _sgd_mf_range(
    users, items, ratings, order, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
    biased,
):  # fmt: skip
    """The SGD loop over order[start:stop] (tuned ``numba_ops.mf._sgd_mf_range``).

    Reading users/items/ratings through a shuffled `order` is a random access into
    three large arrays per rating; done inside the dependent update loop those
    cache misses stall it. So each block of ratings is first gathered into small
    contiguous buffers (independent loads, which the CPU overlaps), then updated
    by ``numba_ops``' loop (inlined here): same arithmetic, same order. When
    `order` is the identity (what the models pass: they copy the triples
    shuffled), the triples are read directly instead (no gather buffers).
    """
    if _is_identity(order, start, stop):
        return _sgd_mf_rows(
            users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
            biased,
        )  # fmt: skip
    wide_vectors()
    ub = np.empty(_BLOCK, dtype=np.int64)
    ib = np.empty(_BLOCK, dtype=np.int64)
    rbuf = np.empty(_BLOCK, dtype=np.float32)
    block = np.arange(_BLOCK)  # the order inside the gathered buffers
    loss = 0.0
    for s0 in range(start, stop, _BLOCK):
        nb = min(_BLOCK, stop - s0)
        for t in range(nb):
            idx = order[s0 + t]
            ub[t] = users[idx]
            ib[t] = items[idx]
            rbuf[t] = ratings[idx]
        loss += _sgd_mf_steps(
            ub, ib, rbuf, block, 0, nb, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
        )
    return loss


@njit(**_JIT)
def sgd_mf_epoch(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """One SGD epoch of (biased) MF over the ratings in `order`.

    For n in order: e = r - (mu + bu[u] + bi[i] + P[u]·Q[i]) (biases only when
    `biased`), then bu[u] += lr (e - reg_bias bu[u]), bi[i] likewise, and with the
    *old* p_u: P[u] += lr (e Q[i] - reg P[u]), Q[i] += lr (e p_u - reg Q[i]).
    Updates P, Q (and bu, bi) in place. Returns sum of e² (errors before each update).
    """
    return _sgd_mf_range(
        users, items, ratings, order, 0, len(order), P, Q, bu, bi, mu, lr, reg,
        reg_bias, biased,
    )  # fmt: skip


@njit(parallel=True, **_JIT)
def _sgd_mf_hogwild(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, T
):
    n = len(order)
    losses = np.zeros(T)
    for t in prange(T):
        losses[t] = _sgd_mf_range(
            users, items, ratings, order, t * n // T, (t + 1) * n // T, P, Q, bu,
            bi, mu, lr, reg, reg_bias, biased,
        )  # fmt: skip
    return losses.sum()


def sgd_mf_epoch_hogwild(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """``numba_ops.sgd_mf_epoch_hogwild`` with the tuned loop (nondeterministic)."""
    return _sgd_mf_hogwild(
        users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased,
        numba.get_num_threads(),
    )  # fmt: skip


@njit(parallel=True, **_JIT)
def _sgd_mf_strata(
    users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    T = int(round(math.sqrt(len(bounds) - 1)))
    loss = 0.0
    for s in range(T):
        losses = np.zeros(T)
        for t in prange(T):
            b = s * T + t
            losses[t] = _sgd_mf_range(
                users, items, ratings, order, bounds[b], bounds[b + 1], P, Q, bu,
                bi, mu, lr, reg, reg_bias, biased,
            )  # fmt: skip
        loss += losses.sum()
    return loss


def sgd_mf_epoch_strata(
    users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """``numba_ops.sgd_mf_epoch_strata`` (DSGD, no races, reproducible bit for bit)
    with the tuned loop."""
    return _sgd_mf_strata(
        users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased,
    )  # fmt: skip


@njit(parallel=True, **_JIT)
def _sgd_mf_hogwild_strata(
    users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, T
):
    B = int(round(math.sqrt(len(bounds) - 1)))
    losses = np.zeros(T)
    for t in prange(T):  # thread t: user blocks j0..j1-1, stratum after stratum
        j0 = t * B // T
        j1 = (t + 1) * B // T
        loss = 0.0
        for s in range(B):  # no barrier between the strata
            for j in range(j0, j1):
                b = s * B + j
                loss += _sgd_mf_range(
                    users, items, ratings, order, bounds[b], bounds[b + 1], P, Q,
                    bu, bi, mu, lr, reg, reg_bias, biased,
                )  # fmt: skip
        losses[t] = loss
    return losses.sum()


def sgd_mf_epoch_hogwild_strata(
    users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """``numba_ops.sgd_mf_epoch_hogwild_strata`` (Hogwild over the DSGD grid,
    nondeterministic) with the tuned loop."""
    return _sgd_mf_hogwild_strata(
        users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased, grid_threads(bounds),
    )  # fmt: skip


# ----------------------------------------------------------------------------- BPR
@njit(**_JIT)
def _bpr_range(users, pos, neg, start, stop, P, Q, bi, lr, reg, reg_bias):
    """``numba_ops``' BPR loop (inlined here) compiled with 512-bit vectors."""
    wide_vectors()
    return _bpr_steps(users, pos, neg, start, stop, P, Q, bi, lr, reg, reg_bias)


@njit(**_JIT)
def bpr_epoch(users, pos, neg, P, Q, bi, lr, reg, reg_bias):
    """``numba_ops.bpr_epoch`` with the tuned loop."""
    return _bpr_range(users, pos, neg, 0, len(users), P, Q, bi, lr, reg, reg_bias)


@njit(parallel=True, **_JIT)
def _bpr_hogwild(users, pos, neg, P, Q, bi, lr, reg, reg_bias, T):
    n = len(users)
    losses = np.zeros(T)
    for t in prange(T):
        losses[t] = _bpr_range(
            users, pos, neg, t * n // T, (t + 1) * n // T, P, Q, bi, lr, reg, reg_bias
        )
    return losses.sum()


def bpr_epoch_hogwild(users, pos, neg, P, Q, bi, lr, reg, reg_bias):
    """``numba_ops.bpr_epoch_hogwild`` with the tuned loop (nondeterministic)."""
    return _bpr_hogwild(
        users, pos, neg, P, Q, bi, lr, reg, reg_bias, numba.get_num_threads()
    )


# ----------------------------------------------------------------------------- FM
_PREFETCH = 4  # ratings ahead (see benchmarks/results/fm_knn.md)


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


@njit(inline="always", **_JIT)  # inlined at Numba IR level (fewer instructions)
def _fm_step(jj, xx, m, lin, yn, w0, w, V, S, lr32, rw, rv, logistic, k):
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
    # (x = 0), so they need no remainder code; they pay for k <= 64, the four-slot
    # passes for larger k (benchmarks/results/fm_knn.md). The same code as two
    # inlined helpers returning (pair, dst) is slower: keep it in one body.
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
    loss, g = _fm_loss(pred, yn, logistic)
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
def sgd_fm_epoch(idx, val, y, order, w0, w, V, lr, reg_w, reg_V, logistic):
    """``numba_ops.sgd_fm_epoch`` tuned (same arguments, same updates).

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
        loss += _fm_step(jj, xx, m, lin, y[n], w0, w, V, S, lr32, rw, rv, logistic, k)
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
        loss += _fm_step(jj, xx, m, lin, y[n], w0, w, V, S, lr32, rw, rv, logistic, k)
    return loss


@njit(**_JIT)
def sgd_fm_blocks_epoch(
    users, items, y, order, user_idx, user_val, item_idx, item_val, w0, w, V, lr,
    reg_w, reg_V, logistic,
):  # fmt: skip
    """``numba_ops.sgd_fm_blocks_epoch`` tuned (same arguments, same updates).

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
