"""Three session baselines on the API of
:class:`~minirec.models.sequential.SequentialRecommender` (Hidasi et al. 2016 §4
and Ludewig & Jannach 2018 use the same three):

* ``SessionPop``: s_j = count of j in the prefix + pop_j / (max pop + 1) -- the items of
  the current session, most frequent first, then global popularity.
* ``MarkovChain`` (first order): s_j = C[last, j] + pop_j / (max pop + 1) where
  C[i, j] counts the transitions i -> j in training sessions.
* ``SessionItemKNN`` (GRU4Rec's "Item-KNN"): cosine-like similarity of the sessions
  two items occur in, sim(i, j) = c_ij / (c_i^α c_j^(1-α) + λ) with c_ij the number of
  training sessions holding both, c_i those holding i; s_j = sim(last, j) (plus a
  tiny popularity tie-break), keeping each item's ``n_neighbors`` most similar items.

Cost: fitting is one pass (SessionPop, Markov) or one sparse product X Xᵀ of the
item x session incidence matrix (ItemKNN); scoring a prefix costs O(n_items).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from .._utils import check_nonnegative
from .sequential import SequentialRecommender, as_sequences

__all__ = [
    "SequentialRecommender",
    "SessionPop",
    "MarkovChain",
    "SessionItemKNN",
    "as_sequences",
]


# ---------------------------------------------------------------------- baselines
class SessionPop(SequentialRecommender):
    """Session popularity: items of the current prefix by their count there, then
    global popularity (a score in [0, 1) added to the count)."""

    name = "session-pop"

    def __init__(self) -> None:
        pass

    def _fit_sequences(self, indptr, items):
        pass

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        s = np.tile(self._pop_tiebreak(), (len(prefixes), 1))
        for r, q in enumerate(prefixes):
            np.add.at(s[r], q, 1.0)
        return s

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        n_rows = sum(len(s) - 1 for s in seqs)
        out = np.tile(self._pop_tiebreak(), (n_rows, 1))
        r = 0
        for s in seqs:
            for t in range(len(s) - 1):  # row r counts s[:t+1]
                out[r : r + len(s) - 1 - t, s[t]] += 1.0
                r += 1
        return out


class MarkovChain(SequentialRecommender):
    """First-order Markov chain: transition counts C[i, j] of i -> j in training."""

    name = "markov"

    def __init__(self) -> None:
        pass

    def _fit_sequences(self, indptr, items):
        n = self.n_items
        same = np.ones(len(items) - 1, dtype=bool)
        same[indptr[1:-1] - 1] = False  # no transition across sessions
        src, dst = items[:-1][same], items[1:][same]
        C = sp.csr_matrix(
            (np.ones(len(src), np.float32), (src, dst)), shape=(n, n), dtype=np.float32
        )
        C.sum_duplicates()
        self.C_ = C

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        last = np.array([q[-1] for q in prefixes])
        return self.C_[last].toarray() + self._pop_tiebreak()

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        last = np.concatenate([s[:-1] for s in seqs])
        return self.C_[last].toarray() + self._pop_tiebreak()

    def _state(self):
        return {
            "indptr": self.C_.indptr,
            "indices": self.C_.indices,
            "data": self.C_.data,
        }

    def _set_state(self, st):
        n = self.n_items
        self.C_ = sp.csr_matrix(
            (st["data"], st["indices"], st["indptr"]), shape=(n, n), dtype=np.float32
        )


class SessionItemKNN(SequentialRecommender):
    """Item-KNN over session co-occurrence: sim(i, j) = c_ij / (c_i^α c_j^(1-α) + λ),
    keeping each item's `n_neighbors` most similar items (0 = all)."""

    name = "session-itemknn"
    renamed_params: ClassVar[dict[str, str]] = {"k": "n_neighbors"}

    def __init__(
        self, alpha: float = 0.5, lam: float = 20.0, n_neighbors: int = 200
    ) -> None:
        self.alpha = check_nonnegative("alpha", alpha)
        if self.alpha > 1:
            raise ValueError(f"alpha={alpha!r}: must be in [0, 1]")
        self.lam = check_nonnegative("lam", lam)
        k = n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(
                f"n_neighbors={k!r}: must be an integer >= 0 (0 keeps all)"
            )
        self.n_neighbors = int(k)

    def _fit_sequences(self, indptr, items):
        n = self.n_items
        sess = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        X = sp.csr_matrix(
            (np.ones(len(items), np.float32), (items, sess)),
            shape=(n, len(indptr) - 1),
        )
        X.data[:] = 1.0  # an item clicked twice in a session counts once
        X.sum_duplicates()
        X.data[:] = 1.0
        co = (X @ X.T).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        c = np.asarray(X.sum(axis=1)).ravel()
        co = co.tocoo()
        denom = c[co.row] ** self.alpha * c[co.col] ** (1 - self.alpha) + self.lam
        S = sp.csr_matrix(
            ((co.data / denom).astype(np.float32), (co.row, co.col)), shape=(n, n)
        )
        if self.n_neighbors:
            S = _keep_top_k_rows(S, self.n_neighbors)
        self.S_ = S

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        last = np.array([q[-1] for q in prefixes])
        return self.S_[last].toarray() + 1e-3 * self._pop_tiebreak()

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        last = np.concatenate([s[:-1] for s in seqs])
        return self.S_[last].toarray() + 1e-3 * self._pop_tiebreak()

    def _state(self):
        return {
            "indptr": self.S_.indptr,
            "indices": self.S_.indices,
            "data": self.S_.data,
        }

    def _set_state(self, st):
        n = self.n_items
        self.S_ = sp.csr_matrix(
            (st["data"], st["indices"], st["indptr"]), shape=(n, n), dtype=np.float32
        )


def _keep_top_k_rows(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row of a CSR matrix (ties broken by the
    smaller column index, so the result depends on the values alone)."""
    S = S.tocsr()
    rows, cols, vals = [], [], []
    for r in range(S.shape[0]):
        a, b = S.indptr[r], S.indptr[r + 1]
        if b - a == 0:
            continue
        d, j = S.data[a:b], S.indices[a:b]
        if b - a > k:  # the k largest; ties at the cut-off to the smaller item
            top = np.lexsort((j, -d))[:k]
            d, j = d[top], j[top]
        rows.append(np.full(len(j), r))
        cols.append(j)
        vals.append(d)
    if not rows:
        return S
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=S.shape,
        dtype=np.float32,
    )
