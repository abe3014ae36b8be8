r"""BPR: Bayesian personalized ranking of a dot-product MF (Rendle et al., UAI 2009).

Score (ranking only, not a rating)::

    x̂_ui = p_u · q_i + b_i

BPR-Opt: a user should rank an item they interacted with (i ∈ I_u⁺) above one they
did not (j ∉ I_u⁺); with x̂_uij = x̂_ui − x̂_uj and σ the logistic function::

    L = Σ_{(u,i,j)} −ln σ(x̂_uij) + λ/2 (‖p_u‖² + ‖q_i‖² + ‖q_j‖²) + λ_b/2 (b_i² + b_j²)

Gradient: ∂(−ln σ(x))/∂x = −σ(−x) =: −g, so one SGD step on a sampled triple is::

    p_u += η (g (q_i − q_j) − λ p_u)
    q_i += η (g p_u − λ q_i);   q_j += η (−g p_u − λ q_j)
    b_i += η (g − λ_b b_i);     b_j += η (−g − λ_b b_j)

Sampling (LearnBPR, bootstrap): an epoch draws ``samples_per_epoch`` (default |R|)
observed pairs (u, i) uniformly with replacement and, for each, a negative j uniformly
among the items u has not interacted with (rejection sampling). Samples are drawn
with a seeded NumPy Generator outside the kernel ``bpr_epoch``, so the numpy and numba
backends see the same triples; a candidate j is tested in a bit-packed users x items
bitmap (up to 2^34 cells, 2 GiB) or else by a binary search in u's sorted row of
``data.by_user`` (:mod:`minirec.models._sampling`, Numba, with a NumPy spec that
draws the same triples). Cost per epoch O(samples · k).
``hogwild=True`` runs the kernel lock-free on all Numba threads (nondeterministic).
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
from ..backends import get_kernels
from ..data.interactions import CSR, Interactions
from ._sampling import pack_bits, sample_triples_csr, sample_triples_numpy
from .factor import (
    FactorModel,
    check_backend,
    init_factors,
    sgd_fold_in,
    shuffled_by_user,
)

_ADVICE = "lower lr (e.g. divide it by 10) or raise reg"


#: n_users * n_items up to which BPR tests membership in a bit-packed bitmap
#: (:func:`~minirec.models._sampling.pack_bits`, at most 2 GiB); above it, by a
#: binary search in the user's CSR row
_BITMAP_MAX = 2**34
_BOOL_BITMAP_MAX = 64_000_000  # cells up to which seen_index adds a bool bitmap


def seen_index(data: Interactions) -> tuple[np.ndarray, np.ndarray | None]:
    """The NumPy spec's index: the sorted keys u * n_items + i of the observed pairs
    and, when the matrix has at most 64M cells, a boolean bitmap over the keys (a
    gather per test instead of a binary search)."""
    seen = data.by_user
    user_of = np.repeat(np.arange(data.n_users, dtype=np.int64), seen.lengths())
    keys = user_of * data.n_items + seen.indices  # sorted: CSR rows, sorted columns
    bitmap = None
    if data.n_users * data.n_items <= _BOOL_BITMAP_MAX:
        bitmap = np.zeros(data.n_users * data.n_items, dtype=bool)
        bitmap[keys] = True
    return keys, bitmap


def sample_triples(
    rng: np.random.Generator,
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    n_samples: int,
    seen: CSR | np.ndarray,
    bitmap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform BPR triples (u, i, j): (u, i) drawn from the observed pairs, j uniform
    over the items u has not seen (rejection sampling).

    `seen` says which items each user has seen: either a :class:`CSR` with one row
    per user (its sorted items; e.g. ``data.by_user``), tested in Numba by a bit of
    `bitmap` (``pack_bits(seen.indptr, seen.indices, n_items)``, optional) or else
    by a binary search in the row; or the sorted array u * n_items + i of all
    observed pairs, tested by the NumPy spec (``np.searchsorted``, or a gather in
    `bitmap`, bool from :func:`seen_index` or bit-packed). The draws do not depend
    on which test is used (:mod:`minirec.models._sampling`). Raises ValueError if
    some sampled user has seen every item."""
    if isinstance(seen, CSR):
        return sample_triples_csr(
            rng, users, items, n_items, n_samples, seen.indptr, seen.indices, bitmap
        )
    return sample_triples_numpy(rng, users, items, n_items, n_samples, seen, bitmap)


def _check_negatives_exist(data: Interactions) -> None:
    """A clear error up front if some user has interacted with every item: such a
    user has no negative j to sample."""
    seen = data.by_user
    lengths = seen.lengths()
    full = [
        u
        for u in np.flatnonzero(lengths >= data.n_items)
        if len(np.unique(seen.row(u))) == data.n_items
    ]
    if full and len(full) == np.count_nonzero(lengths):
        raise ValueError("BPR: every user has seen every item; nothing to rank")
    if full:
        raise ValueError(
            f"BPR: {len(full)} user(s) interacted with all {data.n_items} items "
            f"(e.g. user id {data.user_ids[full[0]]!r}), so no negative item can be "
            "sampled for them; drop such users from the training data"
        )


