"""Numba twins of :mod:`minirec.backends.numpy_ops.bpr`."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from ._jit import JIT as _JIT

__all__ = ["bpr_epoch", "bpr_epoch_hogwild"]


@njit(inline="always", **_JIT)
def _bpr_range(users, pos, neg, start, stop, P, Q, bi, lr, reg, reg_bias):
    """The spec's BPR loop over the triples start..stop-1 (inlined at Numba IR
    level into its callers, so ``numba_fast`` can compile it with its hints)."""
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    rb32 = np.float32(reg_bias)
    loss = 0.0
    for n in range(start, stop):
        p_u = P[users[n]]
        i = pos[n]
        j = neg[n]
        q_i = Q[i]
        q_j = Q[j]
        x = bi[i] - bi[j]
        for f in range(k):
            x += p_u[f] * (q_i[f] - q_j[f])
        xf = np.float64(x)
        # -log σ(x) = log(1 + e^{-x}), computed stably on both sides
        if xf > 0:
            loss += math.log1p(math.exp(-xf))
        else:
            loss += -xf + math.log1p(math.exp(xf))
        g = np.float32(1.0 / (1.0 + math.exp(xf)))  # σ(-x)
        for f in range(k):
            pf = p_u[f]
            qi = q_i[f]
            qj = q_j[f]
            p_u[f] = pf + lr32 * (g * (qi - qj) - reg32 * pf)
            q_i[f] = qi + lr32 * (g * pf - reg32 * qi)
            # += (not = qj + ...) so that i == j accumulates both steps, as the spec
            q_j[f] += lr32 * (-g * pf - reg32 * qj)
        bi[i] += lr32 * (g - rb32 * bi[i])
        bi[j] += lr32 * (-g - rb32 * bi[j])
    return loss


@njit(**_JIT)
def bpr_epoch(users, pos, neg, P, Q, bi, lr, reg, reg_bias):
    """One BPR pass over the triples (users[n], pos[n], neg[n]) in order.

    x = p_u·(q_i - q_j) + b_i - b_j; g = σ(-x) = 1 - σ(x);
    p_u += lr (g (q_i - q_j) - reg p_u); q_i += lr (g p_u - reg q_i);
    q_j += lr (-g p_u - reg q_j); b_i += lr (g - reg_bias b_i);
    b_j += lr (-g - reg_bias b_j) (all with the old values).
    Returns sum of -log σ(x).
    """
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
    """`bpr_epoch` over one chunk of triples per thread, lock-free
    (**nondeterministic**). Uses ``numba.get_num_threads()`` threads."""
    return _bpr_hogwild(
        users, pos, neg, P, Q, bi, lr, reg, reg_bias, numba.get_num_threads()
    )
