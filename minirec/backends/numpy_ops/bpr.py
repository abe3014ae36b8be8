"""BPR (Rendle et al. 2009), one SGD step per sampled triple: the spec (Numba
twins in ``numba_ops/bpr.py``)."""

from __future__ import annotations

import numpy as np


def bpr_epoch(
    users: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bi: np.ndarray,
    lr: float,
    reg: float,
    reg_bias: float,
) -> float:
    """One BPR pass over the triples (users[n], pos[n], neg[n]) in order.

    x = p_u·(q_i - q_j) + b_i - b_j; g = σ(-x) = 1 - σ(x);
    p_u += lr (g (q_i - q_j) - reg p_u); q_i += lr (g p_u - reg q_i);
    q_j += lr (-g p_u - reg q_j); b_i += lr (g - reg_bias b_i);
    b_j += lr (-g - reg_bias b_j) (all with the old values).
    Returns sum of -log σ(x).
    """
    loss = 0.0
    for n in range(len(users)):
        u, i, j = users[n], pos[n], neg[n]
        p_u = P[u].copy()
        q_i = Q[i].copy()
        q_j = Q[j].copy()
        x = float(p_u @ (q_i - q_j) + bi[i] - bi[j])
        g = 1.0 / (1.0 + np.exp(x))  # σ(-x): d(-log σ(x))/dx = -σ(-x)
        loss += np.logaddexp(0.0, -x)  # -log σ(x), stable
        P[u] += lr * (g * (q_i - q_j) - reg * p_u)
        Q[i] += lr * (g * p_u - reg * q_i)
        Q[j] += lr * (-g * p_u - reg * q_j)
        bi[i] += lr * (g - reg_bias * bi[i])
        bi[j] += lr * (-g - reg_bias * bi[j])
    return float(loss)


def bpr_epoch_hogwild(
    users: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bi: np.ndarray,
    lr: float,
    reg: float,
    reg_bias: float,
) -> float:
    """`bpr_epoch` over one chunk of triples per thread, lock-free
    (nondeterministic). The NumPy spec has one thread: it is `bpr_epoch`."""
    return bpr_epoch(users, pos, neg, P, Q, bi, lr, reg, reg_bias)