class BPR(FactorModel):
    """Matrix factorization trained with the BPR pairwise ranking loss.

    Parameters
    ----------
    k : int
        Number of latent factors.
    lr : float
        Learning rate η.
    reg : float
        λ on p_u, q_i, q_j.
    reg_bias : float
        λ_b on the item biases.
    n_epochs : int
        Epochs of ``samples_per_epoch`` triples each.
    samples_per_epoch : int or None
        Triples per epoch; None means the number of training interactions.
    item_bias : bool
        Learn b_i (False: pure dot product).
    init_std : float
        Standard deviation of the normal initialisation of P and Q.
    hogwild : bool
        Lock-free parallel kernel (Numba threads; nondeterministic).
    seed : int
        Seed of the initialisation and of the sampling.
    backend : str or None
        ``"numpy"`` | ``"numba"`` | ``"cuda"``; None: MINIREC_BACKEND or the best.
    verbose : bool
        Print the mean BPR loss of each epoch.

    Defaults tuned on a validation split of the NCF ML-1M training data (config
    ``ncf/bpr``).
    """

    name = "bpr"
    predicts_ratings = False
    factor_state = ("P", "Q", "bi")
    iterative = True

    def __init__(
        self,
        k: int = 128,
        lr: float = 0.05,
        reg: float = 0.005,
        reg_bias: float = 0.005,
        n_epochs: int = 60,
        samples_per_epoch: int | None = None,
        item_bias: bool = True,
        init_std: float = 0.1,
        hogwild: bool = False,
        seed: int = 0,
        backend: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.reg_bias = check_nonnegative("reg_bias", reg_bias)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.samples_per_epoch = (
            None
            if samples_per_epoch is None
            else check_positive_int("samples_per_epoch", samples_per_epoch)
        )
        self.item_bias = bool(item_bias)
        self.init_std = check_nonnegative("init_std", init_std)
        self.hogwild = bool(hogwild)
        self.seed = int(seed)
        self.backend = check_backend(backend)
        self.verbose = bool(verbose)

    def _fit(self, data: Interactions, on_epoch: Callable | None = None) -> None:
        K = get_kernels(self.backend)
        rng = as_rng(self.seed)
        n_items = data.n_items
        seen = data.by_user
        _check_negatives_exist(data)
        bits = None
        if data.n_users * n_items <= _BITMAP_MAX:
            bits = pack_bits(seen.indptr, seen.indices, n_items)
        users = np.ascontiguousarray(data.users)
        items = np.ascontiguousarray(data.items)
        self.P_ = init_factors(rng, data.n_users, self.k, self.init_std)
        self.Q_ = init_factors(rng, n_items, self.k, self.init_std)
        self.bi_ = np.zeros(n_items, dtype=np.float32)
        n_s = self.samples_per_epoch or len(data)
        rb = self.reg_bias if self.item_bias else 0.0
        epoch_fn = K.bpr_epoch_hogwild if self.hogwild else K.bpr_epoch
        self.history_: list[dict] = []
        for epoch in progress(range(1, self.n_epochs + 1), desc="BPR", unit="epoch"):
            u, i, j = sample_triples(rng, users, items, n_items, n_s, seen, bits)
            if self.item_bias:
                loss = epoch_fn(
                    u, i, j, self.P_, self.Q_, self.bi_, self.lr, self.reg, rb
                )
            else:  # a scratch bias vector that is reset: no bias is learned
                scratch = np.zeros(n_items, dtype=np.float32)
                loss = epoch_fn(
                    u, i, j, self.P_, self.Q_, scratch, self.lr, self.reg, 0.0
                )
            check_finite_loss(loss, epoch, "BPR", _ADVICE)
            check_finite_arrays(epoch, "BPR", _ADVICE, P=self.P_, Q=self.Q_)
            rec = {"epoch": epoch, "bpr_loss": loss / n_s}
            self.history_.append(rec)
            if on_epoch is not None:
                on_epoch(self, epoch, rec)
            if self.verbose:
                print(f"epoch {epoch}: mean BPR loss {loss / n_s:.5f}")

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        """SGD on p_u alone, Q and b_i frozen, with LearnBPR's sampling restricted
        to these users: ``n_epochs`` epochs, each drawing as many triples as the
        training epochs drew per pair (one per pair by default), j among the items
        outside the given history. Starts from p_u = 0."""
        B, n = rows.n_rows, len(self.item_ids_)
        P = np.zeros((B, self.k), dtype=np.float32)
        user = np.repeat(np.arange(B), rows.lengths())
        n_train = float(self.item_popularity_.sum())
        per_pair = self.samples_per_epoch / n_train if self.samples_per_epoch else 1.0
        n_s = max(1, int(round(per_pair * len(user))))
        Q, bi = self.Q_, self.bi_
        rng = as_rng(self.seed)

        def step(b, i, j, lr):
            p, d = P[b], Q[i] - Q[j]
            x = np.einsum("ij,ij->i", p, d)
            if self.item_bias:
                x += bi[i] - bi[j]
            g = 0.5 * (1.0 - np.tanh(0.5 * x))  # σ(-x), without overflow
            P[b] = p + lr * (g[:, None] * d - self.reg * p)

        def epochs():
            for _ in range(self.n_epochs):
                u, i, j = sample_triples(rng, user, rows.indices, n, n_s, rows)
                yield (*shuffled_by_user(u, i, j, B, rng), self.lr)

        sgd_fold_in(epochs(), step)
        return {"P": P}
