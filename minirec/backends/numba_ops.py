"""Numba twins of :mod:`minirec.backends.numpy_ops` (same names, signatures, math).

The NumPy module is the spec; read it first. These kernels are plain loops compiled
by Numba (``cache=True``, so the compile cost is paid once per machine, not per
run). Differences from the spec are only in floating-point summation order
(``fastmath`` lets the compiler vectorise dot products), so the equivalence tests
compare with ``assert_allclose``, not bitwise; every serial kernel is bitwise
reproducible run to run. ``*_hogwild`` kernels use ``prange`` over one chunk per
thread and race on shared rows (nondeterministic by design). ``cuda_ops.py`` will
hold the GPU twins with the same signatures.

All kernels also run with ``NUMBA_DISABLE_JIT=1`` (then they are the plain Python
below), which the tests check.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from ._codegen import wide_vectors

__all__ = [
    "shuffle_ratings",
    "shuffle_ratings_blocks",
    "strata_layout",
    "sgd_mf_epoch",
    "sgd_mf_epoch_strata",
    "sgd_mf_epoch_hogwild",
    "sgd_mf_epoch_hogwild_strata",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "als_solve",
    "implicit_als_solve",
    "implicit_als_cg",
]

# error_model="numpy": x / 0 gives inf/nan (caught by the models' divergence checks)
# instead of raising ZeroDivisionError from inside a kernel
_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


# ----------------------------------------------------------------------------- shuffle
@njit(**_JIT)
def _splitmix64_draw(seed, c):
    """Draw number c of the SplitMix64 stream of `seed` (see numpy_ops._splitmix64)."""
    z = seed + np.uint64(0x9E3779B97F4A7C15) * np.uint64(c + 1)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**_JIT)
def _bucket_bits(n):
    """numpy_ops.shuffle_bucket_bits: ~256 triples per bucket, at most 4096."""
    bits = 0
    while bits < 12 and (np.int64(256) << bits) < n:
        bits += 1
    return bits


@njit(**_JIT)
def _shuffle_ratings(users, items, ratings, seed, out_users, out_items, out_ratings):
    n = len(users)
    bits = _bucket_bits(n)
    B = 1 << bits  # buckets of ~250 triples: Fisher-Yates inside one stays in L1
    shift = np.uint64(12 - bits)  # two shifts: never one by 64 (bits = 0)
    bucket = np.empty(n, dtype=np.uint16)
    ends = np.zeros(B + 1, dtype=np.int64)  # ends[b + 1] = end of bucket b
    for t in range(n):
        b = (_splitmix64_draw(seed, t) >> np.uint64(52)) >> shift
        bucket[t] = b
        ends[b + 1] += 1
    for b in range(B):
        ends[b + 1] += ends[b]
    fill = ends[:B].copy()
    for t in range(n):  # sequential reads, one write stream per bucket
        b = bucket[t]
        p = fill[b]
        out_users[p] = users[t]
        out_items[p] = items[t]
        out_ratings[p] = ratings[t]
        fill[b] = p + 1
    c = n
    for b in range(B):  # Fisher-Yates inside each bucket (a few cache-resident KB)
        start = ends[b]
        for t in range(ends[b + 1] - 1, start, -1):
            m = np.uint64(t - start + 1)
            hi = _splitmix64_draw(seed, c) >> np.uint64(32)
            j = start + np.int64((hi * m) >> np.uint64(32))
            c += 1
            out_users[t], out_users[j] = out_users[j], out_users[t]
            out_items[t], out_items[j] = out_items[j], out_items[t]
            out_ratings[t], out_ratings[j] = out_ratings[j], out_ratings[t]


def shuffle_ratings(users, items, ratings, seed, out_users, out_items, out_ratings):
    """Write the rating triples (users[n], items[n], ratings[n]) into `out_*` in a
    uniformly random order drawn from `seed`: the same permutation as the NumPy
    spec (two passes: up to 4096 buckets, then Fisher-Yates inside each; see
    numpy_ops.shuffle_ratings). On ML-1M here it takes 16 ms where ``rng.shuffle``
    of an index array takes 25 ms, and the SGD kernel then reads the triples
    sequentially instead of gathering them through the index."""
    _shuffle_ratings(
        users,
        items,
        ratings,
        np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF),
        out_users,
        out_items,
        out_ratings,
    )


@njit(parallel=True, **_JIT)
def _shuffle_blocks(users, items, ratings, bounds, seed, out_users, out_items, out_r):
    for b in prange(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        _shuffle_ratings(
            users[lo:hi],
            items[lo:hi],
            ratings[lo:hi],
            seed + np.uint64(b),
            out_users[lo:hi],
            out_items[lo:hi],
            out_r[lo:hi],
        )


def shuffle_ratings_blocks(
    users, items, ratings, bounds, seed, out_users, out_items, out_ratings
):
    """Numba twin of ``numpy_ops.shuffle_ratings_blocks`` (blocks in parallel)."""
    _shuffle_blocks(
        users,
        items,
        ratings,
        bounds,
        np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF),
        out_users,
        out_items,
        out_ratings,
    )


def strata_layout(users, items, n_users, n_items, T):
    """The DSGD layout (vectorised NumPy, once per fit): see numpy_ops."""
    from .numpy_ops import strata_layout as spec

    return spec(users, items, n_users, n_items, T)


# ----------------------------------------------------------------------------- SGD MF
_BLOCK = 1024  # ratings gathered at a time (see _sgd_mf_range)


@njit(**_JIT)
def _is_identity(order, start, stop):
    """order[start:stop] == start..stop-1 (the models pass the identity after
    copying the triples shuffled; one sequential pass, ~1% of an epoch)."""
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
    out twice on purpose: one shared per-rating helper taking the row views was
    slower on ML-1M in a one-off comparison (inlined or not; the views passed to it
    are reference-counted per call). k = P.shape[1], a constant when the caller
    passes one."""
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
    loop compiled with k constant for each k in ``SPECIALIZED_K`` (`_codegen`
    has the measured gain: 0.71-0.74x the time without them)."""
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
    users,
    items,
    ratings,
    order,
    start,
    stop,
    P,
    Q,
    bu,
    bi,
    mu,
    lr,
    reg,
    reg_bias,
    biased,
):
    """The SGD loop over order[start:stop].

    Speed note: reading users/items/ratings through the shuffled `order` is a
    random access into three 3.6 MB arrays per rating; done inside the dependent
    update loop those cache misses stall it (4x slower on ML-1M here). So each block
    of ratings is first gathered into small contiguous buffers (independent loads,
    which the CPU overlaps), then updated. Same arithmetic, same order. When
    `order` is the identity there (what the models pass: they copy the triples
    shuffled), the triples are read directly instead (no gather buffers).
    """
    if _is_identity(order, start, stop):
        return _sgd_mf_rows(
            users, items, ratings, start, stop, P, Q, bu, bi, mu, lr, reg, reg_bias,
            biased,
        )  # fmt: skip
    wide_vectors()
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    rb32 = np.float32(reg_bias)
    mu32 = np.float32(mu)
    ub = np.empty(_BLOCK, dtype=np.int64)
    ib = np.empty(_BLOCK, dtype=np.int64)
    rbuf = np.empty(_BLOCK, dtype=np.float32)
    loss = 0.0
    for s0 in range(start, stop, _BLOCK):
        nb = min(_BLOCK, stop - s0)
        for t in range(nb):
            idx = order[s0 + t]
            ub[t] = users[idx]
            ib[t] = items[idx]
            rbuf[t] = ratings[idx]
        for t in range(nb):
            u = ub[t]
            i = ib[t]
            pred = np.float32(0.0)
            for f in range(k):
                pred += P[u, f] * Q[i, f]
            if biased:
                pred += mu32 + bu[u] + bi[i]
            err = rbuf[t] - pred
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
        users,
        items,
        ratings,
        order,
        0,
        len(order),
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


@njit(parallel=True, **_JIT)
def _sgd_mf_hogwild(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased, T
):
    n = len(order)
    losses = np.zeros(T)
    for t in prange(T):
        losses[t] = _sgd_mf_range(
            users,
            items,
            ratings,
            order,
            t * n // T,
            (t + 1) * n // T,
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
    return losses.sum()


def sgd_mf_epoch_hogwild(
    users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, reg_bias, biased
):
    """`sgd_mf_epoch` with `order` cut into one chunk per thread, run lock-free
    (Hogwild!, Niu et al. 2011): **nondeterministic**, threads race on shared rows.
    Uses ``numba.get_num_threads()`` threads (set with ``numba.set_num_threads``)."""
    return _sgd_mf_hogwild(
        users,
        items,
        ratings,
        order,
        P,
        Q,
        bu,
        bi,
        mu,
        lr,
        reg,
        reg_bias,
        biased,
        numba.get_num_threads(),
    )


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
                users,
                items,
                ratings,
                order,
                bounds[b],
                bounds[b + 1],
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
    it scale: on ML-1M with 2 threads here it is ~2.3x the serial kernel, while
    Hogwild is no faster than one thread (cache lines of Q and the biases bounce
    between the cores)."""
    return _sgd_mf_strata(
        users,
        items,
        ratings,
        order,
        bounds,
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
    """Hogwild over the DSGD grid of :func:`strata_layout` (B x B blocks): each
    of T = min(threads, B) threads owns a contiguous share of the B user blocks
    and runs its blocks of stratum 0, then of stratum 1, ..., lock-free and
    **without the barrier** that `sgd_mf_epoch_strata` puts between strata.

    No two threads ever share a row of P or b_u. A row of Q is shared only when
    the threads drift apart by about B / T blocks, so races are rare but
    possible: **nondeterministic** like any Hogwild (one thread gives exactly
    `sgd_mf_epoch_strata`'s order and result). Why not the uniform order of
    `sgd_mf_epoch_hogwild`: there every row of P and Q is written by both threads
    in turn, its cache lines move between the cores on nearly every update, and
    two threads were no faster than one here (benchmarks/results/kernels.md);
    here each thread keeps its rows in its own cache for a whole block."""
    B = int(round(math.sqrt(len(bounds) - 1)))
    T = max(1, min(numba.get_num_threads(), B))
    return _sgd_mf_hogwild_strata(
        users, items, ratings, order, bounds, P, Q, bu, bi, mu, lr, reg, reg_bias,
        biased, T,
    )  # fmt: skip


# ----------------------------------------------------------------------------- BPR
@njit(**_JIT)
def _bpr_range(users, pos, neg, start, stop, P, Q, bi, lr, reg, reg_bias):
    wide_vectors()
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


# ----------------------------------------------------------------------------- ALS
@njit(**_JIT)
def _cholesky_solve(A, b, x):
    """Solve A x = b for symmetric positive definite A (float64, overwritten with
    its Cholesky factor L, A = L Lᵀ)."""
    k = A.shape[0]
    for j in range(k):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        if s <= 0.0:
            s = 1e-12  # not SPD (reg = 0 and a degenerate row): keep finite
        d = math.sqrt(s)
        A[j, j] = d
        for r in range(j + 1, k):
            s = A[r, j]
            for m in range(j):
                s -= A[r, m] * A[j, m]
            A[r, j] = s / d
    z = np.empty(k)
    for r in range(k):  # L z = b
        s = b[r]
        for m in range(r):
            s -= A[r, m] * z[m]
        z[r] = s / A[r, r]
    for r in range(k - 1, -1, -1):  # Lᵀ x = z
        s = z[r]
        for m in range(r + 1, k):
            s -= A[m, r] * x[m]
        x[r] = s / A[r, r]


@njit(parallel=True, **_JIT)
def als_solve(indptr, indices, targets, Y, X, reg, weighted):
    """Explicit ALS half-step (Zhou et al. 2008): for each row u of the CSR,

    X[u] = (Y_Iᵀ Y_I + λ_u I)⁻¹ Y_Iᵀ t_u with λ_u = reg·|I_u| when `weighted`
    (ALS-WR) else reg; rows with no entries get X[u] = 0. Returns the sum of
    squared residuals (t - X[u]·Y[i])² after the solve.
    Rows are independent, so the parallel loop is deterministic.
    """
    n_rows = len(indptr) - 1
    k = Y.shape[1]
    losses = np.zeros(n_rows)
    for u in prange(n_rows):
        s = indptr[u]
        e = indptr[u + 1]
        if s == e:
            for f in range(k):
                X[u, f] = 0.0
            continue
        A = np.zeros((k, k))
        b = np.zeros(k)
        for n in range(s, e):
            y = Y[indices[n]]
            t = np.float64(targets[n])
            for a in range(k):
                ya = np.float64(y[a])
                b[a] += ya * t
                for c in range(a + 1):
                    A[a, c] += ya * y[c]
        lam = reg * (e - s) if weighted else reg
        for a in range(k):
            A[a, a] += lam
        x = np.empty(k)
        _cholesky_solve(A, b, x)  # reads the lower triangle only
        loss = 0.0
        for n in range(s, e):
            y = Y[indices[n]]
            pred = 0.0
            for f in range(k):
                pred += x[f] * y[f]
            d = targets[n] - pred
            loss += d * d
        for f in range(k):
            X[u, f] = x[f]
        losses[u] = loss
    return losses.sum()


@njit(parallel=True, **_JIT)
def implicit_als_solve(indptr, indices, conf, Y, YtY, X, reg):
    """Implicit ALS half-step (Hu, Koren, Volinsky 2008), exact (Cholesky):

    X[u] = (YᵀY + Y_Iᵀ (C_u - I) Y_I + reg I)⁻¹ Y_Iᵀ C_u 1, where ``conf`` holds
    c_ui = 1 + α r_ui for the stored entries and `YtY` = YᵀY is precomputed once
    per half-step (the YᵀY trick). Returns Σ c_ui (1 - x_u·y_i)² over stored
    entries after the solve.
    """
    n_rows = len(indptr) - 1
    k = Y.shape[1]
    losses = np.zeros(n_rows)
    for u in prange(n_rows):
        s = indptr[u]
        e = indptr[u + 1]
        A = np.empty((k, k))
        for a in range(k):
            for c in range(k):
                A[a, c] = YtY[a, c]
            A[a, a] += reg
        b = np.zeros(k)
        for n in range(s, e):
            y = Y[indices[n]]
            cu = np.float64(conf[n])
            for a in range(k):
                ya = np.float64(y[a])
                b[a] += cu * ya
                w = (cu - 1.0) * ya
                for c in range(a + 1):
                    A[a, c] += w * y[c]
        x = np.empty(k)
        _cholesky_solve(A, b, x)
        loss = 0.0
        for n in range(s, e):
            y = Y[indices[n]]
            pred = 0.0
            for f in range(k):
                pred += x[f] * y[f]
            loss += conf[n] * (1.0 - pred) ** 2
        for f in range(k):
            X[u, f] = x[f]
        losses[u] = loss
    return losses.sum()


@njit(parallel=True, **_JIT)
def implicit_als_cg(indptr, indices, conf, Y, YtY, X, reg, cg_steps):
    """Implicit ALS half-step by `cg_steps` of conjugate gradient warm-started
    at the current X[u] (Takács et al. 2011), never forming the k×k matrix of a
    row. Returns Σ c_ui (1 - x_u·y_i)² over stored entries *before* the update
    (it falls out of the residual computation for free). A row with no entries
    gets X[u] = 0, the exact solution, as in the Cholesky solver.
    """
    n_rows = len(indptr) - 1
    k = Y.shape[1]
    reg32 = np.float32(reg)
    losses = np.zeros(n_rows)
    for u in prange(n_rows):
        s = indptr[u]
        e = indptr[u + 1]
        x = X[u]
        if s == e:
            for f in range(k):
                x[f] = 0.0
            continue
        r = np.empty(k, dtype=np.float32)
        p = np.empty(k, dtype=np.float32)
        Ap = np.empty(k, dtype=np.float32)
        # r = b - A x = -(YᵀY + reg I) x + Σ_i (c - (c - 1) y_i·x) y_i
        for a in range(k):
            acc = np.float32(0.0)
            for c in range(k):
                acc += YtY[a, c] * x[c]
            r[a] = -acc - reg32 * x[a]
        loss = 0.0
        for n in range(s, e):
            y = Y[indices[n]]
            cu = conf[n]
            yx = np.float32(0.0)
            for f in range(k):
                yx += y[f] * x[f]
            loss += cu * (1.0 - yx) ** 2
            w = cu - (cu - np.float32(1.0)) * yx
            for f in range(k):
                r[f] += w * y[f]
        losses[u] = loss
        rs_old = 0.0
        for f in range(k):
            p[f] = r[f]
            rs_old += r[f] * r[f]
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            for a in range(k):
                acc = np.float32(0.0)
                for c in range(k):
                    acc += YtY[a, c] * p[c]
                Ap[a] = acc + reg32 * p[a]
            for n in range(s, e):
                y = Y[indices[n]]
                yp = np.float32(0.0)
                for f in range(k):
                    yp += y[f] * p[f]
                w = (conf[n] - np.float32(1.0)) * yp
                for f in range(k):
                    Ap[f] += w * y[f]
            pAp = 0.0
            for f in range(k):
                pAp += p[f] * Ap[f]
            step = np.float32(rs_old / pAp)
            rs_new = 0.0
            for f in range(k):
                x[f] += step * p[f]
                r[f] -= step * Ap[f]
                rs_new += r[f] * r[f]
            beta = np.float32(rs_new / rs_old)
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
    return losses.sum()


# ---------------------------------------------------------------- FM and KNN kernels
# Written side by side (NumPy spec + Numba twin) in fm_ops.py and knn_ops.py by the
# FM/KNN work; re-exported here under the contract names.
from .fm_ops import fm_predict_numba as fm_predict  # noqa: E402
from .fm_ops import sgd_fm_blocks_epoch_numba as sgd_fm_blocks_epoch  # noqa: E402
from .fm_ops import sgd_fm_epoch_numba as sgd_fm_epoch  # noqa: E402
from .knn_ops import knn_predict_cols_numba as knn_predict_cols  # noqa: E402
from .knn_ops import knn_predict_numba as knn_predict  # noqa: E402
from .knn_ops import knn_predict_rows_numba as knn_predict_rows  # noqa: E402
from .knn_ops import knn_similarity_numba as knn_similarity  # noqa: E402
from .ranking_ops import (  # noqa: E402
    sgd_logistic_mf_epoch_hogwild_numba as sgd_logistic_mf_epoch_hogwild,
)
from .ranking_ops import sgd_logistic_mf_epoch_numba as sgd_logistic_mf_epoch  # noqa: E402

__all__ += [
    "sgd_fm_epoch",
    "sgd_fm_blocks_epoch",
    "fm_predict",
    "knn_similarity",
    "knn_predict",
    "knn_predict_rows",
    "knn_predict_cols",
    "sgd_logistic_mf_epoch",
    "sgd_logistic_mf_epoch_hogwild",
]

_SERIAL_FM = "the CPU FM kernels are serial: Hogwild FM runs on backend='cuda'"
#: contract kernels (backends/base.py) this backend does not implement, and why
UNSUPPORTED: dict[str, str] = {
    "sgd_fm_blocks_epoch_hogwild": _SERIAL_FM,
}
