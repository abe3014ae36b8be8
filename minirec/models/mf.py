r"""Matrix factorization by SGD: Funk SVD and biased MF (Koren, Bell, Volinsky 2009).

Prediction rule (biased; Funk SVD drops μ, b_u, b_i)::

    r̂_ui = μ + b_u + b_i + p_u · q_i          P ∈ R^{m×k}, Q ∈ R^{n×k}

Loss over the observed ratings R (document 000 §4.1 in row-vector form)::

    L = ½ Σ_{(u,i)∈R} e_ui² + λ/2 (‖p_u‖² + ‖q_i‖²) + λ_b/2 (b_u² + b_i²),
    e_ui = r_ui − r̂_ui

Gradient of one term (note the minus sign on the error: erratum E1 of document 000
prints it with a plus)::

    ∂L/∂p_u = −e_ui q_i + λ p_u, ∂L/∂q_i = −e_ui p_u + λ q_i, ∂L/∂b_u = −e_ui + λ_b b_u

SGD update per rating, in a freshly shuffled order each epoch (Funk 2006; Surprise's
``SVD`` keeps one fixed order instead), with q_i using p_u from *before* its own
update::

    b_u += η (e − λ_b b_u);  b_i += η (e − λ_b b_i)
    p_u += η (e q_i − λ p_u); q_i += η (e p_u − λ q_i)

η is multiplied by ``lr_decay`` after every epoch. Cost per epoch O(|R| k) time and
O((m + n) k) memory; the loop is the kernel ``sgd_mf_epoch`` of the chosen backend
(``numpy`` = the readable spec, ``numba`` = compiled; ``hogwild=True`` runs it
lock-free on all Numba threads, Niu et al. 2011, which is *not* reproducible bit for
bit, over one uniform order or, with ``blocks``, over the DSGD grid; ``dsgd=True``
runs it on all threads without races, Gemulla et al. 2011).
With ``early_stopping`` a validation part is carved from the training data,
its RMSE is measured after each epoch and the best epoch's parameters are kept.
The shuffle is the kernel ``shuffle_ratings``: the triples are copied in a new
uniform order drawn from the seed (the same for every backend), and the SGD kernel
reads them front to back.

References: S. Funk, "Netflix Update: Try This at Home", 2006; Y. Koren, R. Bell,
C. Volinsky, "Matrix Factorization Techniques for Recommender Systems", IEEE
Computer 2009.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._utils import (
    as_rng,
    check_finite_arrays,
    check_finite_loss,
    check_nonnegative,
    check_positive,
    check_positive_int,
    progress,
)
from ..backends import get_kernels, resolve_backend
from ..data.interactions import CSR, Interactions
from .factor import (
    FactorModel,
    check_backend,
    host_kernels,
    init_factors,
    sgd_fold_in,
    shuffled_by_user,
)

_LR_ADVICE = (
    "the learning rate is too large for these ratings: lower lr (e.g. divide it by "
    "10) or raise reg"
)


def _numba_threads() -> int:
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:
        return 1


class MF(FactorModel):
    """Matrix factorization trained by SGD (biased MF by default, Funk SVD with
    ``biased=False``).

    Parameters
    ----------
    k : int
        Number of latent factors.
    lr : float
        Learning rate η.
    reg : float
        L2 penalty λ on the factors p_u, q_i.
    reg_bias : float
        L2 penalty λ_b on the biases b_u, b_i.
    n_epochs : int
        Passes over the training ratings (the most, with early stopping).
    lr_decay : float
        η is multiplied by this after every epoch (1.0 = constant).
    biased : bool
        Learn μ + b_u + b_i as well (False: Funk SVD, r̂ = p_u·q_i).
    init_std : float
        Standard deviation of the normal initialisation of P and Q.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training ratings (seeded), stop when
        their RMSE has not improved for ``patience`` epochs, keep the best epoch.
    validation_fraction : float
        Share of the training ratings held out for early stopping.
    patience : int
        Epochs without improvement before stopping.
    clip : bool
        Clip predicted ratings to the training rating range (ranking scores from
        ``recommend`` are never clipped, so they keep their order).
    hogwild : bool
        Use the lock-free parallel kernel (Hogwild!, Niu et al. 2011; Numba threads;
        nondeterministic). Without ``blocks`` the threads split one uniform order,
        which scales poorly: all threads write every row of P and Q in turn and its
        cache lines move between the cores. With ``blocks=B`` it runs over the DSGD
        grid instead: each thread owns a share of the B user blocks and walks the
        strata without barriers (rows of Q are shared only when the threads drift
        apart), about as fast as ``dsgd=True`` (benchmarks/results/kernels.md).
    dsgd : bool
        Parallel SGD without races (DSGD, Gemulla et al. 2011): users and items are
        each cut into ``blocks`` ranges, and the threads work on blocks that share
        no row. Reproducible bit for bit for a given ``blocks``; the epoch visits
        the ratings stratum by stratum (shuffled inside each) instead of in one
        uniform order. Faster than uniform-order Hogwild on a multi-core CPU,
        as fast as Hogwild over the same grid (benchmarks/results/kernels.md).
    blocks : int or None
        Number of DSGD ranges of users and of items (None: Numba's thread count).
        The result depends on it, not on the thread count. More blocks than threads
        is allowed (each thread then takes several blocks of a stratum in turn) and
        makes the rows a block touches fit the CPU cache: on one thread,
        ``dsgd=True, blocks=8`` is a cache-blocked serial schedule, faster than the
        uniform order, to the same RMSE (benchmarks/results/kernels.md,
        benchmarks/mf_schedules.py). Needs ``dsgd=True`` or ``hogwild=True``
        (there: the Hogwild grid, whose result is not reproducible). The old name
        ``threads`` is still accepted, and model files saved with it still load.
    seed : int
        Seed of the initialisation, the shuffles and the validation split.
    backend : str or None
        Kernel backend ``"numpy"`` | ``"numba"`` | ``"cuda"``; None picks
        ``MINIREC_BACKEND`` or the best available.
    verbose : bool
        Print the loss of every epoch.

    The defaults are the ``"ml-1m"`` preset; ``MF.from_preset("ml-100k")`` gives
    the values tuned for ML-100k (both tuned on validation splits carved from the
    training part; configs ``rating/ml1m-mf`` and ``rating/ml100k-mf``).
    """

    name = "mf"
    predicts_ratings = True
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    meta_schema = {
        "mu": "float",
        "rating_range": "float (2,)",
        "best_epoch": "int optional",
    }

    factor_state = ("P", "Q", "bu", "bi")
    user_state = ("P", "bu")
    iterative = True
    renamed_params: ClassVar[dict[str, str]] = {"threads": "blocks"}
    #: hyperparameters tuned on a validation split carved from the training part
    #: (configs rating/ml1m-mf, rating/ml100k-mf); "ml-1m" = defaults
    PRESETS: ClassVar[dict[str, dict]] = {
        "ml-1m": {
            "k": 128,
            "lr": 0.005,
            "reg": 0.03,
            "n_epochs": 60,
            "lr_decay": 0.97,
            "init_std": 0.02,
        },
        "ml-100k": {
            "k": 100,
            "lr": 0.01,
            "reg": 0.1,
            "n_epochs": 100,
            "lr_decay": 0.98,
            "init_std": 0.05,
        },
    }

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> MF:
        """An MF with the tuned hyperparameters of `name` (see :attr:`PRESETS`),
        any of them replaced by `overrides` (e.g. ``backend="numpy"``)."""
        if name not in cls.PRESETS:
            raise ValueError(
                f"unknown preset {name!r}; choose one of {', '.join(cls.PRESETS)}"
            )
        return cls(**{**cls.PRESETS[name], **overrides})

    def __init__(
        self,
        k: int = 128,
        lr: float = 0.005,
        reg: float = 0.03,
        reg_bias: float = 0.02,
        n_epochs: int = 60,
        lr_decay: float = 0.97,
        biased: bool = True,
        init_std: float = 0.02,
        early_stopping: bool = False,
        validation_fraction: float = 0.05,
        patience: int = 3,
        clip: bool = True,
        hogwild: bool = False,
        dsgd: bool = False,
        blocks: int | None = None,
        seed: int = 0,
        backend: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.reg_bias = check_nonnegative("reg_bias", reg_bias)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.lr_decay = check_positive("lr_decay", lr_decay)
        self.biased = bool(biased)
        self.init_std = check_nonnegative("init_std", init_std)
        self.early_stopping = bool(early_stopping)
        self.validation_fraction = check_positive(
            "validation_fraction", validation_fraction
        )
        if self.validation_fraction >= 1:
            raise ValueError(
                f"validation_fraction={validation_fraction!r}: must be in (0, 1)"
            )
        self.patience = check_positive_int("patience", patience)
        self.clip = bool(clip)
        self.hogwild = bool(hogwild)
        self.dsgd = bool(dsgd)
        if self.hogwild and self.dsgd:
            raise ValueError("hogwild=True and dsgd=True: choose one parallel scheme")
        self.blocks = None if blocks is None else check_positive_int("blocks", blocks)
        if self.blocks is not None and not (self.dsgd or self.hogwild):
            raise ValueError(
                f"blocks={blocks!r} sets the grid of dsgd=True or hogwild=True: pass "
                "one of them with it (blocks=None for the uniform serial order)"
            )
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    # ------------------------------------------------------------------ training
    def _fit(self, data: Interactions, on_epoch: Callable | None = None) -> None:
        K = get_kernels(self.backend)
        rng = as_rng(self.seed)
        n_users, n_items = data.n_users, data.n_items
        rows = np.arange(len(data))
        val_rows = None
        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * len(data))))
            if n_val >= len(data):
                raise ValueError(
                    f"MF: {len(data)} ratings are too few to hold out "
                    f"validation_fraction={self.validation_fraction}"
                )
            perm = rng.permutation(len(data))
            val_rows, rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        users = np.ascontiguousarray(data.users[rows])
        items = np.ascontiguousarray(data.items[rows])
        ratings = np.ascontiguousarray(data.ratings[rows])
        n = len(users)
        self.mu_ = float(ratings.astype(np.float64).mean()) if self.biased else 0.0
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self.P_ = init_factors(rng, n_users, self.k, self.init_std)
        self.Q_ = init_factors(rng, n_items, self.k, self.init_std)
        self.bu_ = np.zeros(n_users, dtype=np.float32)
        self.bi_ = np.zeros(n_items, dtype=np.float32)
        # the shuffle runs on the host: the spec with backend="numpy", else Numba's
        # twin (same permutation for the same seed)
        H = K if resolve_backend(self.backend) != "cuda" else host_kernels()
        su, si, sr = np.empty_like(users), np.empty_like(items), np.empty_like(ratings)
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)  # identity
        if self.dsgd or (self.hogwild and self.blocks is not None):
            if resolve_backend(self.backend) == "cuda":
                what = (
                    "dsgd=True" if self.dsgd else f"hogwild=True, blocks={self.blocks}"
                )
                raise ValueError(
                    f"MF({what}) needs backend 'numpy' or 'numba', not 'cuda'; use "
                    "hogwild=True without blocks on the GPU"
                )
            grid_epoch = (
                K.sgd_mf_epoch_strata if self.dsgd else K.sgd_mf_epoch_hogwild_strata
            )
            T = self.blocks or _numba_threads()
            perm, bounds = K.strata_layout(users, items, n_users, n_items, T)
            users, items, ratings = users[perm], items[perm], ratings[perm]

            def shuffle(u, i, r, seed, *out):  # within each stratum
                H.shuffle_ratings_blocks(u, i, r, bounds, seed, *out)

            def epoch_fn(u, i, r, o, *rest):
                return grid_epoch(u, i, r, o, bounds, *rest)

        else:
            shuffle = H.shuffle_ratings
            epoch_fn = K.sgd_mf_epoch_hogwild if self.hogwild else K.sgd_mf_epoch
        lr = self.lr
        self.history_: list[dict] = []
        best, best_state, bad = math.inf, None, 0
        self.best_epoch_ = self.n_epochs
        for epoch in progress(range(1, self.n_epochs + 1), desc="MF", unit="epoch"):
            # a new uniform order each epoch: the triples are copied shuffled, and
            # the kernel reads them front to back
            shuffle(users, items, ratings, int(rng.integers(2**63)), su, si, sr)
            loss = epoch_fn(
                su,
                si,
                sr,
                order,
                self.P_,
                self.Q_,
                self.bu_,
                self.bi_,
                self.mu_,
                lr,
                self.reg,
                self.reg_bias,
                self.biased,
            )
            check_finite_loss(loss, epoch, "MF", _LR_ADVICE + f" (lr was {lr:g})")
            check_finite_arrays(epoch, "MF", _LR_ADVICE, P=self.P_, Q=self.Q_)
            rec = {"epoch": epoch, "train_rmse": math.sqrt(loss / n), "lr": lr}
            if val_rows is not None:
                vu, vi = data.users[val_rows], data.items[val_rows]
                err = data.ratings[val_rows] - self._predict_pairs(vu, vi)
                rec["val_rmse"] = float(np.sqrt(np.mean(err.astype(np.float64) ** 2)))
                if rec["val_rmse"] < best - 1e-6:
                    best, bad, self.best_epoch_ = rec["val_rmse"], 0, epoch
                    best_state = [
                        a.copy() for a in (self.P_, self.Q_, self.bu_, self.bi_)
                    ]
                else:
                    bad += 1
            self.history_.append(rec)
            if on_epoch is not None:
                on_epoch(self, epoch, rec)
            if self.verbose:
                print(", ".join(f"{k}={v:.5g}" for k, v in rec.items()))
            if val_rows is not None and bad >= self.patience:
                break
            lr *= self.lr_decay
        if best_state is not None:
            self.P_, self.Q_, self.bu_, self.bi_ = best_state

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        """SGD on p_u (and b_u) alone, Q and b_i frozen: the training schedule for
        these users (as many epochs as the fit kept, each over the user's ratings
        in a fresh order, the same η and decay), starting from 0."""
        B = rows.n_rows
        P = np.zeros((B, self.k), dtype=np.float32)
        bu = np.zeros(B, dtype=np.float32)
        Q, bi, mu = self.Q_, self.bi_, np.float32(self.mu_)
        user = np.repeat(np.arange(B), rows.lengths())
        rng = as_rng(self.seed)

        def step(b, i, r, lr):
            p, q = P[b], Q[i]
            e = r - np.einsum("ij,ij->i", p, q)
            if self.biased:
                e -= mu + bu[b] + bi[i]
                bu[b] += lr * (e - self.reg_bias * bu[b])
            P[b] = p + lr * (e[:, None] * q - self.reg * p)

        def epochs():
            lr = self.lr
            for _ in range(self.best_epoch_ or self.n_epochs):
                yield (*shuffled_by_user(user, rows.indices, rows.data, B, rng), lr)
                lr *= self.lr_decay

        sgd_fold_in(epochs(), step)
        return {"P": P, "bu": bu}

    def _meta_extra(self) -> dict:
        return {
            "mu": self.mu_,
            "rating_range": list(self.rating_range_),
            "best_epoch": self.best_epoch_,
        }

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])
        self.best_epoch_ = extra.get("best_epoch")
