"""The NumPy kernels: the readable spec every other backend must match.

Each function is written for clarity, one rating / one row at a time, exactly as the
math reads; ``numba_ops`` has twins with the same names, signatures and docstrings
(the contract is :class:`minirec.backends.base.KernelBackend`). These loops are
slow in pure Python (an ML-1M SGD epoch takes tens of seconds here): use them to
read, to test against, and on tiny data; train with ``backend="numba"``.
"""

from __future__ import annotations

import numpy as np

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


# ----------------------------------------------------------------------------- shuffle
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
SHUFFLE_MAX_BITS = 12  # at most 2^12 = 4096 buckets; see shuffle_bucket_bits


def _splitmix64(seed: int, first: int, count: int) -> np.ndarray:
    """Draws first .. first+count-1 of the SplitMix64 stream of `seed` (Steele et
    al. 2014), as uint64: draw c = mix(seed + (c + 1) * golden mod 2^64). Counter
    based, so a draw is a function of its number: NumPy computes them all at once,
    the Numba twin one after the other, and both get the same numbers."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & _MASK64) + np.uint64(_GOLDEN) * (
            np.arange(first + 1, first + count + 1, dtype=np.uint64)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def shuffle_bucket_bits(n: int) -> int:
    """log2 of the number of buckets :func:`shuffle_ratings` uses for n triples:
    the fewest that leave at most 256 triples per bucket on average, and at most
    12 bits (4096 buckets; ~250 triples each on ML-1M's million ratings). Few
    buckets for a small block (a DSGD block of ML-1M in 8 x 8 has ~15,600 triples:
    64 buckets) keep the scatter's write streams in L1, which made that shuffle
    ~1.4x faster than with 4096 buckets (benchmarks/results/kernels.md)."""
    bits = 0
    while bits < SHUFFLE_MAX_BITS and (256 << bits) < n:
        bits += 1
    return bits


def shuffle_ratings(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    seed: int,
    out_users: np.ndarray,
    out_items: np.ndarray,
    out_ratings: np.ndarray,
) -> None:
    """Write the rating triples (users[n], items[n], ratings[n]) into `out_*` in a
    uniformly random order drawn from `seed` (the per-epoch shuffle of SGD).

    Two passes, so that the fast twin never jumps around a large array
    (Rao 1961, Sandelius 1962): (1) every triple draws one of 2^b buckets (the top
    b bits of its draw, b = :func:`shuffle_bucket_bits` (n): up to 4096 buckets of
    ~250 triples) and the triples are written bucket after bucket, keeping
    their order inside a bucket; (2) each bucket is shuffled by Fisher-Yates. Given
    the bucket sizes every arrangement is equally likely, so the result is a uniform
    permutation. Random integers in [0, m) are ``(hi32 * m) >> 32`` of a draw's
    upper 32 bits (Lemire 2019 without the rejection step: bias below m / 2^32).
    Draws 0..n-1 pick the buckets; the Fisher-Yates steps use the following draws,
    bucket by bucket, from the last slot down.

    The SGD kernels then read the shuffled triples front to back (pass
    ``order = arange(n)``): sequential reads instead of a random gather per rating.
    """
    n = len(users)
    bits = shuffle_bucket_bits(n)
    B = 1 << bits
    top12 = _splitmix64(seed, 0, n) >> np.uint64(64 - SHUFFLE_MAX_BITS)
    bucket = (top12 >> np.uint64(SHUFFLE_MAX_BITS - bits)).astype(np.int64)
    where = np.argsort(bucket, kind="stable")  # bucket by bucket, original order
    out_users[:] = users[where]
    out_items[:] = items[where]
    out_ratings[:] = ratings[where]
    ends = np.cumsum(np.bincount(bucket, minlength=B))
    draws = _splitmix64(seed, n, n)  # at most n - 1 of them are used
    c = 0
    start = 0
    for b in range(B):
        for t in range(int(ends[b]) - 1, start, -1):
            m = t - start + 1
            j = start + int(((int(draws[c]) >> 32) * m) >> 32)
            c += 1
            for a in (out_users, out_items, out_ratings):
                a[t], a[j] = a[j], a[t]
        start = int(ends[b])


def shuffle_ratings_blocks(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    bounds: np.ndarray,
    seed: int,
    out_users: np.ndarray,
    out_items: np.ndarray,
    out_ratings: np.ndarray,
) -> None:
    """:func:`shuffle_ratings` of each block ``[bounds[b], bounds[b + 1])`` on its
    own, with seed ``seed + b`` (mod 2^64): triples stay in their block. (The Numba
    twin shuffles the blocks in parallel.)"""
    for b in range(len(bounds) - 1):
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        shuffle_ratings(
            users[lo:hi],
            items[lo:hi],
            ratings[lo:hi],
            (seed + b) & _MASK64,
            out_users[lo:hi],
            out_items[lo:hi],
            out_ratings[lo:hi],
        )


def _id_blocks(ids: np.ndarray, n_ids: int, T: int) -> np.ndarray:
    """Block (0..T-1) of every id: T contiguous id ranges with about equal numbers
    of ratings (contiguous, so two threads never write the same cache line of the
    bias vectors)."""
    cum = np.cumsum(np.bincount(ids, minlength=n_ids))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, T) / T, side="right")
    return np.searchsorted(cuts, np.arange(n_ids), side="right")


def strata_layout(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, T: int
) -> tuple[np.ndarray, np.ndarray]:
    """The DSGD layout of the ratings in T x T blocks (Gemulla et al. 2011).

    Users and items are cut into T contiguous blocks each (about equal rating
    counts); the rating (u, i) lies in stratum (s, t) with t = block(u) and
    s = (block(i) - t) mod T. In sub-epoch s, block t holds only rows of user
    block t and item block (t + s) mod T, so the T blocks of a sub-epoch never
    touch the same row and can run on as many threads. T may exceed the thread
    count (each thread then runs several blocks of a sub-epoch in turn): smaller
    blocks keep their rows of P and Q in the CPU cache. Returns ``perm`` (the
    ratings sorted by stratum s * T + t, stable) and ``bounds`` (T² + 1 offsets
    into it)."""
    ub = _id_blocks(users, n_users, T)[users]
    ib = _id_blocks(items, n_items, T)[items]
    key = ((ib - ub) % T) * T + ub
    perm = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[perm], np.arange(T * T + 1)).astype(np.int64)
    return perm, bounds


# ----------------------------------------------------------------------------- SGD MF
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


# ----------------------------------------------------------------------------- BPR
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


# ----------------------------------------------------------------------------- ALS
def _singular_row(u: int, n_entries: int, err: Exception) -> np.linalg.LinAlgError:
    """The LinAlgError of row `u`'s k×k system, naming the row (the model turns it
    into TrainingDivergedError with its advice)."""
    return np.linalg.LinAlgError(
        f"the system of row {u} ({n_entries} entries) is singular ({err})"
    )


def als_solve(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    Y: np.ndarray,
    X: np.ndarray,
    reg: float,
    weighted: bool,
) -> float:
    """Explicit ALS half-step (Zhou et al. 2008): for each row u of the CSR,

    X[u] = (Y_Iᵀ Y_I + λ_u I)⁻¹ Y_Iᵀ t_u with λ_u = reg·|I_u| when `weighted`
    (ALS-WR) else reg; rows with no entries get X[u] = 0. Returns the sum of
    squared residuals (t - X[u]·Y[i])² after the solve.
    """
    k = Y.shape[1]
    loss = 0.0
    for u in range(len(indptr) - 1):
        s, e = indptr[u], indptr[u + 1]
        if s == e:
            X[u] = 0.0
            continue
        Y_I = Y[indices[s:e]].astype(np.float64)  # (|I_u|, k)
        t = targets[s:e].astype(np.float64)
        lam = reg * (e - s) if weighted else reg
        A = Y_I.T @ Y_I + lam * np.eye(k)
        try:
            x = np.linalg.solve(A, Y_I.T @ t)
        except np.linalg.LinAlgError as err:
            raise _singular_row(u, e - s, err) from None
        X[u] = x
        loss += float(((t - Y_I @ x) ** 2).sum())
    return loss


def implicit_als_solve(
    indptr: np.ndarray,
    indices: np.ndarray,
    conf: np.ndarray,
    Y: np.ndarray,
    YtY: np.ndarray,
    X: np.ndarray,
    reg: float,
) -> float:
    """Implicit ALS half-step (Hu, Koren, Volinsky 2008), exact (Cholesky):

    X[u] = (YᵀY + Y_Iᵀ (C_u - I) Y_I + reg I)⁻¹ Y_Iᵀ C_u 1, where ``conf`` holds
    c_ui = 1 + α r_ui for the stored entries and `YtY` = YᵀY is precomputed once
    per half-step (the YᵀY trick). Returns Σ c_ui (1 - x_u·y_i)² over stored
    entries after the solve.
    """
    k = Y.shape[1]
    base = YtY.astype(np.float64) + reg * np.eye(k)
    loss = 0.0
    for u in range(len(indptr) - 1):
        s, e = indptr[u], indptr[u + 1]
        Y_I = Y[indices[s:e]].astype(np.float64)
        c = conf[s:e].astype(np.float64)
        A = base + (Y_I.T * (c - 1.0)) @ Y_I  # YᵀC_uY = YᵀY + Y_Iᵀ(C_u - I)Y_I
        b = Y_I.T @ c  # YᵀC_u p(u), p(u) = 1 on the stored entries, 0 elsewhere
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError as err:
            raise _singular_row(u, e - s, err) from None
        x = np.linalg.solve(L.T, np.linalg.solve(L, b))
        X[u] = x
        loss += float((c * (1.0 - Y_I @ x) ** 2).sum())
    return loss


def implicit_als_cg(
    indptr: np.ndarray,
    indices: np.ndarray,
    conf: np.ndarray,
    Y: np.ndarray,
    YtY: np.ndarray,
    X: np.ndarray,
    reg: float,
    cg_steps: int,
) -> float:
    """Implicit ALS half-step by `cg_steps` of conjugate gradient warm-started
    at the current X[u] (Takács et al. 2011), never forming the k×k matrix of a
    row. Returns Σ c_ui (1 - x_u·y_i)² over stored entries *before* the update
    (it falls out of the residual computation for free). A row with no entries
    gets X[u] = 0, the exact solution of (YᵀY + reg I) x = 0, as the Cholesky
    solver gives it (CG from a warm start would only approach it).
    """
    loss = 0.0
    for u in range(len(indptr) - 1):
        s, e = indptr[u], indptr[u + 1]
        if s == e:
            X[u] = 0.0
            continue
        Y_I = Y[indices[s:e]]
        c = conf[s:e]
        x = X[u].copy()
        # residual r = b - A x with A x = YᵀY x + reg x + Y_Iᵀ (C_u - I) Y_I x
        y_x = Y_I @ x
        loss += float((c * (1.0 - y_x) ** 2).sum())
        r = -(YtY @ x) - reg * x + Y_I.T @ (c - (c - 1.0) * y_x)
        p = r.copy()
        rs_old = float(r @ r)
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            Ap = YtY @ p + reg * p + Y_I.T @ ((c - 1.0) * (Y_I @ p))
            step = rs_old / float(p @ Ap)
            x += step * p
            r -= step * Ap
            rs_new = float(r @ r)
            p = r + (rs_new / rs_old) * p
            rs_old = rs_new
        X[u] = x
    return loss


# ----------------------------------------------------------------------------- top-k


# ---------------------------------------------------------------- FM and KNN kernels
# Written side by side (NumPy spec + Numba twin) in fm_ops.py and knn_ops.py by the
# FM/KNN work; re-exported here under the contract names.
from .fm_ops import fm_predict_numpy as fm_predict  # noqa: E402
from .fm_ops import sgd_fm_blocks_epoch_numpy as sgd_fm_blocks_epoch  # noqa: E402
from .fm_ops import sgd_fm_epoch_numpy as sgd_fm_epoch  # noqa: E402
from .knn_ops import knn_predict_cols_numpy as knn_predict_cols  # noqa: E402
from .knn_ops import knn_predict_numpy as knn_predict  # noqa: E402
from .knn_ops import knn_predict_rows_numpy as knn_predict_rows  # noqa: E402
from .knn_ops import knn_similarity_numpy as knn_similarity  # noqa: E402
from .ranking_ops import (  # noqa: E402
    sgd_logistic_mf_epoch_hogwild_numpy as sgd_logistic_mf_epoch_hogwild,
)
from .ranking_ops import sgd_logistic_mf_epoch_numpy as sgd_logistic_mf_epoch  # noqa: E402

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
