"""Reference solutions of lesson 12b's exercises."""

import numpy as np


def exercise_12b_1(X, lam):
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    return np.eye(X.shape[1]) - P / np.diag(P)


def exercise_12b_2(X, shrink):
    co = X.T @ X  # co-counts n_ij; on 0/1 data also the dot products
    norms = np.sqrt(np.diag(co))
    den = np.outer(norms, norms)
    S = np.divide(co, den, out=np.zeros_like(co), where=den > 0)
    if shrink > 0:
        S *= co / (co + shrink)
    np.fill_diagonal(S, 0.0)
    return S


def exercise_12b_3(X, k):
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    V = vt[:k].T
    return X @ V @ V.T
