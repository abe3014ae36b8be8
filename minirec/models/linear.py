"""Strong simple baselines with a closed form: EASE and PureSVD.

Both score a user by a linear map of the user's training row ``x_u`` (the values
of the interactions: 1 for implicit data, the ratings otherwise):

* :class:`EASE` (Steck 2019): ``s_u = x_u B`` with the item-item matrix
  ``B = argmin ||X - X B||² + reg ||B||²`` subject to ``diag(B) = 0``, whose
  solution is ``B = I - P diag(1 / diag(P))``, ``P = (XᵀX + reg I)⁻¹``.
* :class:`PureSVD` (Cremonesi et al. 2010): ``s_u = x_u Q Qᵀ`` with ``Q`` the top
  `k` right singular vectors of the users x items matrix ``X``.

Fold-in is exact for both: a user's scores depend on the item side and the user's
own row only.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .._utils import as_rng, check_nonnegative, check_positive_int
from ..data.interactions import CSR, Interactions
from .base import Recommender
from .factor import FactorModel

#: the most items EASE accepts by default: B is n_items² float32 (20,000 items:
#: 1.6 GB, and the solve needs about three times that in float64)
EASE_MAX_ITEMS = 20_000


def user_matrix(rows: CSR, n_items: int) -> sp.csr_matrix:
    """A CSR of the library as a scipy.sparse (len(rows), n_items) float64 matrix."""
    return sp.csr_matrix(
        (rows.data.astype(np.float64), rows.indices, rows.indptr),
        shape=(rows.n_rows, n_items),
    )


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): closed-form item-item weights.

    Parameters
    ----------
    reg : float
        L2 penalty λ on B (added to the diagonal of the Gram matrix XᵀX).
    max_items : int
        Refuse to fit above this many items: B is a dense n_items x n_items float32
        matrix (4 n_items² bytes; 59k items need 14 GB) and the solve needs float64
        copies of it. Raise it knowingly, or pass `n_top_items`.
    n_top_items : int, optional
        Item-pruned variant: learn B over the `n_top_items` most popular items only
        (most training interactions; ties to the smaller index); the other items are
        neither inputs nor outputs of B and score 1 below the lowest kept score, so
        a ranking lists them last.
    """

    name = "ease"
    state_schema: ClassVar[dict[str, str]] = {
        "B": "float32 (n_kept, n_kept)",
        "kept": "int64 (n_kept,) < n_items",
    }

    def __init__(
        self,
        reg: float = 500.0,
        max_items: int = EASE_MAX_ITEMS,
        n_top_items: int | None = None,
    ) -> None:
        self.reg = check_nonnegative("reg", reg)
        self.max_items = check_positive_int("max_items", max_items)
        self.n_top_items = (
            None
            if n_top_items is None
            else check_positive_int("n_top_items", n_top_items)
        )

    def _fit(self, data: Interactions) -> None:
        n = data.n_items
        if self.n_top_items is not None and self.n_top_items < n:
            pop = data.item_counts()
            kept = np.sort(np.argsort(-pop, kind="stable")[: self.n_top_items])
        else:
            kept = np.arange(n)
        m = len(kept)
        if m > self.max_items:
            raise ValueError(
                f"EASE: {m:,} items exceed max_items={self.max_items:,}: B would be "
                f"{4 * m * m / 1e9:.1f} GB of float32 (and the solve needs about three "
                f"times that); pass n_top_items=<{self.max_items + 1} to learn B over "
                "the most popular items only, or raise max_items if the memory is there"
            )
        if self.reg == 0.0:
            raise ValueError(
                "EASE: reg=0 leaves XᵀX singular whenever an item has no or "
                "collinear interactions; pass reg > 0 (Steck uses a few hundred)"
            )
        X = user_matrix(data.by_user, n)[:, kept]
        G = (X.T @ X).toarray()
        del X
        G[np.diag_indices(m)] += self.reg
        # the m x m float64 matrices dominate the memory: LAPACK inverts G in place
        # through its transpose (G is symmetric, Gᵀ is the Fortran-ordered view)
        B = scipy.linalg.inv(G.T, overwrite_a=True, check_finite=False)
        del G
        B /= -np.diag(B)[None, :]
        B[np.diag_indices(m)] = 0.0
        self.B_ = B.astype(np.float32)
        del B
        self.kept_ = kept.astype(np.int64)
        self.fit_info_ = {"n_kept_items": int(m)}

    def _score(self, u: np.ndarray) -> np.ndarray:
        rows = _subrows(self._seen, u)
        X = user_matrix(rows, self.n_items)[:, self.kept_]
        s = np.asarray((X @ self.B_), dtype=np.float32)
        if len(self.kept_) == self.n_items:
            return s
        low = min(0.0, float(s.min(initial=0.0))) - 1.0
        out = np.full((len(u), self.n_items), low, dtype=np.float32)
        out[:, self.kept_] = s
        return out

    def _item_vectors(self) -> np.ndarray:
        """Row i of B: the weights item i gives every item (cosine of these rows
        is the similarity in similar_items); unkept items have zero rows."""
        V = np.zeros((self.n_items, len(self.kept_)), dtype=np.float32)
        V[self.kept_] = self.B_
        return V

    def _fold_in(self, u: np.ndarray, rows: CSR) -> None:
        """Nothing to compute: a user's scores are its seen row times B, and fit
        replaces the seen rows of `u` with `rows` after this call."""

    def _state(self) -> dict:
        return {"B": self.B_, "kept": self.kept_}

    def _set_state(self, s: dict) -> None:
        self.B_ = s["B"]
        self.kept_ = s["kept"]


def _subrows(seen: CSR, u: np.ndarray) -> CSR:
    """The rows `u` of `seen` as a CSR of len(u) rows."""
    starts, ends = seen.indptr[u], seen.indptr[u + 1]
    lengths = ends - starts
    indptr = np.zeros(len(u) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    pos = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return CSR(indptr, seen.indices[pos], seen.data[pos], pos)


class PureSVD(FactorModel):
    """PureSVD (Cremonesi et al. 2010): truncated SVD of the users x items matrix.

    ``X ≈ U Σ Qᵀ`` with the top `k` singular triplets (scipy.sparse.linalg.svds,
    ARPACK, started from a vector drawn with `seed`); the factors are ``Q_ = Q``
    and ``P_ = X Q`` (= U Σ), so a score is ``x_u Q Qᵀ``. Missing entries count as
    zeros, as in the paper.
    """

    name = "puresvd"
    factor_state = ("P", "Q")

    def __init__(self, k: int = 50, seed: int = 0) -> None:
        self.k = check_positive_int("k", k)
        self.seed = int(seed)

    def _fit(self, data: Interactions) -> None:
        from scipy.sparse.linalg import svds

        X = user_matrix(data.by_user, data.n_items)
        limit = min(X.shape) - 1
        if self.k > limit:
            raise ValueError(
                f"PureSVD: k={self.k} must be below min(n_users, n_items) = "
                f"{limit + 1:,}; pass k <= {limit}"
            )
        v0 = as_rng(self.seed).uniform(-1.0, 1.0, min(X.shape))
        _, sigma, vt = svds(X, k=self.k, v0=v0)
        order = np.argsort(-sigma)
        Q = np.ascontiguousarray(vt[order].T)
        self.Q_ = Q.astype(np.float32)
        self.P_ = np.asarray(X @ Q, dtype=np.float32)
        self.singular_values_ = sigma[order].astype(np.float32)

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        X = user_matrix(rows, self.n_items)
        return {"P": np.asarray(X @ self.Q_.astype(np.float64), dtype=np.float32)}
