"""SGD for (biased) matrix factorization, serial, Hogwild and DSGD: the spec
(Numba twins in ``numba_ops/mf.py``, tuned ones in ``numba_fast.py``)."""

from __future__ import annotations

import numpy as np


def sgd_mf_epoch(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    order: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bu: np.ndarray,
    bi: np.ndarray,
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
    """
    loss = 0.0
    for n in order:
        u, i, r = users[n], items[n], ratings[n]
        p_u = P[u].copy()  # the q_i update must use p_u from before its own update
        q_i = Q[i]
        pred = p_u @ q_i
        if biased:
            pred += mu + bu[u] + bi[i]
        err = r - pred
        loss += float(err) ** 2
        if biased:
            bu[u] += lr * (err - reg_bias * bu[u])
            bi[i] += lr * (err - reg_bias * bi[i])
        P[u] += lr * (err * q_i - reg * p_u)
        Q[i] += lr * (err * p_u - reg * q_i)
    return loss


def sgd_mf_epoch_hogwild(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    order: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bu: np.ndarray,
    bi: np.ndarray,
    mu: float,
    lr: float,
    reg: float,
    reg_bias: float,
    biased: bool,
) -> float:
    """`sgd_mf_epoch` with `order` cut into one chunk per thread, run lock-free
    (nondeterministic). The NumPy spec has one thread: it is `sgd_mf_epoch`."""
    return sgd_mf_epoch(
        users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
    )


def sgd_mf_epoch_strata(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bu: np.ndarray,
    bi: np.ndarray,
    mu: float,
    lr: float,
    reg: float,
    reg_bias: float,
    biased: bool,
) -> float:
    """`sgd_mf_epoch` in the stratified order of :func:`strata_layout`: sub-epochs
    s = 0..T-1, and in each the strata (s, t), t = 0..T-1, whose ratings are
    ``order[bounds[s*T + t]:bounds[s*T + t + 1]]``. The strata of one sub-epoch
    share no user and no item, so running them in parallel (the Numba twin) gives
    exactly this serial result: parallel SGD without races (DSGD)."""
    loss = 0.0
    for b in range(len(bounds) - 1):
        loss += sgd_mf_epoch(
            users,
            items,
            ratings,
            order[bounds[b] : bounds[b + 1]],
            P,
            Q,
            bu,
            bi,
            mu,
            lr,
            reg,
            reg_bias,
            biased,
        )
    return loss


def sgd_mf_epoch_hogwild_strata(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    bu: np.ndarray,
    bi: np.ndarray,
    mu: float,
    lr: float,
    reg: float,
    reg_bias: float,
    biased: bool,
) -> float:
    """Hogwild over the DSGD grid: each thread owns a contiguous share of the user
    blocks and runs its blocks stratum after stratum, lock-free and without
    barriers (nondeterministic, see the Numba twin). The NumPy spec has one
    thread: it is `sgd_mf_epoch_strata`."""
    return sgd_mf_epoch_strata(
        users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased,
    )  # fmt: skip
