"""Reference solutions of lesson 18's exercises."""

import numpy as np


def exercise_18_1(h, Wh, v, mask):
    e = np.tanh(h @ Wh) @ v
    e = np.where(mask, e, -np.inf)
    e = e - e.max(axis=1, keepdims=True)
    alpha = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    return (alpha[..., None] * h).sum(axis=1), alpha


def exercise_18_2(X, Wq, Wk, Wv):
    T, d = X.shape
    s = (X @ Wq) @ (X @ Wk).T / np.sqrt(d)
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    A = np.exp(s - s.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)
    return A @ (X @ Wv)
