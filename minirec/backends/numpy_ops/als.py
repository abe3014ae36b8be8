"""Alternating least squares half-steps, explicit and implicit: the spec (Numba
twins in ``numba_ops/als.py``)."""

from __future__ import annotations

import numpy as np


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
