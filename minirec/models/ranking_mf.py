r"""RankingMF: a dot-product MF trained for ranking with logistic loss and sampled
negatives (Rendle, Krichene, Zhang, Anderson, "Neural Collaborative Filtering vs.
Matrix Factorization Revisited", RecSys 2020).

Score (a logit, not a rating)::

    ŷ(u, i) = b + b_u + b_i + p_u · q_i          P ∈ R^{m×k}, Q ∈ R^{n×k}

Training data: every observed (u, i) is a positive (y = 1; rating values are
ignored). Each epoch draws, for every positive, ``n_negatives`` items j uniformly
over *all* items (y = 0; no check against the user's positives, as in the paper),
shuffles the n (1 + n_negatives) labelled rows and makes one SGD pass (batch size
1) on the logistic loss with σ the logistic function::

    ℓ = −y ln σ(ŷ) − (1 − y) ln(1 − σ(ŷ))

With g = y − σ(ŷ) = −∂ℓ/∂ŷ, each row updates the parameters it touches, with an L2
penalty λ on each of them at every step (the old p_u is used for q_i)::

    p_u += η (g q_i − λ p_u);   q_i += η (g p_u − λ q_i)
    b_u += η (g − λ b_u);       b_i += η (g − λ b_i);     b += η (g − λ b)

Initialisation P, Q ~ N(0, ``init_std``²), biases 0. Cost per epoch
O(|R| (1 + n_negatives) k) time, O((m + n) k) memory: 9M steps on the NCF ML-1M
training data with 8 negatives. The paper's ML-1M settings: η = 0.002, λ = 0.005,
8 negatives, 256 epochs, k from 16 to 192 (larger is better; k = 192 gives HR@10
≈ 0.73 on the NCF files). Our tuned defaults are in the class docstring.

Negatives and the shuffle seed are drawn by a seeded NumPy Generator outside the
kernel (:func:`draw_epoch`; the rows are shuffled by the backend's
``shuffle_ratings``, one permutation for both backends), so the ``numpy`` spec and
the ``numba`` twin of :mod:`minirec.backends.numpy_ops.ranking` apply exactly the same
updates. ``hogwild=True``
runs the Numba kernel lock-free on all Numba threads (nondeterministic).

Compared with :class:`~minirec.models.bpr.BPR` (pairwise, negatives rejected if
seen, no user/global bias) this is pointwise; for ranking one user's items, b and
b_u shift all scores equally, but they absorb the label base rate during training.
"""

from __future__ import annotations

from collections.abc import Callable

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
from ..errors import BackendUnavailableError
from .factor import (
    FactorModel,
    check_backend,
    init_factors,
    sgd_fold_in,
    shuffled_by_user,
)

_ADVICE = "lower lr (e.g. divide it by 10) or raise reg"


