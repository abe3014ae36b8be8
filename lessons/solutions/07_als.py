"""Reference solutions of lesson 07's exercises."""

import numpy as np


def exercise_07_1(Y, items, alpha, lam):
    YI = Y[items]
    A = Y.T @ Y + alpha * YI.T @ YI + lam * np.eye(Y.shape[1])
    return np.linalg.solve(A, (1 + alpha) * YI.sum(axis=0))


def exercise_07_2(P, Q, u, i, r, lam):
    e = r - np.sum(P[u] * Q[i], axis=1)
    n_u = np.bincount(u, minlength=len(P))
    n_i = np.bincount(i, minlength=len(Q))
    return float(e @ e + lam * (n_u @ (P**2).sum(1) + n_i @ (Q**2).sum(1)))
