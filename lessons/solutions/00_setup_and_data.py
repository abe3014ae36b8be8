"""Reference solutions of lesson 00's exercises."""

import numpy as np


def exercise_00_1(counts):
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(x)
    ranks = np.arange(1, n + 1)
    return float(np.sum((2 * ranks - n - 1) * x) / (n * x.sum()))


def exercise_00_2(users, items, n_users, n_items):
    cells = np.unique(np.asarray(users) * n_items + np.asarray(items))
    return len(cells) / (n_users * n_items)
