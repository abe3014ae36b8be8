"""Reference solutions of lesson 04's exercises."""

import numpy as np


def exercise_04_1(X):
    norms = np.linalg.norm(X, axis=0)
    S = (X.T @ X) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(S, 0)
    return S


def exercise_04_2(S, X, B, rated, u, i, k):
    cand = np.flatnonzero(rated[u] & (S[i] > 0) & (np.arange(len(S)) != i))
    nb = cand[np.argsort(-S[i, cand], kind="stable")[:k]]
    if len(nb) == 0:
        return B[u, i]
    return B[u, i] + S[i, nb] @ X[u, nb] / S[i, nb].sum()
