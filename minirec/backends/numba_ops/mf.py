"""Numba twins of :mod:`minirec.backends.numpy_ops.mf`: the spec's loop, compiled.

Serial kernels are bitwise reproducible run to run and differ from the spec only
in float32 summation order. ``*_hogwild`` kernels use ``prange`` over one chunk
per thread and race on shared rows (nondeterministic by design); the DSGD kernels
run the strata of a sub-epoch in parallel without races. ``numba_fast`` holds the
tuned variants the models train with (same arguments, same results to float
tolerance, tested against the spec).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from ._jit import JIT as _JIT

__all__ = [
    "sgd_mf_epoch",
    "sgd_mf_epoch_hogwild",
    "sgd_mf_epoch_strata",
    "sgd_mf_epoch_hogwild_strata",
]


@njit(inline="always", **_JIT)
def _sgd_mf_range(
    users, items, ratings, order, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
    biased,
):  # fmt: skip
    """The spec's SGD loop over the ratings order[start:stop] (inlined at Numba IR
    level into its callers, so ``numba_fast`` can compile it with its hints)."""
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    rb32 = np.float32(reg_bias)
    mu32 = np.float32(mu)
    loss = 0.0
    for t in range(start, stop):
        n = order[t]
        u = users[n]
        i = items[n]
        pred = np.float32(0.0)
        for f in range(k):
            pred += P[u, f] * Q[i, f]
        if biased:
            pred += mu32 + bu[u] + bi[i]
        err = ratings[n] - pred
        loss += err * err
        if biased:
            bu[u] += lr32 * (err - rb32 * bu[u])
            bi[i] += lr32 * (err - rb32 * bi[i])
        for f in range(k):
            pf = P[u, f]  # old p_u for the q_i update
            qf = Q[i, f]
            P[u, f] = pf + lr32 * (err * qf - reg32 * pf)
            Q[i, f] = qf + lr32 * (err * pf - reg32 * qf)
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
    """`sgd_mf_epoch` with `order` cut into one chunk per thread, run lock-free
    (Hogwild!, Niu et al. 2011): **nondeterministic**, threads race on shared rows.
    Uses ``numba.get_num_threads()`` threads (set with ``numba.set_num_threads``)."""
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
    """`sgd_mf_epoch` over the strata of :func:`strata_layout`, the T strata of a
    sub-epoch in parallel (DSGD, Gemulla et al. 2011). They share no user and no
    item row, so there are no races: the result equals the NumPy spec's serial
    order and is reproducible bit for bit. Unlike Hogwild, the threads also never
    write the same cache line (the id blocks are contiguous), which is what makes
    it scale with the threads, while uniform Hogwild does not (cache lines of Q
    and the biases bounce between the cores)."""
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


def grid_threads(bounds) -> int:
    """Threads of the Hogwild-over-the-grid kernels: min(Numba threads, B) for a
    B x B grid (``len(bounds) = B² + 1``)."""
    B = int(round(math.sqrt(len(bounds) - 1)))
    return max(1, min(numba.get_num_threads(), B))


def sgd_mf_epoch_hogwild_strata(
    users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """Hogwild over the DSGD grid of :func:`strata_layout` (B x B blocks): each
    of T = min(threads, B) threads owns a contiguous share of the B user blocks
    and runs its blocks of stratum 0, then of stratum 1, ..., lock-free and
    **without the barrier** that `sgd_mf_epoch_strata` puts between strata.

    No two threads ever share a row of P or b_u. A row of Q is shared only when
    the threads drift apart by about B / T blocks, so races are rare but
    possible: **nondeterministic** like any Hogwild (one thread gives exactly
    `sgd_mf_epoch_strata`'s order and result). Why not the uniform order of
    `sgd_mf_epoch_hogwild`: there every row of P and Q is written by all threads
    in turn and its cache lines move between the cores on nearly every update;
    here each thread keeps its rows in its own cache for a whole block."""
    return _sgd_mf_hogwild_strata(
        users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased, grid_threads(bounds),
    )  # fmt: skip
