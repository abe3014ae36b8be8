"""Reference solutions of lesson 19's exercises."""

import numpy as np


def exercise_19_1(Eh, Et, Rv, Mr):
    diff = np.einsum("bij,bj->bi", Mr, Eh) + Rv - np.einsum("bij,bj->bi", Mr, Et)
    return (diff**2).sum(axis=1)


def exercise_19_2(triples, n_ent, rng):
    true = {tuple(t) for t in triples.tolist()}
    out = np.empty(len(triples), dtype=np.int64)
    for n, (h, r, _) in enumerate(triples.tolist()):
        allowed = [t for t in range(n_ent) if (h, r, t) not in true]
        out[n] = allowed[rng.integers(len(allowed))]
    return out
