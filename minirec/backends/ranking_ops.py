r"""Logistic-loss MF kernels with sampled negatives: the NumPy spec and its Numba twin.

Model and update of :class:`minirec.models.ranking_mf.RankingMF` (Rendle, Krichene,
Zhang, Anderson 2020, "Neural Collaborative Filtering vs. Matrix Factorization
Revisited", §3 and their MF baseline)::

    ŷ(u, i) = b + b_u + b_i + p_u · q_i
    ℓ = −y ln σ(ŷ) − (1 − y) ln(1 − σ(ŷ)),      y ∈ {0, 1}
    g = y − σ(ŷ)                               (= −∂ℓ/∂ŷ)
    p_u += η (g q_i − λ p_u);  q_i += η (g p_u − λ q_i)   (both with the old values)
    b_u += η (g − λ b_u);  b_i += η (g − λ b_i);  b += η (g − λ b)

one step per example (batch size 1).

Rows of an epoch. The model builds the n (1 + m) labelled rows (users[r], items[r],
labels[r]): the n training positives (label 1) and, for each, m negatives (label
0) whose items it draws uniformly over all items every epoch; it shuffles the rows
(``shuffle_ratings`` of the kernel backend: the same permutation in the NumPy spec
and the Numba twin) and passes ``order = arange(N)``, so the kernels read them
front to back. The negatives and the shuffle seed come from a seeded NumPy
Generator (:func:`minirec.models.ranking_mf.draw_epoch`), so both backends apply
exactly the same updates. Cost per epoch O(n (1 + m) k): 9M steps on the NCF ML-1M
training data with m = 8.

Contract: ``sgd_logistic_mf_epoch_{numpy,numba}`` (serial; the Numba twin is bitwise
reproducible run to run and differs from the spec only in float32 summation order)
and ``sgd_logistic_mf_epoch_hogwild_{numpy,numba}`` (the rows cut into one chunk
per Numba thread, run lock-free, Niu et al. 2011: nondeterministic; the NumPy
version has one thread and is the serial spec). The Numba twins also run as plain
Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "sgd_logistic_mf_epoch_numpy",
    "sgd_logistic_mf_epoch_numba",
    "sgd_logistic_mf_epoch_hogwild_numpy",
    "sgd_logistic_mf_epoch_hogwild_numba",
]

_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}
_BLOCK = 1024  # rows decoded at a time into contiguous buffers (Numba kernel)


def _logistic(y_hat: float, y: float) -> tuple[float, float]:
    """(ℓ, g) for one row: ℓ = −ln σ(ŷ) if y = 1 else −ln σ(−ŷ), g = y − σ(ŷ); one
    exp, stable for any ŷ (e = e^{−|ŷ|} never overflows)."""
    e = math.exp(-abs(y_hat))
    sig = 1.0 / (1.0 + e) if y_hat >= 0 else e / (1.0 + e)
    z = y_hat if y > 0.5 else -y_hat
    return max(-z, 0.0) + math.log1p(e), y - sig


# ----------------------------------------------------------------------------- NumPy
def sgd_logistic_mf_epoch_numpy(
    users: np.ndarray,
    items: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bu: np.ndarray,
    bi: np.ndarray,
    b: np.ndarray,
    lr: float,
    reg: float,
) -> float:
    """One SGD epoch of logistic MF over the rows in `order` (the spec).

    Parameters
    ----------
    users, items : (N,) int32
        The rows' internal user and item indices.
    labels : (N,) float32
        y ∈ {0, 1} of each row.
    order : (M,) int32 or int64
        Rows to visit, in this order (``arange(N)`` for rows already shuffled).
    P : (n_users, k) float32, Q : (n_items, k) float32
    bu : (n_users,) float32, bi : (n_items,) float32, b : (1,) float32
        Parameters, updated in place.
    lr, reg : float
        Learning rate η and the L2 penalty λ (on every touched parameter, b too).

    Returns
    -------
    float
        Σ ℓ over the visited rows, each taken before its own update.
    """
    lr32, reg32 = np.float32(lr), np.float32(reg)
    loss = 0.0
    for r in order:
        u, i = users[r], items[r]
        p_u = P[u].copy()
        q_i = Q[i].copy()
        y_hat = float(p_u @ q_i + (b[0] + bu[u] + bi[i]))
        ell, g = _logistic(y_hat, float(labels[r]))
        loss += ell
        g = np.float32(g)
        P[u] = p_u + lr32 * (g * q_i - reg32 * p_u)
        Q[i] = q_i + lr32 * (g * p_u - reg32 * q_i)
        bu[u] += lr32 * (g - reg32 * bu[u])
        bi[i] += lr32 * (g - reg32 * bi[i])
        b[0] += lr32 * (g - reg32 * b[0])
    return loss


def sgd_logistic_mf_epoch_hogwild_numpy(
    users, items, labels, order, P, Q, bu, bi, b, lr, reg
) -> float:
    """The NumPy spec has one thread: this is :func:`sgd_logistic_mf_epoch_numpy`."""
    return sgd_logistic_mf_epoch_numpy(
        users, items, labels, order, P, Q, bu, bi, b, lr, reg
    )


# ----------------------------------------------------------------------------- Numba
_logistic_numba = njit(inline="always", **_JIT)(_logistic)


@njit(**_JIT)
def _logistic_mf_range(
    users, items, labels, order, start, stop, P, Q, bu, bi, b, lr, reg
):
    """The SGD loop over order[start:stop].

    Speed note (as in ``numba_ops._sgd_mf_range``): with a shuffled `order` the
    reads of users/items/labels are random; done inside the dependent update loop
    those cache misses stall it. So each block of rows is first gathered into
    small contiguous buffers (independent loads the CPU overlaps), then updated in
    the same order with the same arithmetic. (The model passes rows already
    shuffled and ``order = arange(N)``: then the gather is a sequential copy.)
    """
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    ub = np.empty(_BLOCK, dtype=np.int64)
    ib = np.empty(_BLOCK, dtype=np.int64)
    yb = np.empty(_BLOCK, dtype=np.float64)
    loss = 0.0
    for s0 in range(start, stop, _BLOCK):
        nb = min(_BLOCK, stop - s0)
        for t in range(nb):
            r = order[s0 + t]
            ub[t] = users[r]
            ib[t] = items[r]
            yb[t] = labels[r]
        for t in range(nb):
            u = ub[t]
            i = ib[t]
            y_hat = np.float32(0.0)
            for f in range(k):
                y_hat += P[u, f] * Q[i, f]
            y_hat += b[0] + bu[u] + bi[i]
            ell, g64 = _logistic_numba(np.float64(y_hat), yb[t])
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
def sgd_logistic_mf_epoch_numba(users, items, labels, order, P, Q, bu, bi, b, lr, reg):
    """Numba twin of :func:`sgd_logistic_mf_epoch_numpy` (same arguments, same
    updates; serial, bitwise reproducible run to run)."""
    return _logistic_mf_range(
        users, items, labels, order, 0, len(order), P, Q, bu, bi, b, lr, reg
    )


@njit(parallel=True, **_JIT)
def _logistic_mf_hogwild(users, items, labels, order, P, Q, bu, bi, b, lr, reg, T):
    N = len(order)
    losses = np.zeros(T)
    for t in prange(T):
        losses[t] = _logistic_mf_range(
            users,
            items,
            labels,
            order,
            t * N // T,
            (t + 1) * N // T,
            P,
            Q,
            bu,
            bi,
            b,
            lr,
            reg,
        )
    return losses.sum()


def sgd_logistic_mf_epoch_hogwild_numba(
    users, items, labels, order, P, Q, bu, bi, b, lr, reg
) -> float:
    """:func:`sgd_logistic_mf_epoch_numba` with `order` cut into one
    chunk per Numba thread (``numba.get_num_threads()``), run lock-free:
    **nondeterministic**, the threads race on shared rows of P, Q and on b."""
    return _logistic_mf_hogwild(
        users, items, labels, order, P, Q, bu, bi, b, lr, reg, numba.get_num_threads()
    )
