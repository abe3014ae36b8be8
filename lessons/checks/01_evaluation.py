"""Checks of lesson 01's exercises (called by lessons/_exercises.py)."""

import numpy as np


def _ndcg_reference(rel, scores, k):
    try:
        from sklearn.metrics import ndcg_score
    except ImportError:
        ndcg_score = None
    if ndcg_score is not None:
        return float(ndcg_score(rel, scores, k=k))
    out = []  # the textbook definition, when scikit-learn is absent
    for r, s in zip(rel, scores, strict=True):
        top = np.argsort(-s)[:k]
        dcg = np.sum(r[top] / np.log2(np.arange(2, len(top) + 2)))
        ideal = np.sort(r)[::-1][:k]
        out.append(dcg / np.sum(ideal / np.log2(np.arange(2, len(ideal) + 2))))
    return float(np.mean(out))


def check_01_1(fn):
    rng = np.random.default_rng(5)
    rel = (rng.random((6, 20)) < 0.2).astype(float)
    rel[:, 0] = 1  # every user has a relevant item
    scores = rng.normal(size=(6, 20))
    for k in (3, 10):
        got = float(fn(rel.copy(), scores.copy(), k))
        want = _ndcg_reference(rel, scores, k)
        assert np.isclose(got, want, rtol=1e-9), (
            f"NDCG@{k} = {got:.6f}, scikit-learn's ndcg_score gives {want:.6f}: "
            "DCG of the top k by score over the DCG of the ideal order, per user"
        )


def check_01_2(fn):
    rng = np.random.default_rng(2)
    S = rng.integers(0, 6, size=(5, 12)).astype(float)  # many ties
    seen = rng.random((5, 12)) < 0.3
    held = np.array([0, 3, 5, 7, 11])
    seen[np.arange(5), held] = False
    got = np.asarray(fn(S.copy(), seen.copy(), held.copy()))
    want = np.empty(5, dtype=np.int64)
    for u in range(5):
        others = [j for j in range(12) if j != held[u] and not seen[u, j]]
        want[u] = sum(S[u, j] >= S[u, held[u]] for j in others)
    assert got.shape == (5,), f"expected one rank per user, got shape {got.shape}"
    assert np.array_equal(got, want), (
        f"ranks {got.tolist()}, expected {want.tolist()}: count the unseen items "
        "(other than the held-out one) scoring at least as high (ties count against)"
    )
