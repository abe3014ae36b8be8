"""Reference solutions of lesson 09's exercises."""

import numpy as np


def exercise_09_1(mu, bu, bi, P, Q):
    return mu, np.concatenate([bu, bi]), np.concatenate([P, Q])


def exercise_09_2(x, y, w0, w, V, lr):
    s = V.T @ x
    y_hat = w0 + w @ x + 0.5 * np.sum(s**2 - (x**2) @ (V**2))
    d = y_hat - y
    grad_V = x[:, None] * (s[None, :] - V * x[:, None])
    return w0 - lr * d, w - lr * d * x, V - lr * d * grad_V
