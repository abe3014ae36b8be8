r"""Logistic-loss MF kernels with sampled negatives: the spec (Numba twins in
``numba_ops/ranking.py``).

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
(``shuffle_ratings`` of the kernel backend: the same permutation in every
backend) and passes ``order = arange(N)``, so the kernels read them
front to back. The negatives and the shuffle seed come from a seeded NumPy
Generator (:func:`minirec.models.ranking_mf.draw_epoch`), so both backends apply
exactly the same updates. Cost per epoch O(n (1 + m) k): 9M steps on the NCF ML-1M
training data with m = 8.

Contract names: ``sgd_logistic_mf_epoch`` (serial) and
``sgd_logistic_mf_epoch_hogwild`` (the rows cut into one chunk per thread, run
lock-free, Niu et al. 2011: nondeterministic; this spec has one thread and is the
serial kernel).
"""

from __future__ import annotations

import math

import numpy as np


def _logistic(y_hat: float, y: float) -> tuple[float, float]:
    """(ℓ, g) for one row: ℓ = −ln σ(ŷ) if y = 1 else −ln σ(−ŷ), g = y − σ(ŷ); one
    exp, stable for any ŷ (e = e^{−|ŷ|} never overflows)."""
    e = math.exp(-abs(y_hat))
    sig = 1.0 / (1.0 + e) if y_hat >= 0 else e / (1.0 + e)
    z = y_hat if y > 0.5 else -y_hat
    return max(-z, 0.0) + math.log1p(e), y - sig


def sgd_logistic_mf_epoch(
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


def sgd_logistic_mf_epoch_hogwild(
    users, items, labels, order, P, Q, bu, bi, b, lr, reg
) -> float:
    """The NumPy spec has one thread: this is :func:`sgd_logistic_mf_epoch`."""
    return sgd_logistic_mf_epoch(users, items, labels, order, P, Q, bu, bi, b, lr, reg)
