"""Reference solutions of lesson 06b's exercises."""

import numpy as np


def exercise_06b_1(rows, values, n):
    return np.stack(
        [
            np.bincount(rows, weights=values[:, f], minlength=n)
            for f in range(values.shape[1])
        ],
        axis=1,
    )
