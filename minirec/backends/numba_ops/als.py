"""Numba twins of :mod:`minirec.backends.numpy_ops.als`: rows in parallel (they
are independent, so the result is deterministic), the k x k systems solved by a
hand-written Cholesky in float64."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._jit import JIT as _JIT

__all__ = ["als_solve", "implicit_als_solve", "implicit_als_cg"]


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
