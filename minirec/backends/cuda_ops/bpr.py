"""BPR on the GPU: ``bpr_epoch`` and ``bpr_epoch_hogwild``.

Spec: :func:`minirec.backends.numpy_ops.bpr_epoch`. As for SGD-MF, one kernel:
``bpr_epoch_hogwild`` runs one GPU thread per triple, lock-free
(nondeterministic); ``bpr_epoch`` runs it on one thread, the spec's exact
sequence.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

from ._launch import Launch, f32


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


def _bpr(caller, serial, users, pos, neg, P, Q, bi, lr, reg, reg_bias):
    run = Launch(caller, len(users), serial)
    return run(
        _bpr_kernel,
        *run.inputs(users=users, pos=pos, neg=neg),
        *run.updated(P=P, Q=Q, bi=bi),
        *f32(lr, reg, reg_bias),
        run.loss(),
    )


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
    return _bpr("bpr_epoch", True, users, pos, neg, P, Q, bi, lr, reg, reg_bias)


def bpr_epoch_hogwild(
    users, pos, neg, P, Q, bi, lr: float, reg: float, reg_bias: float
) -> float:
    """`bpr_epoch` with one GPU thread per triple, lock-free
    (**nondeterministic**)."""
    args = (users, pos, neg, P, Q, bi, lr, reg, reg_bias)
    return _bpr("bpr_epoch_hogwild", False, *args)
