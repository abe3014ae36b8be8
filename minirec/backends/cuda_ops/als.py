"""ALS half-steps on the GPU: ``als_solve``, ``implicit_als_solve`` (Cholesky)
and ``implicit_als_cg`` (conjugate gradient).

Spec: :func:`minirec.backends.numpy_ops.als_solve` and its neighbours. Batched:
one thread per row of the CSR, each with its own workspace in global memory laid
out thread-last (``A[a, c, t]``, ``b[a, t]``) so a warp's accesses are
coalesced; the Cholesky solves work in float64 (their k x k matrices bound the
threads of a launch, see :data:`._launch.SCRATCH_BYTES`), CG in float32 like the
Numba twin. Rows are independent: deterministic.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from ._launch import Launch, f32


@cuda.jit(device=True)
def _cholesky_solve(A, b, x, t, k):
    """Solve A x = b (thread t's slices A[:, :, t], b[:, t], x[:, t]); A is SPD
    (lower triangle read), overwritten with L (A = L Lᵀ); b is overwritten with z."""
    for j in range(k):
        s = A[j, j, t]
        for m in range(j):
            s -= A[j, m, t] * A[j, m, t]
        if s <= 0.0:
            s = 1e-12  # not SPD (reg = 0 and a degenerate row): keep finite
        d = math.sqrt(s)
        A[j, j, t] = d
        for r in range(j + 1, k):
            s = A[r, j, t]
            for m in range(j):
                s -= A[r, m, t] * A[j, m, t]
            A[r, j, t] = s / d
    for r in range(k):  # L z = b
        s = b[r, t]
        for m in range(r):
            s -= A[r, m, t] * b[m, t]
        b[r, t] = s / A[r, r, t]
    for r in range(k - 1, -1, -1):  # Lᵀ x = z
        s = b[r, t]
        for m in range(r + 1, k):
            s -= A[m, r, t] * x[m, t]
        x[r, t] = s / A[r, r, t]


@cuda.jit
def _als_kernel(indptr, indices, targets, Y, X, reg, weighted, A, b, x, loss):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    acc = 0.0
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        if s == e:
            for f in range(k):
                X[u, f] = 0.0
            continue
        for a in range(k):
            b[a, t] = 0.0
            for c in range(a + 1):
                A[a, c, t] = 0.0
        for n in range(s, e):
            row = indices[n]
            tv = float64(targets[n])
            for a in range(k):
                ya = float64(Y[row, a])
                b[a, t] += ya * tv
                for c in range(a + 1):
                    A[a, c, t] += ya * float64(Y[row, c])
        lam = reg * (e - s) if weighted else reg
        for a in range(k):
            A[a, a, t] += lam
        _cholesky_solve(A, b, x, t, k)
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            pred = 0.0
            for f in range(k):
                pred += x[f, t] * Y[row, f]
            d = targets[n] - pred
            row_loss += d * d
        for f in range(k):
            X[u, f] = x[f, t]
        acc += row_loss
    cuda.atomic.add(loss, 0, acc)


@cuda.jit
def _implicit_als_kernel(indptr, indices, conf, Y, YtY, X, reg, A, b, x, loss):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    acc = 0.0
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        for a in range(k):  # A = YᵀY + reg I (lower triangle), b = 0
            b[a, t] = 0.0
            for c in range(a + 1):
                A[a, c, t] = YtY[a, c]
            A[a, a, t] += reg
        for n in range(s, e):  # + Y_Iᵀ (C_u - I) Y_I ;  b = Y_Iᵀ C_u 1
            row = indices[n]
            cu = float64(conf[n])
            for a in range(k):
                ya = float64(Y[row, a])
                b[a, t] += cu * ya
                w = (cu - 1.0) * ya
                for c in range(a + 1):
                    A[a, c, t] += w * Y[row, c]
        _cholesky_solve(A, b, x, t, k)
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            pred = 0.0
            for f in range(k):
                pred += x[f, t] * Y[row, f]
            row_loss += conf[n] * (1.0 - pred) ** 2
        for f in range(k):
            X[u, f] = x[f, t]
        acc += row_loss
    cuda.atomic.add(loss, 0, acc)


@cuda.jit
def _implicit_cg_kernel(
    indptr, indices, conf, Y, YtY, X, reg, cg_steps, r, p, Ap, loss
):
    t = cuda.grid(1)
    T = cuda.gridsize(1)
    k = Y.shape[1]
    for u in range(t, indptr.shape[0] - 1, T):
        s = indptr[u]
        e = indptr[u + 1]
        if s == e:  # no entries: the exact solution is 0 (as Cholesky gives)
            for f in range(k):
                X[u, f] = 0.0
            continue
        # r = b - A x = -(YᵀY + reg I) x + Σ_i (c - (c - 1) y_i·x) y_i
        for a in range(k):
            acc = float32(0.0)
            for c in range(k):
                acc += YtY[a, c] * X[u, c]
            r[a, t] = -acc - reg * X[u, a]
        row_loss = 0.0
        for n in range(s, e):
            row = indices[n]
            cu = conf[n]
            yx = float32(0.0)
            for f in range(k):
                yx += Y[row, f] * X[u, f]
            row_loss += cu * (1.0 - yx) ** 2
            w = cu - (cu - float32(1.0)) * yx
            for f in range(k):
                r[f, t] += w * Y[row, f]
        rs_old = 0.0
        for f in range(k):
            p[f, t] = r[f, t]
            rs_old += r[f, t] * r[f, t]
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            for a in range(k):
                acc = float32(0.0)
                for c in range(k):
                    acc += YtY[a, c] * p[c, t]
                Ap[a, t] = acc + reg * p[a, t]
            for n in range(s, e):
                row = indices[n]
                yp = float32(0.0)
                for f in range(k):
                    yp += Y[row, f] * p[f, t]
                w = (conf[n] - float32(1.0)) * yp
                for f in range(k):
                    Ap[f, t] += w * Y[row, f]
            pAp = 0.0
            for f in range(k):
                pAp += p[f, t] * Ap[f, t]
            step = float32(rs_old / pAp)
            rs_new = 0.0
            for f in range(k):
                X[u, f] += step * p[f, t]
                r[f, t] -= step * Ap[f, t]
                rs_new += r[f, t] * r[f, t]
            beta = float32(rs_new / rs_old)
            for f in range(k):
                p[f, t] = r[f, t] + beta * p[f, t]
            rs_old = rs_new
        cuda.atomic.add(loss, 0, row_loss)


def als_solve(indptr, indices, targets, Y, X, reg: float, weighted: bool) -> float:
    """Explicit ALS half-step (Zhou et al. 2008): for each row u of the CSR,

    X[u] = (Y_Iᵀ Y_I + λ_u I)⁻¹ Y_Iᵀ t_u with λ_u = reg·|I_u| when `weighted`
    (ALS-WR) else reg; rows with no entries get X[u] = 0. Returns the sum of
    squared residuals (t - X[u]·Y[i])² after the solve.
    CUDA: one thread per row, Cholesky in float64 (deterministic).
    """
    k = Y.shape[1]
    run = Launch("als_solve", len(indptr) - 1, thread_bytes=8 * k * k)
    return run(
        _als_kernel,
        *run.inputs(indptr=indptr, indices=indices, targets=targets, Y=Y),
        *run.updated(X=X),
        float(reg),
        bool(weighted),
        *run.scratch(np.float64, (k, k), (k,), (k,)),  # A, b, x
        run.loss(),
    )


def implicit_als_solve(indptr, indices, conf, Y, YtY, X, reg: float) -> float:
    """Implicit ALS half-step (Hu, Koren, Volinsky 2008), exact (Cholesky):

    X[u] = (YᵀY + Y_Iᵀ (C_u - I) Y_I + reg I)⁻¹ Y_Iᵀ C_u 1, where ``conf`` holds
    c_ui = 1 + α r_ui for the stored entries and `YtY` = YᵀY is precomputed once
    per half-step (the YᵀY trick). Returns Σ c_ui (1 - x_u·y_i)² over stored
    entries after the solve. CUDA: one thread per row, float64 Cholesky.
    """
    k = Y.shape[1]
    run = Launch("implicit_als_solve", len(indptr) - 1, thread_bytes=8 * k * k)
    return run(
        _implicit_als_kernel,
        *run.inputs(indptr=indptr, indices=indices, conf=conf, Y=Y, YtY=YtY),
        *run.updated(X=X),
        float(reg),
        *run.scratch(np.float64, (k, k), (k,), (k,)),  # A, b, x
        run.loss(),
    )


def implicit_als_cg(
    indptr, indices, conf, Y, YtY, X, reg: float, cg_steps: int
) -> float:
    """Implicit ALS half-step by `cg_steps` of conjugate gradient warm-started
    at the current X[u] (Takács et al. 2011), never forming the k×k matrix of a
    row. Returns Σ c_ui (1 - x_u·y_i)² over stored entries *before* the update
    (it falls out of the residual computation for free); a row with no entries
    gets X[u] = 0. CUDA: one thread per row, float32 like the Numba twin.
    """
    k = Y.shape[1]
    run = Launch("implicit_als_cg", len(indptr) - 1)
    return run(
        _implicit_cg_kernel,
        *run.inputs(indptr=indptr, indices=indices, conf=conf, Y=Y, YtY=YtY),
        *run.updated(X=X),
        *f32(reg),
        int(cg_steps),
        *run.scratch(np.float32, (k,), (k,), (k,)),  # r, p, Ap
        run.loss(),
    )
