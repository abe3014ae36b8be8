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
with CG.
"""

from __future__ import annotations

import math

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
from ..data.interactions import Interactions
from .factor import FactorModel, check_backend, init_factors

_ADVICE = "raise reg (it keeps the per-row systems well conditioned) or lower k"


class ALS(FactorModel):
    """Explicit-feedback ALS with weighted-λ regularization (ALS-WR) and biases.

    Parameters
    ----------
    k : int
        Number of latent factors.
    reg : float
        λ; the penalty of row u is λ |I_u| (``weighted=True``) or λ.
    n_iters : int
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

    Defaults tuned for ML-1M on a validation split (benchmarks/accuracy_classic.py).
    """

    name = "als"
    predicts_ratings = True
    factor_state = ("P", "Q", "bu", "bi")
    iterative = True

    def __init__(
        self,
        k: int = 64,
        reg: float = 0.08,
        n_iters: int = 15,
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
        self.n_iters = check_positive_int("n_iters", n_iters)
        self.weighted = bool(weighted)
        self.biased = bool(biased)
        self.init_std = check_nonnegative("init_std", init_std)
        self.clip = bool(clip)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    def _fit(self, data: Interactions) -> None:
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
        for it in progress(range(1, self.n_iters + 1), desc="ALS", unit="iter"):
            # users: x_u = [p_u, b_u] against y_i = [q_i, 1], targets r - mu - b_i
            Y = np.ascontiguousarray(np.hstack([self.Q_, ones[:n]]))
            X = np.empty((m, k + b), dtype=np.float32)
            t = (r_u - self.mu_ - (self.bi_[R_u.indices] if b else 0)).astype(
                np.float32
            )
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
            sse = K.als_solve(R_i.indptr, R_i.indices, t, Y, X, self.reg, self.weighted)
            self.Q_ = np.ascontiguousarray(X[:, :k])
            if b:
                self.bi_ = np.ascontiguousarray(X[:, k])
            check_finite_loss(sse, it, "ALS", _ADVICE)
            check_finite_arrays(it, "ALS", _ADVICE, P=self.P_, Q=self.Q_)
            rec = {"iter": it, "train_rmse": math.sqrt(sse / len(data))}
            self.history_.append(rec)
            if self.verbose:
                print(f"iter {it}: train RMSE {rec['train_rmse']:.4f}")

    def _meta_extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])


class ImplicitALS(FactorModel):
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008) with the YᵀY trick.

    Parameters
    ----------
    k : int
        Number of latent factors.
    reg : float
        λ on every x_u and y_i.
    alpha : float
        Confidence slope: c_ui = 1 + α r_ui (r_ui = 1 for implicit data).
    n_iters : int
        Alternations (users, then items).
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
    Defaults tuned on a validation split of the NCF ML-1M training data
    (benchmarks/accuracy_classic.py).
    """

    name = "implicit-als"
    predicts_ratings = False
    iterative = True

    def __init__(
        self,
        k: int = 64,
        reg: float = 0.5,
        alpha: float = 4.0,
        n_iters: int = 15,
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
        self.n_iters = check_positive_int("n_iters", n_iters)
        if solver not in ("cg", "cholesky"):
            raise ValueError(f"solver={solver!r}; choose 'cg' or 'cholesky'")
        self.solver = solver
        self.cg_steps = check_positive_int("cg_steps", cg_steps)
        self.init_std = check_nonnegative("init_std", init_std)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    def _half_step(self, K, R, conf, Y, X) -> float:
        YtY = (Y.T.astype(np.float64) @ Y).astype(np.float32)  # once per half-step
        if self.solver == "cg":
            return K.implicit_als_cg(
                R.indptr, R.indices, conf, Y, YtY, X, self.reg, self.cg_steps
            )
        return K.implicit_als_solve(R.indptr, R.indices, conf, Y, YtY, X, self.reg)

    def _fit(self, data: Interactions) -> None:
        K = get_kernels(self.backend)
        rng = as_rng(self.seed)
        if np.any(data.ratings < 0):
            raise ValueError(
                "ImplicitALS: negative values in the interactions; confidences "
                "c = 1 + alpha * r need r >= 0 (counts, plays, or 1 for a click)"
            )
        R_u, R_i = data.by_user, data.by_item
        conf_u = (1.0 + self.alpha * R_u.data).astype(np.float32)
        conf_i = (1.0 + self.alpha * R_i.data).astype(np.float32)
        self.P_ = init_factors(rng, data.n_users, self.k, self.init_std)
        self.Q_ = init_factors(rng, data.n_items, self.k, self.init_std)
        self.history_: list[dict] = []
        for it in progress(range(1, self.n_iters + 1), desc="iALS", unit="iter"):
            self._half_step(K, R_u, conf_u, self.Q_, self.P_)
            loss = self._half_step(K, R_i, conf_i, self.P_, self.Q_)
            check_finite_loss(loss, it, "ImplicitALS", _ADVICE)
            check_finite_arrays(it, "ImplicitALS", _ADVICE, P=self.P_, Q=self.Q_)
            self.history_.append({"iter": it, "observed_loss": loss})
            if self.verbose:
                print(f"iter {it}: observed-entry loss {loss:.5g}")
