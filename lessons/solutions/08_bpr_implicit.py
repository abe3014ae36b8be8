"""Reference solutions of lesson 08's exercises."""

import numpy as np


def exercise_08_1(P, Q, bi, u, i, j, lr, reg, reg_bias):
    p_u, q_i, q_j = P[u].copy(), Q[i].copy(), Q[j].copy()
    x = p_u @ (q_i - q_j) + bi[i] - bi[j]
    g = 1 / (1 + np.exp(x))  # sigma(-x)
    P[u] += lr * (g * (q_i - q_j) - reg * p_u)
    Q[i] += lr * (g * p_u - reg * q_i)
    Q[j] += lr * (-g * p_u - reg * q_j)
    b_i, b_j = bi[i], bi[j]
    bi[i] += lr * (g - reg_bias * b_i)
    bi[j] += lr * (-g - reg_bias * b_j)
    return P, Q, bi


def exercise_08_2(pos, neg, k):
    ranks = (neg >= pos[:, None]).sum(axis=1)
    return float(np.mean(ranks < k))
