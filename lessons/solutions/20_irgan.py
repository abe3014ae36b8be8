"""Reference solutions of lesson 20's exercises."""

import numpy as np


def exercise_20_1(f_real, f_fake):
    # -log sigma(x) = softplus(-x), -log(1 - sigma(x)) = softplus(x)
    return float(np.mean(np.logaddexp(0, -f_real)) + np.mean(np.logaddexp(0, f_fake)))


def exercise_20_2(a, R):
    p = np.exp(a - a.max())
    p /= p.sum()
    return p * (R - p @ R)
