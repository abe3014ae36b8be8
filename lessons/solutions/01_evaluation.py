"""Reference solutions of lesson 01's exercises."""

import numpy as np


def exercise_01_1(rel, scores, k):
    out = []
    discount = 1 / np.log2(np.arange(2, k + 2))
    for r, s in zip(rel, scores, strict=True):
        top = np.argsort(-s, kind="stable")[:k]
        ideal = np.sort(r)[::-1][:k]
        out.append(
            (r[top] * discount[: len(top)]).sum()
            / (ideal * discount[: len(ideal)]).sum()
        )
    return float(np.mean(out))


def exercise_01_2(S, seen, held):
    S = np.where(seen, -np.inf, S)
    pos = S[np.arange(len(S)), held]
    return (S >= pos[:, None]).sum(axis=1) - 1
