r"""Neighbourhood collaborative filtering: item-based and user-based KNN.

Math (doc 000 §2.1, tag ``000-2.1``; doc 004 §2 user-CF / item-CF; Sarwar et al.
2001; Koren 2010 §2.2; Surprise's ``KNNBaseline`` / ``KNNWithMeans``).

Similarity between items (ItemKNN; rows of the item x user matrix) or users
(UserKNN), computed once by :mod:`minirec.backends.knn_ops`:

* ``"pearson"``: Σ_common x_a x_b / sqrt(Σ_common x_a² Σ_common x_b²) on the
  residuals x = r − b_ui (with ``baseline="bias"`` this is Surprise's
  ``pearson_baseline``; with ``"mean"`` the classic mean-centred Pearson);
* ``"cosine"``: x_a·x_b / (‖x_a‖ ‖x_b‖) on the raw ratings (task "rating") or on
  the 0/1 interactions (task "ranking");
* shrinkage sim · n_ab / (n_ab + shrink) against similarities backed by few
  common ratings; only positive similarities are kept.

Rating prediction (``task="rating"``), item-based (user-based swaps roles):

.. math::
    \hat r_{ui} = b_{ui} + \frac{\sum_{j \in N^k_u(i)} s_{ij} (r_{uj} - b_{uj})}
                              {\sum_{j \in N^k_u(i)} s_{ij}},

N^k_u(i) = the k items most similar to i *among those u rated* (as Surprise);
b_ui = μ + b_u + b_i (``baseline="bias"``, fitted as :class:`BiasedBaseline`),
the item mean μ_i / user mean μ_u (``"mean"``) or 0 (``"none"``, KNNBasic); with no
neighbour r̂ = b_ui. Predictions are clipped to the training rating range.

Ranking scores (``task="ranking"``, the top-N form of Deshpande & Karypis 2004):
item-based score(u, i) = Σ_{j ∈ I_u} s_ji 1[i ∈ N^k(j)] (each rated item votes
for its k stored neighbours); user-based score(u, i) = Σ_{v ∈ N^k(u)} s_uv 1[v
rated i].

Agreement with Surprise: with ``shrink=0`` the predictions equal Surprise's
``KNNBaseline(sim_options={"name": "pearson_baseline", "shrinkage": 0})`` on every
pair the user has not rated (tests/models/test_knn.py). Two documented
differences: Surprise shrinks by (n − 1)/(n − 1 + shrink) where we use the
n/(n + shrink) of Koren 2010; and for a pair in the training data Surprise counts
the target itself as a neighbour (similarity 1), we exclude it.

Cost: similarities O(Σ_c |column c|²) time (sparse co-occurrence, Numba, rows in
parallel), memory O(rows · keep); a rating prediction scans the stored neighbours
of the row until k have an entry (binary search each).

Backends (``backend=``): ``"numpy"`` (the spec, dense), ``"numba"`` (rows / pairs in
parallel) and ``"cuda"`` (:mod:`minirec.backends.cuda_ops`: one GPU thread per row
for the similarities, per pair for the predictions). With "cuda" the fit copies
the ratings to the device and the neighbour lists back (explicitly, in the kernel
wrappers); the first rating prediction copies the neighbour lists to the device
once for the fitted model; predictions come back as NumPy arrays. The fitted model
and its files are the same on every backend. All three are deterministic and
agree up to float rounding.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._utils import check_nonnegative, check_positive_int
from ..backends import get_kernels, resolve_backend
from ..data.interactions import Interactions
from .base import Recommender, top_k
from .baselines import BiasedBaseline

SIMILARITIES = ("pearson", "cosine")
BASELINES = ("bias", "mean", "none")
TASKS = ("rating", "ranking")


class _KNN(Recommender):
    """Shared code of ItemKNN and UserKNN; see the module docstring."""

    predicts_ratings = True
    _item_based: ClassVar[bool] = True
    # arrays a model file must hold (minirec.models._modelfile); rows of the
    # neighbour lists and of X are items (ItemKNN) or the fitted users (UserKNN)
    state_schema: ClassVar[dict[str, str]] = {
        "nbr_indptr": "int64 (n_rows+1,) indptr nbr_indices",
        "nbr_indices": "int32 (n_nbrs,) < n_rows",
        "nbr_sims": "float32 (n_nbrs,)",
        "x_indptr": "int64 (n_rows+1,) indptr x_indices sorted",
        "x_indices": "int32 (n_x,) < n_cols",
        "x_data": "float32 (n_x,)",
        "bu": "float32 (n_users,)",
        "bi": "float32 (n_items,)",
        "scalars": "float64 (3,)",
        "fold_users": "int64 (n_folded,) < n_users unique optional",
        "fold_indptr": "int64 (n_folded+1,) indptr fold_items optional",
        "fold_items": "int32 (n_fold_x,) < n_items optional",
        "fold_x": "float32 (n_fold_x,) optional",
    }

    def __init__(
        self,
        k: int = 40,
        similarity: str | None = None,
        shrink: float = 100.0,
        task: str = "rating",
        baseline: str = "bias",
        keep: int | None = None,
        backend: str | None = None,
    ) -> None:
        self.k = check_positive_int("k", k)
        if task not in TASKS:
            raise ValueError(f"task={task!r}; choose one of {TASKS}")
        self.task = task
        sim = similarity or ("pearson" if task == "rating" else "cosine")
        if sim not in SIMILARITIES:
            raise ValueError(f"similarity={similarity!r}; choose one of {SIMILARITIES}")
        if task == "ranking" and sim == "pearson":
            raise ValueError(
                "similarity='pearson' needs ratings to centre; for task='ranking' "
                "(0/1 interactions) use similarity='cosine'"
            )
        self.similarity = similarity
        self.shrink = check_nonnegative("shrink", shrink)
        if baseline not in BASELINES:
            raise ValueError(f"baseline={baseline!r}; choose one of {BASELINES}")
        self.baseline = baseline
        if keep is not None:
            keep = check_positive_int("keep", keep)
            if keep < self.k:
                raise ValueError(f"keep={keep} must be >= k={self.k} (or None)")
        self.keep = keep
        self.backend = backend
        name = resolve_backend(backend)
        get_kernels(name)  # raises with the install command when missing
        self._backend_name = name
        self._sim = sim
        self.predicts_ratings = task == "rating"

    def _kernel(self, what: str):
        return getattr(get_kernels(self._backend_name), f"knn_{what}")

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions) -> None:
        ib = self._item_based
        X = data.by_item if ib else data.by_user
        T = data.by_user if ib else data.by_item
        r = data.ratings.astype(np.float64)
        self.rating_range_ = (float(r.min()), float(r.max()))
        self.mu_ = float(r.mean())
        self.bu_ = np.zeros(data.n_users, dtype=np.float32)
        self.bi_ = np.zeros(data.n_items, dtype=np.float32)
        if self.task == "rating":
            if self.baseline == "bias":
                b = BiasedBaseline(clip=False).fit(data)
                self.bu_, self.bi_ = b.bu_, b.bi_
            elif self.baseline == "mean":
                rows = data.items if ib else data.users
                n = data.n_items if ib else data.n_users
                cnt = np.bincount(rows, minlength=n)
                means = np.bincount(rows, weights=r, minlength=n) / np.maximum(cnt, 1)
                means = np.where(cnt > 0, means - self.mu_, 0.0).astype(np.float32)
                if ib:
                    self.bi_ = means
                else:
                    self.bu_ = means
            base = self._base(data.users, data.items).astype(np.float64)
            if self.baseline == "none":
                base[:] = 0.0
            resid = r - base
            sim_values = resid if self._sim == "pearson" else r
        else:
            resid = np.ones(len(data))
            sim_values = resid
        keep = (
            self.keep
            if self.keep is not None
            else (self.k if self.task == "ranking" else 0)
        )
        sim_fn = self._kernel("similarity")
        ptr, idx, sims = sim_fn(
            X.indptr,
            X.indices,
            np.ascontiguousarray(sim_values[X.rows]),
            T.indptr,
            T.indices,
            np.ascontiguousarray(sim_values[T.rows]),
            self._sim == "pearson",
            self.shrink,
            keep,
        )
        self.nbr_indptr_, self.nbr_indices_, self.nbr_sims_ = ptr, idx, sims
        self.x_indptr_, self.x_indices_ = X.indptr, X.indices
        self.x_data_ = resid[X.rows].astype(np.float32)

    def _base(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.task == "ranking" or self.baseline == "none":
            return np.zeros(len(u), dtype=np.float32)
        return (self.mu_ + self.bu_[u] + self.bi_[i]).astype(np.float32)

    # ------------------------------------------------------------------ scoring
    def _predict_rating(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        rows, cols = (i, u) if self._item_based else (u, i)
        dev, used = self._kernel("predict")(
            *self._predict_arrays(),
            np.ascontiguousarray(rows, np.int64),
            np.ascontiguousarray(cols, np.int64),
            self.k,
        )
        est = self._base(u, i) + dev
        if self.baseline == "none":  # KNNBasic: no neighbour -> the global mean
            est[used == 0] = self.mu_
        return np.clip(est, *self.rating_range_).astype(np.float32)

    def _predict_arrays(self) -> tuple:
        """Neighbour lists and X as the predict kernel takes them: for backend
        "cuda", device copies made once per fitted (or loaded) model, explicitly;
        else the host arrays themselves."""
        arrays = (
            self.nbr_indptr_,
            self.nbr_indices_,
            self.nbr_sims_,
            self.x_indptr_,
            self.x_indices_,
            self.x_data_,
        )
        if self._backend_name != "cuda":
            return arrays
        cached = getattr(self, "_device_copies", None)
        if cached is None or cached[0] is not arrays[0]:  # first use, refit, load
            to_device = get_kernels("cuda").to_device
            cached = (arrays[0], tuple(to_device(a) for a in arrays))
            self._device_copies = cached
        return cached[1]

    def _gather(self, ptr: np.ndarray, sources: np.ndarray):
        """Concatenated rows `sources` of a CSR: (which source, position)."""
        lens = ptr[sources + 1] - ptr[sources]
        owner = np.repeat(np.arange(len(sources)), lens)
        starts = np.repeat(ptr[sources] - np.cumsum(lens) + lens, lens)
        pos = starts + np.arange(lens.sum())
        return owner, pos

    def _rank_scores(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items
        seen = self._seen
        if self._item_based:
            # each rated item j votes sim(j, i) for its stored neighbours i
            o1, p1 = self._gather(seen.indptr, u)
            js = seen.indices[p1].astype(np.int64)
            o2, p2 = self._gather(self.nbr_indptr_, js)
            keys = o1[o2] * n_items + self.nbr_indices_[p2]
            weights = self.nbr_sims_[p2]
        else:
            # each neighbour v votes sim(u, v) for every item it rated
            o1, p1 = self._gather(self.nbr_indptr_, u)
            vs = self.nbr_indices_[p1].astype(np.int64)
            o2, p2 = self._gather(seen.indptr, vs)
            keys = o1[o2] * n_items + seen.indices[p2]
            weights = self.nbr_sims_[p1][o2]
        out = np.bincount(keys, weights=weights, minlength=len(u) * n_items)
        return out.reshape(len(u), n_items).astype(np.float32)

    def _score(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        if self.task == "ranking":
            return self._rank_scores(u)
        n_items = self.n_items
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items, dtype=np.int64), len(u))
        return self._predict_rating(uu, ii).reshape(len(u), n_items)

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.task == "rating":
            return self._predict_rating(u, i)
        out = np.empty(len(u), dtype=np.float32)
        users, inv = np.unique(u, return_inverse=True)
        step = 256  # users scored at once
        for s in range(0, len(users), step):
            scores = self._rank_scores(users[s : s + step])
            sel = np.flatnonzero((inv >= s) & (inv < s + step))
            out[sel] = scores[inv[sel] - s, i[sel]]
        return out

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict:
        return {
            "nbr_indptr": self.nbr_indptr_,
            "nbr_indices": self.nbr_indices_,
            "nbr_sims": self.nbr_sims_,
            "x_indptr": self.x_indptr_,
            "x_indices": self.x_indices_,
            "x_data": self.x_data_,
            "bu": self.bu_,
            "bi": self.bi_,
            "scalars": np.array([self.mu_, *self.rating_range_]),
        }

    def _set_state(self, s: dict) -> None:
        self.nbr_indptr_, self.nbr_indices_ = s["nbr_indptr"], s["nbr_indices"]
        self.nbr_sims_ = s["nbr_sims"]
        self.x_indptr_, self.x_indices_ = s["x_indptr"], s["x_indices"]
        self.x_data_ = s["x_data"]
        self.bu_, self.bi_ = s["bu"], s["bi"]
        self.mu_, lo, hi = (float(x) for x in s["scalars"])
        self.rating_range_ = (lo, hi)

    def neighbours(self, raw_id: Any) -> tuple[np.ndarray, np.ndarray]:
        """Stored neighbours of one item (ItemKNN) or user (UserKNN), best first:
        ``(raw ids, similarities)``."""
        self._check_fitted()
        if self._item_based:
            a = int(self.item_index([raw_id])[0])
            ids = self.item_ids_
        else:
            a = int(self.user_index([raw_id])[0])
            ids = self.user_ids_
        lo, hi = self.nbr_indptr_[a], self.nbr_indptr_[a + 1]
        return ids[self.nbr_indices_[lo:hi]], self.nbr_sims_[lo:hi]


class ItemKNN(_KNN):
    """Item-based neighbourhood CF (see the module docstring for the math).

    Parameters
    ----------
    k : int
        Neighbours used per prediction (rating) or stored per item (ranking).
    similarity : {"pearson", "cosine"} or None
        None: "pearson" for task "rating", "cosine" for "ranking".
    shrink : float
        Shrinkage constant (0: none); Surprise's default for pearson_baseline: 100.
    task : {"rating", "ranking"}
        Predict ratings (RMSE) or rank items from 0/1 interactions.
    baseline : {"bias", "mean", "none"}
        b_ui for task "rating": μ + b_u + b_i, the item mean, or 0.
    keep : int or None
        Neighbours stored per item (None: every positive one for "rating", k for
        "ranking"); must be >= k.
    backend : {"numpy", "numba", "cuda"} or None
        Kernel backend (None: MINIREC_BACKEND, then numba when installed).
    """

    name = "itemknn"
    _item_based = True
    state_dims = {"n_rows": "n_items", "n_cols": "<= n_users"}

    def similar_items(self, items: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The `n` most similar items by the fitted similarity (stored neighbours;
        items beyond the stored list get score -inf)."""
        self._check_fitted()
        n = check_positive_int("n", n)
        if n >= self.n_items:
            raise ValueError(f"n={n} must be smaller than the number of items")
        i = self.item_index(items)
        s = np.full((len(i), self.n_items), -np.inf, dtype=np.float32)
        for r, a in enumerate(i):
            lo, hi = self.nbr_indptr_[a], self.nbr_indptr_[a + 1]
            s[r, self.nbr_indices_[lo:hi]] = self.nbr_sims_[lo:hi]
        top = top_k(s, n)
        return self.item_ids_[top], np.take_along_axis(s, top, axis=1)


class UserKNN(_KNN):
    """User-based neighbourhood CF; parameters as :class:`ItemKNN` with users and
    items swapped (``baseline="mean"`` uses the user means)."""

    name = "userknn"
    _item_based = False
    state_dims = {"n_rows": "<= n_users", "n_cols": "n_items"}
