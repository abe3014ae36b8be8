"""Numba twins of :mod:`minirec.backends.numpy_ops.ranking` (logistic MF with
sampled negatives; the spec's docstring has the model and the update)."""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..numpy_ops.ranking import _logistic
from ._jit import JIT as _JIT

__all__ = ["sgd_logistic_mf_epoch", "sgd_logistic_mf_epoch_hogwild"]

_logistic_jit = njit(inline="always", **_JIT)(_logistic)


@njit(**_JIT)
def _logistic_mf_range(
    users, items, labels, order, start, stop, P, Q, bu, bi, b, lr, reg
):
    """The spec's SGD loop over the rows order[start:stop]."""
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    loss = 0.0
    for t in range(start, stop):
        r = order[t]
        u = users[r]
        i = items[r]
        y_hat = np.float32(0.0)
        for f in range(k):
            y_hat += P[u, f] * Q[i, f]
        y_hat += b[0] + bu[u] + bi[i]
        ell, g64 = _logistic_jit(np.float64(y_hat), np.float64(labels[r]))
        loss += ell
        g = np.float32(g64)
        for f in range(k):
            pf = P[u, f]  # old p_u for the q_i update
            qf = Q[i, f]
            P[u, f] = pf + lr32 * (g * qf - reg32 * pf)
            Q[i, f] = qf + lr32 * (g * pf - reg32 * qf)
        bu[u] += lr32 * (g - reg32 * bu[u])
        bi[i] += lr32 * (g - reg32 * bi[i])
        b[0] += lr32 * (g - reg32 * b[0])
    return loss


@njit(**_JIT)
def sgd_logistic_mf_epoch(users, items, labels, order, P, Q, bu, bi, b, lr, reg):
    """One SGD epoch of logistic MF over the rows in `order` (Numba twin of
    ``numpy_ops.sgd_logistic_mf_epoch``: same arguments, same updates; serial,
    bitwise reproducible run to run)."""
    return _logistic_mf_range(
        users, items, labels, order, 0, len(order), P, Q, bu, bi, b, lr, reg
    )


@njit(parallel=True, **_JIT)
def _logistic_mf_hogwild(users, items, labels, order, P, Q, bu, bi, b, lr, reg, T):
    N = len(order)
    losses = np.zeros(T)
    for t in prange(T):
        losses[t] = _logistic_mf_range(
            users, items, labels, order, t * N // T, (t + 1) * N // T, P, Q, bu,
            bi, b, lr, reg,
        )  # fmt: skip
    return losses.sum()


def sgd_logistic_mf_epoch_hogwild(
    users, items, labels, order, P, Q, bu, bi, b, lr, reg
) -> float:
    """`sgd_logistic_mf_epoch` with `order` cut into one chunk per Numba thread
    (``numba.get_num_threads()``), run lock-free: **nondeterministic**, the threads
    race on shared rows of P, Q and on b."""
    return _logistic_mf_hogwild(
        users, items, labels, order, P, Q, bu, bi, b, lr, reg, numba.get_num_threads()
    )
