"""Reference solutions of lesson 12's exercises."""

import numpy as np


def exercise_12_1(P, Q, h, b, u, i):
    return (P[u] * Q[i]) @ h + b


def exercise_12_2(h_gmf, b_gmf, h_mlp, b_mlp, alpha):
    h = np.concatenate([alpha * h_gmf, (1 - alpha) * h_mlp])
    return h, alpha * b_gmf + (1 - alpha) * b_mlp


def exercise_12_3(p, q, rng):
    v = rng.normal(size=p.shape)
    v -= (v @ p) / (p @ p) * p  # orthogonal to p: p.(q + v) = p.q
    return q + v / np.linalg.norm(v)