def base_rows(
    users: np.ndarray, items: np.ndarray, n_negatives: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The n (1 + m) rows of an epoch, unshuffled: the n positives (label 1), then
    m copies of their users (label 0) whose items :func:`draw_epoch` fills in.
    Returns (users, items, labels) as int32, int32, float32."""
    n, m = len(users), n_negatives
    ru = np.tile(np.asarray(users, dtype=np.int32), 1 + m)
    ri = np.zeros(n * (1 + m), dtype=np.int32)
    ri[:n] = items
    ry = np.zeros(n * (1 + m), dtype=np.float32)
    ry[:n] = 1.0
    return ru, ri, ry


def draw_epoch(
    rng: np.random.Generator,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_pos: int,
    n_items: int,
    shuffle: Callable,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """One epoch's samples: the items of the negative rows (``rows[1][n_pos:]``,
    overwritten) drawn uniformly over all `n_items`, then all rows written into
    `out` in a uniformly random order by `shuffle` (the kernel backend's
    ``shuffle_ratings``, the same permutation for numpy and numba) with a seed
    drawn from `rng`."""
    ru, ri, ry = rows
    ri[n_pos:] = rng.integers(0, n_items, size=len(ri) - n_pos, dtype=np.int32)
    shuffle(ru, ri, ry, int(rng.integers(2**63)), *out)


def _kernel_backend(backend: str | None) -> str:
    """ "numpy" or "numba" for a ``backend=`` argument (None: MINIREC_BACKEND, then
    the best available); BackendUnavailableError for cuda or a missing numba."""
    name = resolve_backend(backend)
    if name == "cuda":
        raise BackendUnavailableError(
            "RankingMF has no CUDA kernel yet; use backend='numba' (or 'numpy')"
        )
    get_kernels(name)  # raises with the install command when numba is missing
    return name


class RankingMF(FactorModel):
    """Dot-product MF with biases, trained by per-example SGD on logistic loss with
    ``n_negatives`` uniformly sampled negatives per positive and epoch.

    Parameters
    ----------
    k : int
        Number of latent factors.
    lr : float
        Learning rate η (constant).
    reg : float
        L2 penalty λ on every parameter touched by a step (p_u, q_i, b_u, b_i, b).
    n_negatives : int
        Negatives sampled per positive and epoch.
    n_epochs : int
        Passes over the n (1 + n_negatives) rows, each with fresh negatives.
    init_std : float
        Standard deviation of the normal initialisation of P and Q.
    hogwild : bool
        Lock-free parallel kernel (Numba threads; nondeterministic).
    seed : int
        Seed of the initialisation, the negatives and the shuffles.
    backend : str or None
        ``"numpy"`` (the spec; slow) | ``"numba"``; None: MINIREC_BACKEND or the
        best available.
    verbose : bool
        Print the mean logistic loss of each epoch.

    Defaults: the paper's ML-1M settings with its largest dimension, k = 192
    (checked on a validation split of the NCF ML-1M training data; config
    ``ncf/ranking-mf``). An epoch is 9M steps there: a few seconds of one core at
    k = 192.
    """

    name = "ranking-mf"
    predicts_ratings = False
    factor_state = ("P", "Q", "bu", "bi", "b")
    user_state = ("P", "bu")
    iterative = True

    def __init__(
        self,
        k: int = 192,
        lr: float = 0.002,
        reg: float = 0.005,
        n_negatives: int = 8,
        n_epochs: int = 256,
        init_std: float = 0.1,
        hogwild: bool = False,
        seed: int = 0,
        backend: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_negatives = check_positive_int("n_negatives", n_negatives)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.init_std = check_nonnegative("init_std", init_std)
        self.hogwild = bool(hogwild)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        _kernel_backend(self.backend)  # raises early for cuda or a missing numba
        self.verbose = bool(verbose)

    def _kernels(self) -> tuple[Callable, Callable]:
        """(SGD epoch kernel, shuffle) of the backend, resolved at fit time."""
        K = get_kernels(_kernel_backend(self.backend))
        epoch_fn = (
            K.sgd_logistic_mf_epoch_hogwild if self.hogwild else K.sgd_logistic_mf_epoch
        )
        return epoch_fn, K.shuffle_ratings

    def _fit(self, data: Interactions, on_epoch: Callable | None = None) -> None:
        epoch_fn, shuffle = self._kernels()
        rng = as_rng(self.seed)
        n = len(data)
        rows = base_rows(data.users, data.items, self.n_negatives)
        out = tuple(np.empty_like(a) for a in rows)
        n_rows = len(rows[0])
        order = np.arange(n_rows, dtype=np.int32 if n_rows < 2**31 else np.int64)
        self.P_ = init_factors(rng, data.n_users, self.k, self.init_std)
        self.Q_ = init_factors(rng, data.n_items, self.k, self.init_std)
        self.bu_ = np.zeros(data.n_users, dtype=np.float32)
        self.bi_ = np.zeros(data.n_items, dtype=np.float32)
        self.b_ = np.zeros(1, dtype=np.float32)
        self.history_: list[dict] = []
        for epoch in progress(
            range(1, self.n_epochs + 1), desc="RankingMF", unit="epoch"
        ):
            draw_epoch(rng, rows, n, data.n_items, shuffle, out)
            loss = epoch_fn(
                *out,
                order,
                self.P_,
                self.Q_,
                self.bu_,
                self.bi_,
                self.b_,
                self.lr,
                self.reg,
            )
            check_finite_loss(loss, epoch, "RankingMF", _ADVICE)
            check_finite_arrays(
                epoch, "RankingMF", _ADVICE, P=self.P_, Q=self.Q_, b=self.b_
            )
            rec = {"epoch": epoch, "log_loss": loss / n_rows}
            self.history_.append(rec)
            if on_epoch is not None:
                on_epoch(self, epoch, rec)
            if self.verbose:
                print(f"epoch {epoch}: mean logistic loss {loss / n_rows:.5f}")

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        """SGD on p_u and b_u alone, Q, b_i and b frozen: ``n_epochs`` epochs over
        the user's positives and ``n_negatives`` uniform negatives per positive,
        in a fresh order each, as in training. Starts from 0. Costs
        n_epochs (1 + n_negatives) |I_u| small vector steps for the longest
        history (all users step together)."""
        B, n, m = rows.n_rows, len(self.item_ids_), self.n_negatives
        P = np.zeros((B, self.k), dtype=np.float32)
        bu = np.zeros(B, dtype=np.float32)
        user = np.tile(np.repeat(np.arange(B), rows.lengths()), 1 + m)
        labels = np.zeros(len(user), dtype=np.float32)
        labels[: rows.indptr[-1]] = 1.0
        items = np.tile(rows.indices.astype(np.int64), 1 + m)
        Q, bi, b0 = self.Q_, self.bi_, np.float32(self.b_[0])
        rng = as_rng(self.seed)

        def step(b, i, y, lr):
            p, q = P[b], Q[i]
            s = b0 + bu[b] + bi[i] + np.einsum("ij,ij->i", p, q)
            g = y - 0.5 * (1.0 + np.tanh(0.5 * s))  # y - σ(s)
            P[b] = p + lr * (g[:, None] * q - self.reg * p)
            bu[b] += lr * (g - self.reg * bu[b])

        def epochs():
            for _ in range(self.n_epochs):
                items[rows.indptr[-1] :] = rng.integers(
                    0, n, len(items) - rows.indptr[-1]
                )
                yield (*shuffled_by_user(user, items, labels, B, rng), self.lr)

        sgd_fold_in(epochs(), step)
        return {"P": P, "bu": bu}
