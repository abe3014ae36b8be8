"""Reference solutions of lesson 03's exercises."""

import numpy as np


def exercise_03_1(x, w, stride):
    kh, kw = w.shape
    H = (x.shape[0] - kh) // stride + 1
    W = (x.shape[1] - kw) // stride + 1
    y = np.zeros((H, W))
    for r in range(H):
        for c in range(W):
            y[r, c] = np.sum(
                w * x[r * stride : r * stride + kh, c * stride : c * stride + kw]
            )
    return y


def exercise_03_2(x, g):
    out = np.zeros_like(x)
    for r in range(g.shape[0]):
        for c in range(g.shape[1]):
            win = x[2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
            a, b = np.unravel_index(np.argmax(win), win.shape)
            out[2 * r + a, 2 * c + b] = g[r, c]
    return out
