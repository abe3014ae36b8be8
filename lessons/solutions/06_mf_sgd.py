"""Reference solutions of lesson 06's exercises."""

import numpy as np


def exercise_06_1(P, Q, bu, bi, mu, u, i, r, reg):
    e = r - (mu + bu[u] + bi[i] + np.sum(P[u] * Q[i], axis=1))
    grad_bu = reg * bu - np.bincount(u, weights=e, minlength=len(bu))
    grad_bi = reg * bi - np.bincount(i, weights=e, minlength=len(bi))
    return grad_bu, grad_bi
