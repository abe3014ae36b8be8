r"""Alternating least squares: explicit (ALS-WR) and implicit (Hu/Koren/Volinsky).

**ALS (explicit ratings)**, Zhou, Wilkinson, Schreiber, Pan 2008 ("weighted-λ
regularization"), here with biases::

    r̂_ui = μ + b_u + b_i + p_u · q_i
    L = Σ_{(u,i)∈R} (r_ui − r̂_ui)² + λ Σ_u |I_u| (‖p_u‖² + b_u²)
                                     + λ Σ_i |U_i| (‖q_i‖² + b_i²)

With Q and b_i fixed, L is a ridge regression per user, solved in closed form
(the bias rides along as one more factor: x_u = [p_u, b_u], y_i = [q_i, 1])::

    x_u = (Y_Iᵀ Y_I + λ |I_u| I)⁻¹ Y_Iᵀ (r_u − μ − b_I)

then the same for the items with P and b_u fixed; one iteration = both halves. Each
half-step can only lower L, so L decreases monotonically (unlike SGD, which document
003 prints under the name "ALS": erratum E5; lesson 07 runs both). ``weighted=False``
uses a constant λ instead of λ|I_u|. Cost per iteration O(|R| k² + (m + n) k³).

**ImplicitALS**, Hu, Koren, Volinsky 2008 ("Collaborative Filtering for Implicit
Feedback Datasets"), for clicks/plays where every unobserved pair is a weak 0::

    p_ui = 1[r_ui > 0],  c_ui = 1 + α r_ui
    L = Σ_{u,i} c_ui (p_ui − x_u · y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)
    x_u = (YᵀY + Y_Iᵀ (C_u − I) Y_I + λ I)⁻¹ Y_Iᵀ C_u p(u)

The sum runs over *all* m·n pairs, but YᵀY is computed once per half-step (the
"YᵀY trick"), so a user costs O(|I_u| k² + k³) (``solver="cholesky"``) or, with
``solver="cg"``, O(cg_steps (|I_u| k + k²)) by a few conjugate-gradient steps
warm-started at the previous x_u (Takács, Pilászy, Tikk 2011; what the ``implicit``
library does). Cost per iteration O(|R| k² + (m + n) k³) exact, O(cg_steps |R| k)
with CG. A row with no entries gets x = 0 from either solver. ``weighted=True``
scales λ by the row's number of entries, λ |I_u| as in ALS-WR: the objective
Spark MLlib's implicit ALS minimises (``minirec.spark.SparkALS(implicit=True)``).

**Serving.** With one side fixed the other side's rows are independent closed-form
solves, so ``fold_in`` / ``partial_fit_users`` (and ``partial_fit_items``) compute
new or changed users (items) by that one half-step, exactly (Cholesky) whatever the
fit's solver, and ``explain`` splits a score into one term per item of the user's
history (Hu et al. 2008, §5).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._utils import (
    as_rng,
    check_finite_arrays,
    check_finite_loss,
    check_nonnegative,
    check_positive_int,
    progress,
)
from ..backends import get_kernels
from ..data.interactions import CSR, Interactions
from ..errors import TrainingDivergedError
from .base import new_ids
from .factor import FactorModel, check_backend, grown, init_factors

_ADVICE = "raise reg (it keeps the per-row systems well conditioned) or lower k"


@contextlib.contextmanager
def _linalg_advice(model: str, where: str):
    """A singular per-row system (NumPy's LinAlgError) as TrainingDivergedError
    with the advice the compiled backends' divergence checks give."""
    try:
        yield
    except np.linalg.LinAlgError as e:
        raise TrainingDivergedError(f"{model}: {where}: {e}; {_ADVICE}.") from None


class _ALSServing(FactorModel):
    renamed_params: ClassVar[dict[str, str]] = {"n_iters": "n_epochs"}
    """Serving shared by ALS and ImplicitALS: fold-in is one exact half-step of
    ALS for the given users (or items) with the other side frozen, and the score
    of a user is a weighted sum over its history (:meth:`explain`).

    Subclasses implement ``_solve_side(side, csr)``: the state of the rows of
    `csr` (users when side is "user", items when "item") against the frozen
    other side, and ``_explain_system(hist, vals)``."""

    #: item-side state arrays :meth:`partial_fit_items` computes
    item_state: tuple[str, ...] = ("Q",)

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        return self._solve_side("user", rows)

    def partial_fit_users(self, users: Any, items: Any, ratings: Any = None):
        """Recalculate (or add) users from their interactions, the item factors
        frozen: :meth:`fold_in` under the name ``implicit`` uses. Returns self."""
        return self.fold_in(users, items, ratings)

    def partial_fit_items(self, items: Any, users: Any, ratings: Any = None):
        """Recalculate (or add) items from their interactions, the user factors
        frozen: one exact item half-step of ALS for these items.

        `items` and `users` are raw ids of (item, user) pairs (users must be known),
        `ratings` their values (1 when omitted). Each item named gets its factors
        (and bias) from the pairs given here alone, new items are appended to the
        catalogue, and these pairs replace the items' interactions in the seen
        items of the users (and in the item popularity and mean). Returns self.
        """
        self._check_fitted()
        items = np.atleast_1d(np.asarray(items))
        users = np.atleast_1d(np.asarray(users))
        if len(items) != len(users) or len(items) == 0:
            raise ValueError(
                f"partial_fit_items(): {len(items)} items and {len(users)} users; "
                "pass one user per (item, user) pair, at least one pair"
            )
        vals = _pair_values(ratings, len(items), "partial_fit_items")
        u = self.user_index(users)
        uniq, inv = np.unique(items, return_inverse=True)
        i = self.item_index(uniq, "ignore")
        new = i < 0
        if new.any():
            added = new_ids(self.item_ids_, uniq[new], "item")
            i[new] = len(self.item_ids_) + np.arange(int(new.sum()))
            self.item_ids_ = np.concatenate([self.item_ids_, added])
            self._lookups = (self._lookups[0], None)
            if self.item_titles_ is not None:
                self.item_titles_ = np.concatenate(
                    [self.item_titles_, added.astype(str)]
                )
        cols = _csr_of_pairs(inv, u, vals, len(uniq))
        n = len(self.item_ids_)
        for name, v in self._solve_side("item", cols).items():
            setattr(self, name + "_", grown(getattr(self, name + "_"), n, i, v))
        counts = cols.lengths().astype(np.float32)
        sums = np.add.reduceat(cols.data, cols.indptr[:-1]) if len(cols.data) else 0
        self.item_popularity_ = grown(self.item_popularity_, n, i, counts)
        self.item_mean_ = grown(
            self.item_mean_, n, i, (sums / counts).astype(np.float32)
        )
        self._seen = _replace_columns(self._seen, i, u[cols.rows], inv[cols.rows])
        return self

    def explain(
        self,
        user: Any,
        item: Any,
        n: int | None = None,
        *,
        user_items: Any = None,
        ratings: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """How each item of a user's history adds to the score of `item` (Hu,
        Koren, Volinsky 2008, §5): ``(item ids, contributions)``, largest first,
        the top `n` (None: all).

        With the item side fixed, the user's factors are a linear function of its
        history, x_u = W_u Σ_j w_j y_j with W_u the inverse of the user's k×k
        system, so its score of item i splits exactly into one term per item j it
        interacted with: w_j (y_iᵀ W_u y_j) (ImplicitALS: w_j = c_uj; ALS: w_j =
        r_uj − μ − b_j and y = [q, 1]). The contributions sum to the score of the
        user folded in from that history (:meth:`fold_in`): for ImplicitALS the
        score itself, for ALS the score minus μ + b_i. The history is the user's
        seen items and their values, or `user_items` (raw item ids, any user id)
        with `ratings` (1 when omitted); a model loaded from a file or folded in
        stores no values (every one reads 1), so pass ALS the ratings there.
        """
        self._check_fitted()
        i = int(self.item_index([item])[0])
        if user_items is None:
            u = int(self.user_index([user])[0])
            hist, vals = self._seen.row(u), self._seen.row_data(u)
        else:
            hist = self.item_index(np.ravel(np.asarray(user_items)))
            vals = _pair_values(ratings, len(hist), "explain")
        if len(hist) == 0:
            raise ValueError(f"explain(): user {user!r} has no history to explain")
        Y_I, A, w, y_i = self._explain_system(hist, vals, i)
        with _linalg_advice(type(self).__name__, f"explain(user={user!r})"):
            contrib = w * (Y_I @ np.linalg.solve(A, y_i))
        order = np.argsort(-contrib, kind="stable")[:n]
        return self.item_ids_[hist[order]], contrib[order]


def _pair_values(ratings: Any, n: int, where: str) -> np.ndarray:
    """The values of `n` pairs: `ratings` checked, or ones."""
    if ratings is None:
        return np.ones(n, dtype=np.float32)
    vals = np.atleast_1d(np.asarray(ratings, dtype=np.float32))
    if len(vals) != n:
        raise ValueError(f"{where}(): {len(vals)} ratings for {n} pairs")
    if not np.isfinite(vals).all():
        raise ValueError(f"{where}(): ratings must be finite")
    return vals


def _csr_of_pairs(row: np.ndarray, col: np.ndarray, val: np.ndarray, n: int) -> CSR:
    """A CSR of `n` rows from (row, col, value) triples; ``rows`` holds each
    entry's position in the triples."""
    order = np.lexsort((col, row))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    return CSR(indptr, col[order].astype(np.int32), val[order], order)


def _replace_columns(
    seen: CSR, items: np.ndarray, user: np.ndarray, which: np.ndarray
) -> CSR:
    """The seen-items CSR with every entry of `items` dropped and the pairs
    (user[k], items[which[k]]) added, over ``max(items) + 1`` columns at least."""
    drop = np.zeros(
        max(int(items.max()) + 1, int(seen.indices.max(initial=-1)) + 1), bool
    )
    drop[items] = True
    old_user = np.repeat(np.arange(seen.n_rows), seen.lengths())
    kept = ~drop[seen.indices]
    row = np.concatenate([old_user[kept], user])
    col = np.concatenate([seen.indices[kept], items[which]])
    out = _csr_of_pairs(row, col, np.ones(len(row), np.float32), seen.n_rows)
    return CSR(out.indptr, out.indices, out.data, np.arange(len(row)))


class ALS(_ALSServing):
    """Explicit-feedback ALS with weighted-λ regularization (ALS-WR) and biases.

    Parameters
    ----------
    k : int
        Number of latent factors.
    reg : float
        λ; the penalty of row u is λ |I_u| (``weighted=True``) or λ.
    n_epochs : int
        Alternations (each solves all users, then all items).
    weighted : bool
        Scale λ by the number of ratings of the row (Zhou et al. 2008).
    biased : bool
        Learn b_u, b_i (as an extra factor) on top of μ; False: r̂ = p_u·q_i.
    init_std : float
        Standard deviation of the normal initialisation of Q (P is solved first).
    clip : bool
        Clip predicted ratings to the training range (ranking scores never are).
    seed : int
        Seed of the initialisation.
    backend : str or None
        ``"numpy"`` | ``"numba"`` | ``"cuda"``; None: MINIREC_BACKEND or the best.
    verbose : bool
        Print the training RMSE after each iteration.

    Defaults tuned for ML-1M on a validation split (config ``rating/ml1m-als``).
    """

    name = "als"
    predicts_ratings = True
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    meta_schema = {"mu": "float", "rating_range": "float (2,)"}
    factor_state = ("P", "Q", "bu", "bi")
    user_state = ("P", "bu")
    item_state = ("Q", "bi")
    iterative = True

    def __init__(
        self,
        k: int = 64,
        reg: float = 0.08,
        n_epochs: int = 15,
        weighted: bool = True,
        biased: bool = True,
        init_std: float = 0.1,
        clip: bool = True,
        seed: int = 0,
        backend: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.weighted = bool(weighted)
        self.biased = bool(biased)
        self.init_std = check_nonnegative("init_std", init_std)
        self.clip = bool(clip)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    def _fit(self, data: Interactions, on_epoch: Callable | None = None) -> None:
        K = get_kernels(self.backend)
        rng = as_rng(self.seed)
        m, n, k = data.n_users, data.n_items, self.k
        R_u, R_i = data.by_user, data.by_item
        r_u = R_u.data.astype(np.float32)
        r_i = R_i.data.astype(np.float32)
        self.mu_ = float(data.ratings.astype(np.float64).mean()) if self.biased else 0.0
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self.P_ = np.zeros((m, k), dtype=np.float32)
        self.Q_ = init_factors(rng, n, k, self.init_std)
        self.bu_ = np.zeros(m, dtype=np.float32)
        self.bi_ = np.zeros(n, dtype=np.float32)
        b = 1 if self.biased else 0
        ones = np.ones((max(m, n), b), dtype=np.float32)
        self.history_: list[dict] = []
        for it in progress(range(1, self.n_epochs + 1), desc="ALS", unit="iter"):
            # users: x_u = [p_u, b_u] against y_i = [q_i, 1], targets r - mu - b_i
            Y = np.ascontiguousarray(np.hstack([self.Q_, ones[:n]]))
            X = np.empty((m, k + b), dtype=np.float32)
            t = (r_u - self.mu_ - (self.bi_[R_u.indices] if b else 0)).astype(
                np.float32
            )
            with _linalg_advice("ALS", f"training diverged at epoch {it}, users"):
                K.als_solve(R_u.indptr, R_u.indices, t, Y, X, self.reg, self.weighted)
            self.P_ = np.ascontiguousarray(X[:, :k])
            if b:
                self.bu_ = np.ascontiguousarray(X[:, k])
            # items: x_i = [q_i, b_i] against y_u = [p_u, 1], targets r - mu - b_u
            Y = np.ascontiguousarray(np.hstack([self.P_, ones[:m]]))
            X = np.empty((n, k + b), dtype=np.float32)
            t = (r_i - self.mu_ - (self.bu_[R_i.indices] if b else 0)).astype(
                np.float32
            )
            with _linalg_advice("ALS", f"training diverged at epoch {it}, items"):
                sse = K.als_solve(
                    R_i.indptr, R_i.indices, t, Y, X, self.reg, self.weighted
                )
            self.Q_ = np.ascontiguousarray(X[:, :k])
            if b:
                self.bi_ = np.ascontiguousarray(X[:, k])
            check_finite_loss(sse, it, "ALS", _ADVICE)
            check_finite_arrays(it, "ALS", _ADVICE, P=self.P_, Q=self.Q_)
            rec = {"epoch": it, "train_rmse": math.sqrt(sse / len(data))}
            self.history_.append(rec)
            if on_epoch is not None:
                on_epoch(self, it, rec)
            if self.verbose:
                print(f"iter {it}: train RMSE {rec['train_rmse']:.4f}")

    def _solve_side(self, side: str, R: CSR) -> dict[str, np.ndarray]:
        """The half-step of ``_fit`` for the rows of `R` alone: users against
        y_i = [q_i, 1] with targets r − μ − b_i (side "user"), or items against
        y_u = [p_u, 1] with targets r − μ − b_u ("item")."""
        fac, bias = ("P", "bu") if side == "item" else ("Q", "bi")
        k, b = self.k, int(self.biased)
        F = getattr(self, fac + "_")
        Y = np.ascontiguousarray(np.hstack([F, np.ones((len(F), b), dtype=np.float32)]))
        t = R.data - np.float32(self.mu_)
        if b:
            t = t - getattr(self, bias + "_")[R.indices]
        X = np.empty((R.n_rows, k + b), dtype=np.float32)
        with _linalg_advice("ALS", f"fold-in of {R.n_rows} {side}s"):
            get_kernels(self.backend).als_solve(
                R.indptr,
                R.indices,
                t.astype(np.float32),
                Y,
                X,
                self.reg,
                self.weighted,
            )
        names = ("Q", "bi") if side == "item" else ("P", "bu")
        vb = X[:, k] if b else np.zeros(R.n_rows, dtype=np.float32)
        return {names[0]: np.ascontiguousarray(X[:, :k]), names[1]: vb}

    def _explain_system(self, hist, vals, i):
        b = int(self.biased)
        Y_I = np.hstack([self.Q_[hist], np.ones((len(hist), b))]).astype(np.float64)
        lam = self.reg * len(hist) if self.weighted else self.reg
        A = Y_I.T @ Y_I + lam * np.eye(self.k + b)
        w = vals - self.mu_ - (self.bi_[hist] if b else 0.0)
        y_i = np.concatenate([self.Q_[i], np.ones(b)]).astype(np.float64)
        return Y_I, A, w.astype(np.float64), y_i

    def _meta_extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])


class ImplicitALS(_ALSServing):
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008) with the YᵀY trick.

    Parameters
    ----------
    k : int
        Number of latent factors.
    reg : float
        λ on every x_u and y_i (times the row's number of entries if `weighted`).
    alpha : float
        Confidence slope: c_ui = 1 + α r_ui (r_ui = 1 for implicit data).
    n_epochs : int
        Alternations (users, then items).
    weighted : bool
        Penalise row u by λ |I_u| (ALS-WR's weighted λ, Spark MLlib's implicit
        ALS) instead of λ.
    solver : {"cg", "cholesky"}
        Conjugate gradient warm-started at the previous factors (fast), or the exact
        per-row Cholesky solve.
    cg_steps : int
        CG steps per row and half-step (``solver="cg"``).
    init_std : float
        Standard deviation of the normal initialisation of both factor matrices.
    seed : int
        Seed of the initialisation.
    backend : str or None
        ``"numpy"`` | ``"numba"`` | ``"cuda"``; None: MINIREC_BACKEND or the best.
    verbose : bool
        Print the observed-entry loss after each iteration.

    Scores are x_u · y_i: a ranking, not a rating (``predicts_ratings = False``).
    Defaults tuned on a validation split of the NCF ML-1M training data (config
    ``ncf/implicit-als``).
    """

    name = "implicit-als"
    predicts_ratings = False
    iterative = True
    user_state = ("P",)
    item_state = ("Q",)

    def __init__(
        self,
        k: int = 64,
        reg: float = 0.5,
        alpha: float = 4.0,
        n_epochs: int = 15,
        weighted: bool = False,
        solver: str = "cg",
        cg_steps: int = 3,
        init_std: float = 0.01,
        seed: int = 0,
        backend: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.reg = check_nonnegative("reg", reg)
        self.alpha = check_nonnegative("alpha", alpha)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.weighted = bool(weighted)
        if solver not in ("cg", "cholesky"):
            raise ValueError(f"solver={solver!r}; choose 'cg' or 'cholesky'")
        self.solver = solver
        self.cg_steps = check_positive_int("cg_steps", cg_steps)
        self.init_std = check_nonnegative("init_std", init_std)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    def _half_step(self, K, R, conf, Y, X, solver=None) -> float:
        YtY = (Y.T.astype(np.float64) @ Y).astype(np.float32)  # once per half-step
        cg = (solver or self.solver) == "cg"

        def solve(indptr, indices, c, X, reg):
            if cg:
                return K.implicit_als_cg(
                    indptr, indices, c, Y, YtY, X, reg, self.cg_steps
                )
            return K.implicit_als_solve(indptr, indices, c, Y, YtY, X, reg)

        if not self.weighted:
            return solve(R.indptr, R.indices, conf, X, self.reg)
        # λ |I_u|: the kernels take one λ, so the rows are reordered by length and
        # each run of equal length (a contiguous slice of the reordered CSR) is
        # solved with its own λ
        lengths = np.diff(R.indptr)
        order = np.argsort(lengths, kind="stable")
        indptr = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths[order], out=indptr[1:])
        take = np.repeat(R.indptr[:-1][order] - indptr[:-1], lengths[order])
        take += np.arange(len(take))
        indices, c = R.indices[take], conf[take]
        Xs = X[order]
        cuts = np.flatnonzero(np.diff(lengths[order])) + 1
        loss = 0.0
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
            n_row = max(int(lengths[order[a]]), 1)  # an empty row's x is 0 anyway
            loss += solve(indptr[a : b + 1], indices, c, Xs[a:b], self.reg * n_row)
        X[order] = Xs
        return loss

    def _confidence(self, r: np.ndarray) -> np.ndarray:
        """c = 1 + α r, after checking r >= 0."""
        if np.any(r < 0):
            raise ValueError(
                "ImplicitALS: negative values in the interactions; confidences "
                "c = 1 + alpha * r need r >= 0 (counts, plays, or 1 for a click)"
            )
        return (1.0 + self.alpha * r).astype(np.float32)

    def _solve_side(self, side: str, R: CSR) -> dict[str, np.ndarray]:
        """The exact (Cholesky) half-step for the rows of `R` alone, whatever
        the solver of the fit: users against Q (side "user") or items against P."""
        Y = self.P_ if side == "item" else self.Q_
        X = np.empty((R.n_rows, self.k), dtype=np.float32)
        with _linalg_advice("ImplicitALS", f"fold-in of {R.n_rows} {side}s"):
            K = get_kernels(self.backend)
            self._half_step(K, R, self._confidence(R.data), Y, X, "cholesky")
        return {"Q" if side == "item" else "P": X}

    def _explain_system(self, hist, vals, i):
        Y_I = self.Q_[hist].astype(np.float64)
        c = self._confidence(vals).astype(np.float64)
        Q = self.Q_.astype(np.float64)
        lam = self.reg * len(hist) if self.weighted else self.reg
        A = Q.T @ Q + (Y_I.T * (c - 1.0)) @ Y_I + lam * np.eye(self.k)
        return Y_I, A, c, Q[i]

    def _fit(self, data: Interactions, on_epoch: Callable | None = None) -> None:
        K = get_kernels(self.backend)
        rng = as_rng(self.seed)
        R_u, R_i = data.by_user, data.by_item
        conf_u = self._confidence(R_u.data)
        conf_i = self._confidence(R_i.data)
        self.P_ = init_factors(rng, data.n_users, self.k, self.init_std)
        self.Q_ = init_factors(rng, data.n_items, self.k, self.init_std)
        self.history_: list[dict] = []
        for it in progress(range(1, self.n_epochs + 1), desc="iALS", unit="iter"):
            where = f"training diverged at epoch {it}"
            with _linalg_advice("ImplicitALS", where + ", users"):
                self._half_step(K, R_u, conf_u, self.Q_, self.P_)
            with _linalg_advice("ImplicitALS", where + ", items"):
                loss = self._half_step(K, R_i, conf_i, self.P_, self.Q_)
            check_finite_loss(loss, it, "ImplicitALS", _ADVICE)
            check_finite_arrays(it, "ImplicitALS", _ADVICE, P=self.P_, Q=self.Q_)
            rec = {"epoch": it, "observed_loss": loss}
            self.history_.append(rec)
            if on_epoch is not None:
                on_epoch(self, it, rec)
            if self.verbose:
                print(f"iter {it}: observed-entry loss {loss:.5g}")
