r"""Neighbourhood collaborative filtering: item-based and user-based KNN.

Math (doc 000 §2.1, tag ``000-2.1``; doc 004 §2 user-CF / item-CF; Sarwar et al.
2001; Koren 2010 §2.2; Surprise's ``KNNBaseline`` / ``KNNWithMeans``).

Similarity between items (ItemKNN; rows of the item x user matrix) or users
(UserKNN), computed once by :mod:`minirec.backends.numpy_ops.knn`:

* ``"pearson"``: Σ_common x_a x_b / sqrt(Σ_common x_a² Σ_common x_b²) on the
  residuals x = r − b_ui (with ``baseline="bias"`` this is Surprise's
  ``pearson_baseline``; with ``"mean"`` the classic mean-centred Pearson);
* ``"cosine"``: x_a·x_b / (‖x_a‖ ‖x_b‖) on the raw ratings (task "rating") or on
  the 0/1 interactions (task "ranking");
* shrinkage sim · n_ab / (n_ab + shrink) against similarities backed by few
  common ratings (``shrink_by="count"``), or Σ x_a x_b / (‖x_a‖ ‖x_b‖ + shrink)
  (``"norm"``, Ferrari Dacrema et al. 2019's ItemKNN CF); only positive
  similarities are kept;
* ``alpha``: the asymmetric cosine x_a·x_b / (‖x_a‖^{2α} ‖x_b‖^{2(1−α)}) (Aiolli
  2013; 0.5 is the cosine), a being the item whose neighbour list it is.

Rating prediction (``task="rating"``), item-based (user-based swaps roles):

.. math::
    \hat r_{ui} = b_{ui} + \frac{\sum_{j \in N^k_u(i)} s_{ij} (r_{uj} - b_{uj})}
                              {\sum_{j \in N^k_u(i)} s_{ij}},

N^k_u(i) = the k (``n_neighbors``) items most similar to i *among those u rated*
(as Surprise);
b_ui = μ + b_u + b_i (``baseline="bias"``, fitted as :class:`BiasedBaseline`),
the item mean μ_i / user mean μ_u (``"mean"``) or 0 (``"none"``, KNNBasic); with no
neighbour r̂ = b_ui. Predictions are clipped to the training rating range.

Ranking scores (``task="ranking"``), the user's row times the sparse top-k
similarity matrix: item-based, ``neighbours_of="rated"`` (the top-N form of
Deshpande & Karypis 2004), score(u, i) = Σ_{j ∈ I_u} x_uj s_ji 1[i ∈ N^k(j)]
(each rated item votes for its k stored neighbours); ``"candidate"`` (Sarwar et
al. 2001; Ferrari Dacrema et al.'s ItemKNN CF), score(u, i) = Σ_{j ∈ I_u ∩
N^k(i)} x_uj s_ij (each candidate sums the user's items among its own k
nearest); user-based score(u, i) = Σ_{v ∈ N^k(u)} s_uv 1[v rated i]. The values
x are 1 or, with ``weighting`` "tfidf" / "bm25", the interaction matrix's
feature weights with users as terms and items as documents (idf of a user =
log(n_items / (1 + n_u)); BM25 with k1 = 1.2, b = 0.75), used both in the
similarities and in the score.

Agreement with Surprise: with ``shrink=0`` the predictions equal Surprise's
``KNNBaseline(sim_options={"name": "pearson_baseline", "shrinkage": 0})`` on every
pair the user has not rated (tests/models/test_knn.py). Two documented
differences: Surprise shrinks by (n − 1)/(n − 1 + shrink) where we use the
n/(n + shrink) of Koren 2010; and for a pair in the training data Surprise counts
the target itself as a neighbour (similarity 1), we exclude it.

Cost: similarities O(Σ_c |column c|²) time (sparse co-occurrence, Numba, rows in
parallel), memory O(stored neighbours) plus a bounded scratch; a rating
prediction scans the stored neighbours of the row until k have an entry (binary
search each). Rankings by predicted rating (``recommend``) score every item of a
user from the user's own entries instead (:func:`knn_predict_cols` through the
inverted neighbour lists for ItemKNN, :func:`knn_predict_rows` for UserKNN): the
same neighbours summed in the same order, so the same floats as the pair walk, at
the cost of the user's history. Top-n scores (task "ranking") are the users'
rows times the sparse vote matrix in one parallel Numba pass per block
(:func:`~minirec.backends.numba_ops.knn.knn_vote_scores`), O(Σ_{j ∈ I_u}
|votes of j|) per user plus its output row. Users are scored in blocks of at most
``_SCORE_CELLS`` (user, item) cells and ``recommend`` (the base class) goes in
blocks of a bounded number of cells, so memory does not grow with the number of
users asked.

Serving: ``ItemKNN.fold_in`` adds (or recomputes) users from their ratings, the
item side frozen: the user bias b_u = Σ (r − μ − b_j) / (λ_u + n) (the
BiasedBaseline's user step, λ_u = 15, with ``baseline="bias"``; 0 with the
others) and the residuals r − b_uj, then scores are
the neighbour sums over that history. ``similar_items`` (ItemKNN) and
``similar_users`` (UserKNN) rank the stored neighbours.

Backends (``backend=``): ``"numpy"`` (the spec, dense), ``"numba"`` (rows / pairs in
parallel) and ``"cuda"`` (:mod:`minirec.backends.cuda_ops`: one GPU thread per row
for the similarities, per pair for the predictions; the every-item scores of
rankings run the host Numba kernels). With "cuda" the fit copies
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
from ..backends.numba_ops import knn_reverse
from ..backends.numba_ops.knn import knn_vote_scores
from ..backends.numpy_ops.knn import SHRINK_BY, check_similarity_options
from ..data.interactions import CSR, Interactions
from .base import Recommender
from .baselines import BiasedBaseline

SIMILARITIES = ("pearson", "cosine")
BASELINES = ("bias", "mean", "none")
TASKS = ("rating", "ranking")
#: feature weightings of the interaction matrix (task "ranking", ItemKNN)
WEIGHTINGS = ("none", "tfidf", "bm25")
#: whose k nearest neighbours a top-n score sums over (task "ranking", ItemKNN)
NEIGHBOURS_OF = ("rated", "candidate")
#: Okapi BM25's term-frequency saturation and length normalisation
_BM25_K1, _BM25_B = 1.2, 0.75
#: (user, item) scores computed per kernel call when scoring every item
_SCORE_CELLS = 1 << 22
_EMPTY_FOLD = {
    "fold_users": np.zeros(0, np.int64),
    "fold_indptr": np.zeros(1, np.int64),
    "fold_items": np.zeros(0, np.int32),
    "fold_x": np.zeros(0, np.float32),
}


def _gather(ptr: np.ndarray, sources: np.ndarray):
    """Concatenated rows `sources` of a CSR: (which source, position)."""
    lens = ptr[sources + 1] - ptr[sources]
    return _segments(ptr[sources], lens)


def _segments(starts: np.ndarray, lens: np.ndarray):
    """(segment number, position) of the concatenated ranges [start, start+len)."""
    owner = np.repeat(np.arange(len(lens)), lens)
    pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
    return owner, pos


class _KNN(Recommender):
    """Shared code of ItemKNN and UserKNN; see the module docstring."""

    predicts_ratings = True
    renamed_params: ClassVar[dict[str, str]] = {"k": "n_neighbors"}
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
        n_neighbors: int = 40,
        similarity: str | None = None,
        shrink: float = 100.0,
        task: str = "rating",
        baseline: str = "bias",
        keep: int | None = None,
        alpha: float = 0.5,
        shrink_by: str = "count",
        weighting: str = "none",
        neighbours_of: str = "rated",
        backend: str | None = None,
    ) -> None:
        self.n_neighbors = check_positive_int("n_neighbors", n_neighbors)
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
            if keep < self.n_neighbors:
                raise ValueError(
                    f"keep={keep} must be >= n_neighbors={self.n_neighbors} (or None)"
                )
        self.keep = keep
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ValueError(f"alpha={alpha!r}: must be a number in [0, 1]")
        if shrink_by not in SHRINK_BY:
            raise ValueError(f"shrink_by={shrink_by!r}; choose one of {SHRINK_BY}")
        check_similarity_options(sim == "pearson", float(alpha), shrink_by)
        self.alpha = float(alpha)
        self.shrink_by = shrink_by
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting={weighting!r}; choose one of {WEIGHTINGS}")
        if neighbours_of not in NEIGHBOURS_OF:
            raise ValueError(
                f"neighbours_of={neighbours_of!r}; choose one of {NEIGHBOURS_OF}"
            )
        for name, value, default in (
            ("weighting", weighting, "none"),
            ("neighbours_of", neighbours_of, "rated"),
        ):
            if value != default and (task != "ranking" or not self._item_based):
                raise ValueError(
                    f"{name}={value!r} is an option of ItemKNN(task='ranking'); "
                    f"leave it at {default!r} here"
                )
        self.weighting = weighting
        self.neighbours_of = neighbours_of
        self.backend = backend
        name = resolve_backend(backend)
        get_kernels(name)  # raises with the install command when missing
        if name == "cuda" and (self.alpha != 0.5 or shrink_by != "count"):
            raise ValueError(
                "backend='cuda' computes the cosine / pearson with shrink_by='count'"
                " only; use backend='numba' for alpha != 0.5 or shrink_by='norm'"
            )
        self._backend_name = name
        self._sim = sim
        self.predicts_ratings = task == "rating"

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
            resid = self._residuals(data.users, data.items, r)
            sim_values = resid if self._sim == "pearson" else r
        else:
            resid = self._weights(
                data.items, np.diff(data.by_user.indptr)[data.users],
                np.diff(X.indptr) if ib else None,
            )  # fmt: skip
            sim_values = resid
        keep = (
            self.keep
            if self.keep is not None
            else (self.n_neighbors if self.task == "ranking" else 0)
        )
        sim_fn = get_kernels(self._backend_name).knn_similarity
        # alpha and shrink_by are optional in the contract: the cuda kernel has
        # the defaults only (checked in __init__)
        options = () if self._backend_name == "cuda" else (self.alpha, self.shrink_by)
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
            *options,
        )
        self.nbr_indptr_, self.nbr_indices_, self.nbr_sims_ = ptr, idx, sims
        self.x_indptr_, self.x_indices_ = X.indptr, X.indices
        self.x_data_ = resid[X.rows].astype(np.float32)
        self._set_fold(_EMPTY_FOLD)

    def _weights(self, items, n_user, item_len) -> np.ndarray:
        """The value of each interaction (task "ranking", float64): 1, or its
        feature weight with users as terms and items as documents (Ferrari
        Dacrema et al. 2019's ItemKNN CF): TF-IDF idf_u = log(n_items / (1 + n_u));
        BM25 (k1 + 1) / (k1 · L_i + 1) · idf_u with L_i = 1 − b + b · n_i / mean
        n_i, for an item's n_i interactions (`item_len`, all items) and the
        user's n_u (`n_user`, per interaction). The similarities and the user's
        row in the top-n score both use these values."""
        if self.weighting == "none":
            return np.ones(len(items))
        n_items = len(self.item_ids_)
        w = np.log(n_items / (1.0 + np.asarray(n_user, np.float64)))
        if self.weighting == "bm25":
            n_i = np.asarray(item_len, np.float64)
            norm = (1.0 - _BM25_B) + _BM25_B * n_i / max(n_i.mean(), 1e-12)
            w *= (_BM25_K1 + 1.0) / (_BM25_K1 * norm[items] + 1.0)
        return w

    def _residuals(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> np.ndarray:
        """r − b_ui in float64 (b_ui = 0 with baseline "none")."""
        base = self._base(u, i).astype(np.float64)
        if self.baseline == "none":
            base[:] = 0.0
        return r - base

    def _base(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.task == "ranking" or self.baseline == "none":
            return np.zeros(len(u), dtype=np.float32)
        return (self.mu_ + self.bu_[u] + self.bi_[i]).astype(np.float32)

    # ------------------------------------------------------------------ scoring
    def _finish(self, base: np.ndarray, dev: np.ndarray, used: np.ndarray):
        """Rating predictions from the baseline and the neighbour deviation."""
        est = base + dev
        if self.baseline == "none":  # KNNBasic: no neighbour -> the global mean
            est[used == 0] = self.mu_
        return np.clip(est, *self.rating_range_).astype(np.float32)

    def _predict_rating(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        folded = self._is_folded(u)
        dev = np.zeros(len(u), dtype=np.float32)
        used = np.zeros(len(u), dtype=np.int32)
        plain = ~folded
        if plain.any():
            rows, cols = (i, u) if self._item_based else (u, i)
            dev[plain], used[plain] = get_kernels(self._backend_name).knn_predict(
                *self._predict_arrays(),
                np.ascontiguousarray(rows[plain], np.int64),
                np.ascontiguousarray(cols[plain], np.int64),
                self.n_neighbors,
            )
        if folded.any():  # their entries are not in X: score them from the fold
            sel = np.flatnonzero(folded)
            users, inv = np.unique(u[sel], return_inverse=True)
            for s, dv, us in self._user_blocks(users):
                take = (inv >= s) & (inv < s + len(dv))
                dev[sel[take]] = dv[inv[take] - s, i[sel[take]]]
                used[sel[take]] = us[inv[take] - s, i[sel[take]]]
        return self._finish(self._base(u, i), dev, used)

    def _user_blocks(self, u: np.ndarray):
        """(start, dev, n_used) of every item for users u[start:start+len(dev)],
        in blocks of at most _SCORE_CELLS cells."""
        step = self._block(_SCORE_CELLS)
        for s in range(0, len(u), step):
            uu = u[s : s + step]
            if self._item_based:
                rev_indptr, rev_pos = self._reverse()
                dev, used = get_kernels(self._backend_name).knn_predict_cols(
                    *self._host_arrays()[:3],
                    rev_indptr,
                    rev_pos,
                    *self._user_entries(uu),
                    self.n_neighbors,
                )
            else:
                dev, used = get_kernels(self._backend_name).knn_predict_rows(
                    *self._host_arrays(),
                    np.ascontiguousarray(uu, np.int64),
                    self.n_items,
                    self.n_neighbors,
                )
            yield s, dev, used

    def _block(self, cells: int) -> int:
        """Users per block of `cells` (user, item) scores."""
        return max(1, cells // max(self.n_items, 1))

    def _predict_arrays(self) -> tuple:
        """Neighbour lists and X as the predict kernel takes them: for backend
        "cuda", device copies made once per fitted (or loaded) model, explicitly;
        else the host arrays themselves."""
        arrays = self._host_arrays()
        if self._backend_name != "cuda":
            return arrays
        cached = getattr(self, "_device_copies", None)
        if cached is None or cached[0] is not arrays[0]:  # first use, refit, load
            to_device = get_kernels("cuda").to_device
            cached = (arrays[0], tuple(to_device(a) for a in arrays))
            self._device_copies = cached
        return cached[1]

    def _host_arrays(self) -> tuple:
        """(nbr_indptr, nbr_indices, nbr_sims, x_indptr, x_indices, x_data)."""
        return (
            self.nbr_indptr_,
            self.nbr_indices_,
            self.nbr_sims_,
            self.x_indptr_,
            self.x_indices_,
            self.x_data_,
        )

    def _reverse(self) -> tuple[np.ndarray, np.ndarray]:
        """The inverted neighbour lists (knn_reverse), built once per model."""
        cached = getattr(self, "_rev", None)
        if cached is None or cached[0] is not self.nbr_indices_:
            cached = (
                self.nbr_indices_,
                knn_reverse(self.nbr_indptr_, self.nbr_indices_),
            )
            self._rev = cached
        return cached[1]

    def _by_user(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (items x users, ItemKNN) transposed: (indptr, items, residuals) per
        fitted user, items ascending; built once per model."""
        cached = getattr(self, "_xt", None)
        if cached is None or cached[0] is not self.x_indices_:
            n_items = len(self.x_indptr_) - 1
            item = np.repeat(
                np.arange(n_items, dtype=np.int32), np.diff(self.x_indptr_)
            )
            order = np.argsort(self.x_indices_, kind="stable")  # by user, then item
            indptr = np.zeros(len(self.bu_) + 1, dtype=np.int64)
            counts = np.bincount(self.x_indices_, minlength=len(self.bu_))
            np.cumsum(counts[: len(self.bu_)], out=indptr[1:])
            cached = (self.x_indices_, (indptr, item[order], self.x_data_[order]))
            self._xt = cached
        return cached[1]

    def _is_folded(self, u: np.ndarray) -> np.ndarray:
        f = self.fold_users_
        pos = np.minimum(np.searchsorted(f, u), max(len(f) - 1, 0))
        return (f[pos] == u) if len(f) else np.zeros(len(u), dtype=bool)

    def _user_entries(self, u: np.ndarray):
        """The query CSR (indptr, items, residuals) of users `u` (ItemKNN): the
        folded-in history where there is one, else the user's column of X."""
        xt_ptr, xt_items, xt_x = self._by_user()
        fitted = np.minimum(u, len(xt_ptr) - 2)  # users past the fit are folded
        starts = xt_ptr[fitted]
        lens = xt_ptr[fitted + 1] - starts
        folded = self._is_folded(u)
        if folded.any():
            f_row = np.searchsorted(self.fold_users_, u[folded])
            starts[folded] = len(xt_items) + self.fold_indptr_[f_row]
            lens[folded] = self.fold_indptr_[f_row + 1] - self.fold_indptr_[f_row]
        _, pos = _segments(starts, lens)
        indptr = np.zeros(len(u) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        if folded.any():
            items = np.concatenate([xt_items, self.fold_items_])[pos]
            x = np.concatenate([xt_x, self.fold_x_])[pos]
        else:  # no copy of the whole history
            items, x = xt_items[pos], xt_x[pos]
        return indptr, items.astype(np.int64), x.astype(np.float32)

    def _rank_scores(self, u: np.ndarray, out: np.ndarray | None = None):
        """Top-n scores of every item for users `u` (task "ranking"): the users'
        rows times the sparse neighbour matrix (:func:`knn_vote_scores`), into
        `out` when given."""
        if self._item_based:
            # each rated item j adds x_uj sim to the items its votes reach
            query = self._user_entries(u)
            return knn_vote_scores(*self._votes(), *query, self.n_items, out)
        # each neighbour v adds sim(u, v) to every item it rated
        seen = self._seen
        owner, pos = _gather(self.nbr_indptr_, u)
        q_indptr = np.zeros(len(u) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=len(u)), out=q_indptr[1:])
        ones = np.ones(len(seen.indices), dtype=np.float32)
        return knn_vote_scores(
            seen.indptr, seen.indices, ones,
            q_indptr, self.nbr_indices_[pos], self.nbr_sims_[pos], self.n_items,
            out,
        )  # fmt: skip

    def _votes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vote CSR of ItemKNN's top-n score, row j: the items a rated item j
        adds to and by how much. ``neighbours_of="rated"``: j's own neighbour
        list, score(u, i) = Σ_{j ∈ I_u, i ∈ N^k(j)} x_uj s_ji; ``"candidate"``:
        the lists turned around, score(u, i) = Σ_{j ∈ I_u ∩ N^k(i)} x_uj s_ij.
        Built once per model."""
        if self.neighbours_of == "rated":
            return self.nbr_indptr_, self.nbr_indices_, self.nbr_sims_
        cached = getattr(self, "_vote_csr", None)
        if cached is None or cached[0] is not self.nbr_indices_:
            rev_indptr, rev_pos = self._reverse()
            n_rows = len(self.nbr_indptr_) - 1
            row_of = np.repeat(
                np.arange(n_rows, dtype=np.int32), np.diff(self.nbr_indptr_)
            )
            votes = (rev_indptr, row_of[rev_pos], self.nbr_sims_[rev_pos])
            cached = (self.nbr_indices_, votes)
            self._vote_csr = cached
        return cached[1]

    def _score(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        out = np.empty((len(u), self.n_items), dtype=np.float32)
        if self.task == "ranking":
            step = self._block(_SCORE_CELLS)
            for s in range(0, len(u), step):
                self._rank_scores(u[s : s + step], out[s : s + step])
            return out
        bi = self.bi_ if self.baseline != "none" else np.zeros_like(self.bi_)
        for s, dev, used in self._user_blocks(u):
            uu = u[s : s + len(dev)]
            if self.baseline == "none":
                base = np.zeros(dev.shape, dtype=np.float32)
            else:  # the float32 sum of _base, (mu + b_u) + b_i, broadcast
                base = (self.mu_ + self.bu_[uu])[:, None] + bi[None, :]
            out[s : s + len(dev)] = self._finish(base, dev, used)
        return out

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.task == "rating":
            return self._predict_rating(u, i)
        out = np.empty(len(u), dtype=np.float32)
        users, inv = np.unique(u, return_inverse=True)
        step = self._block(_SCORE_CELLS)
        for s in range(0, len(users), step):
            scores = self._rank_scores(users[s : s + step])
            sel = np.flatnonzero((inv >= s) & (inv < s + step))
            out[sel] = scores[inv[sel] - s, i[sel]]
        return out

    # ------------------------------------------------------------------ similar
    def _similarity_rows(self, which: str, q: np.ndarray) -> np.ndarray:
        """The stored neighbours of each query (similar_items for ItemKNN,
        similar_users for UserKNN) by the fitted similarity; entries past the
        stored list score -inf. The query's own entry is its similarity with
        itself, 1 · n / (n + shrink) with its n entries, which no neighbour
        exceeds (shown with ``include_self=True``; ``implicit`` lists the query
        first)."""
        own = "item" if self._item_based else "user"
        if which != own:  # the other side has no neighbourhoods: the base explains
            return super()._similarity_rows(which, q)
        n_ids = len(self.item_ids_ if own == "item" else self.user_ids_)
        sc = np.full((len(q), n_ids), -np.inf, dtype=np.float32)
        fitted = q < len(self.nbr_indptr_) - 1  # folded-in users have no list
        owner, pos = _gather(self.nbr_indptr_, q[fitted])
        sc[np.flatnonzero(fitted)[owner], self.nbr_indices_[pos]] = self.nbr_sims_[pos]
        sc[np.arange(len(q)), q] = self._self_similarity(q)
        return sc

    def _self_similarity(self, a: np.ndarray) -> np.ndarray:
        """sim(a, a) = n_a / (n_a + shrink) (1 before shrinkage; 0 without
        entries), for rows of X."""
        n_rows = len(self.x_indptr_) - 1
        fitted = a < n_rows
        n = np.zeros(len(a))
        n[fitted] = np.diff(self.x_indptr_)[a[fitted]]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(n > 0, n / (n + self.shrink), 0.0)
        return s.astype(np.float32)

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
            "fold_users": self.fold_users_,
            "fold_indptr": self.fold_indptr_,
            "fold_items": self.fold_items_,
            "fold_x": self.fold_x_,
        }

    def _set_state(self, s: dict) -> None:
        self.nbr_indptr_, self.nbr_indices_ = s["nbr_indptr"], s["nbr_indices"]
        self.nbr_sims_ = s["nbr_sims"]
        self.x_indptr_, self.x_indices_ = s["x_indptr"], s["x_indices"]
        self.x_data_ = s["x_data"]
        self.bu_, self.bi_ = s["bu"], s["bi"]
        self.mu_, lo, hi = (float(x) for x in s["scalars"])
        self.rating_range_ = (lo, hi)
        self._set_fold({k: s.get(k, v) for k, v in _EMPTY_FOLD.items()})

    def _set_fold(self, fold: dict) -> None:
        """The folded-in users' histories (sorted users, CSR of items, residuals)."""
        self.fold_users_ = fold["fold_users"]
        self.fold_indptr_ = fold["fold_indptr"]
        self.fold_items_ = fold["fold_items"]
        self.fold_x_ = fold["fold_x"]

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
    n_neighbors : int
        Neighbours used per prediction (rating) or stored per item (ranking);
        ``k=`` is its deprecated name.
    similarity : {"pearson", "cosine"} or None
        None: "pearson" for task "rating", "cosine" for "ranking".
    shrink : float
        Shrinkage constant (0: none); Surprise's default for pearson_baseline: 100.
    task : {"rating", "ranking"}
        Predict ratings (RMSE) or rank items from 0/1 interactions.
    baseline : {"bias", "mean", "none"}
        b_ui for task "rating": μ + b_u + b_i, the item mean, or 0.
    keep : int or None
        Neighbours stored per item (None: every positive one for "rating",
        n_neighbors for "ranking"); must be >= n_neighbors.
    alpha : float
        Asymmetric cosine exponent in [0, 1]: denominator ‖x_i‖^{2α} ‖x_j‖^{2(1−α)}
        for item i's neighbour j (0.5: the cosine; cosine only).
    shrink_by : {"count", "norm"}
        How ``shrink`` enters: sim · n / (n + shrink) with the n common users
        (Koren 2010), or added to the denominator, dot / (norms + shrink)
        (Ferrari Dacrema et al. 2019).
    weighting : {"none", "tfidf", "bm25"}
        Feature weighting of the interaction matrix (task "ranking"): each
        interaction's value in the similarities and in the score.
    neighbours_of : {"rated", "candidate"}
        Task "ranking": whose k nearest neighbours the score sums over, each
        rated item's (Deshpande & Karypis 2004) or each candidate item's
        (Sarwar et al. 2001; Ferrari Dacrema et al. 2019's ItemKNN CF).
    backend : {"numpy", "numba", "cuda"} or None
        Kernel backend (None: MINIREC_BACKEND, then numba when installed).

    ``similar_items`` ranks the stored neighbours of each item, the query item
    left out unless ``include_self=True`` (``implicit`` lists it first).
    ``fold_in`` (and ``recommend(user_items=...)``) scores users from a given
    history without refitting.
    """

    name = "itemknn"
    _item_based = True
    state_dims = {"n_rows": "n_items", "n_cols": "<= n_users"}

    def _fold_in(self, u: np.ndarray, rows: CSR) -> None:
        """Users `u` from their histories `rows`, the items frozen: the user bias
        (baseline "bias": the BiasedBaseline user step) and the residuals of the
        given ratings, kept apart from X so that the fitted arrays stay as they
        are; scores are then the neighbour sums over this history."""
        n_users = len(self.user_ids_)
        items = rows.indices.astype(np.int64)
        r = np.asarray(rows.data, dtype=np.float64)
        owner = np.repeat(np.arange(len(u)), rows.lengths())
        bu = np.zeros(n_users, dtype=np.float32)
        bu[: len(self.bu_)] = self.bu_
        if self.task == "rating" and self.baseline == "bias":
            reg_u = BiasedBaseline().reg_u
            step = np.bincount(
                owner, weights=r - self.mu_ - self.bi_[items], minlength=len(u)
            ) / (reg_u + rows.lengths())
            bu[u] = step.astype(np.float32)
        self.bu_ = bu
        if self.task == "ranking":  # the fitted item counts, the given n_u
            n_u = rows.lengths()[owner]
            x = self._weights(items, n_u, np.diff(self.x_indptr_))
            x = x.astype(np.float32)
        else:
            x = self._residuals(u[owner], items, r).astype(np.float32)
        # merge with the users folded in before (theirs replaced when given again)
        old = self.fold_users_
        kept = ~np.isin(old, u)
        o_own, o_pos = _gather(self.fold_indptr_, np.flatnonzero(kept))
        users = np.concatenate([old[kept], u])
        user_of = np.concatenate([o_own, owner + int(kept.sum())])
        all_items = np.concatenate([self.fold_items_[o_pos], rows.indices])
        all_x = np.concatenate([self.fold_x_[o_pos], x])
        srt = np.argsort(users)
        rank = np.empty(len(users), dtype=np.int64)
        rank[srt] = np.arange(len(users))
        order = np.lexsort((all_items, rank[user_of]))
        indptr = np.zeros(len(users) + 1, dtype=np.int64)
        np.cumsum(np.bincount(user_of, minlength=len(users))[srt], out=indptr[1:])
        self._set_fold(
            {
                "fold_users": users[srt].astype(np.int64),
                "fold_indptr": indptr,
                "fold_items": all_items[order].astype(np.int32),
                "fold_x": all_x[order].astype(np.float32),
            }
        )


class UserKNN(_KNN):
    """User-based neighbourhood CF; parameters as :class:`ItemKNN` with users and
    items swapped (``baseline="mean"`` uses the user means; ``weighting`` and
    ``neighbours_of`` are ItemKNN's only).

    ``similar_users`` ranks the stored neighbours of each user, the query user
    left out unless ``include_self=True`` (``implicit`` lists it first)."""

    name = "userknn"
    _item_based = False
    state_dims = {"n_rows": "<= n_users", "n_cols": "n_items"}
