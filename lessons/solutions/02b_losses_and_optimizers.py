"""Reference solutions of lesson 02b's exercises."""

import numpy as np


def exercise_02b_1(Z, y):
    M = Z - Z.max(axis=1, keepdims=True)
    S = np.exp(M)
    total = S.sum(axis=1, keepdims=True)
    rows = np.arange(len(Z))
    loss = np.mean(np.log(total[:, 0]) - M[rows, y])
    grad = S / total
    grad[rows, y] -= 1
    return loss, grad / len(Z)


def exercise_02b_2(theta, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def exercise_02b_3(grads, max_norm):
    norm = float(np.sqrt(sum((g * g).sum() for g in grads)))
    if norm <= max_norm:
        return list(grads), norm
    scale = max_norm / (norm + 1e-6)
    return [g * scale for g in grads], norm


def exercise_02b_4(x, p, u, training):
    if not training:
        return x
    return np.where(u >= p, x / (1 - p), 0).astype(x.dtype)
