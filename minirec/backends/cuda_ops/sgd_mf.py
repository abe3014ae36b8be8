"""SGD for (biased) MF on the GPU: ``sgd_mf_epoch`` and ``sgd_mf_epoch_hogwild``.

Spec: :func:`minirec.backends.numpy_ops.sgd_mf_epoch`. One kernel serves both:
``sgd_mf_epoch_hogwild`` runs one GPU thread per rating (grid-stride loop over
``order``), lock-free: two threads that hold the same user or item row at once
race, and one update may overwrite the other (Hogwild!, Niu et al. 2011), so its
results are **not** reproducible bit for bit. ``sgd_mf_epoch`` launches the same
kernel on a single thread, so it follows the spec's update sequence exactly
(float32, up to summation order): correct and slow on a GPU; models take the
hogwild variant with ``hogwild=True``.
"""

from __future__ import annotations

from numba import cuda, float32, float64

from ._launch import Launch, f32


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


def _sgd_mf(caller, serial, users, items, ratings, order, P, Q, bu, bi, *scalars):
    mu, lr, reg, reg_bias, biased = scalars
    run = Launch(caller, len(order), serial)
    return run(
        _sgd_mf_kernel,
        *run.inputs(users=users, items=items, ratings=ratings, order=order),
        *run.updated(P=P, Q=Q, bu=bu, bi=bi),
        *f32(mu, lr, reg, reg_bias),
        bool(biased),
        run.loss(),
    )


def sgd_mf_epoch(
    users, items, ratings, order, P, Q, bu, bi,
    mu: float, lr: float, reg: float, reg_bias: float, biased: bool,
) -> float:  # fmt: skip
    """One SGD epoch of (biased) MF over the ratings in `order`.

    For n in order: e = r - (mu + bu[u] + bi[i] + P[u]·Q[i]) (biases only when
    `biased`), then bu[u] += lr (e - reg_bias bu[u]), bi[i] likewise, and with the
    *old* p_u: P[u] += lr (e Q[i] - reg P[u]), Q[i] += lr (e p_u - reg Q[i]).
    Updates P, Q (and bu, bi) in place. Returns sum of e² (errors before each update).
    CUDA: the Hogwild kernel on one GPU thread, so exactly the spec's sequence.
    """
    args = (users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased)
    return _sgd_mf("sgd_mf_epoch", True, *args)


def sgd_mf_epoch_hogwild(
    users, items, ratings, order, P, Q, bu, bi,
    mu: float, lr: float, reg: float, reg_bias: float, biased: bool,
) -> float:  # fmt: skip
    """`sgd_mf_epoch` with one GPU thread per rating, lock-free (Hogwild!):
    **nondeterministic**, threads race on shared rows. Launch size:
    :func:`launch_config`."""
    args = (users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased)
    return _sgd_mf("sgd_mf_epoch_hogwild", False, *args)
