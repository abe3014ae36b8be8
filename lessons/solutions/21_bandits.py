"""Reference solutions of lesson 21's exercises."""

import numpy as np


def exercise_21_1(n, s, t):
    untried = np.flatnonzero(n == 0)
    if len(untried):
        return int(untried[0])
    return int(np.argmax(s / n + np.sqrt(2 * np.log(t) / n)))


def exercise_21_2(mu, chosen):
    return np.cumsum(mu.max() - mu[chosen])


def exercise_21_3(n, s, rng):
    return int(np.argmax(rng.beta(1 + s, 1 + n - s)))
