r"""Factorization machine (Rendle 2010) with user/item ids and side features.

Math (doc 000 §4.2, tag ``000-4.2``). A rating is a sparse vector x: one-hot user
id, one-hot item id, one-hot gender / age bucket / occupation, the item's genres as
a multi-hot group normalised to sum 1 (:mod:`minirec.data.features`). The model is

.. math::
    \hat y(x) = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j\rangle x_i x_j
              = w_0 + \sum_i w_i x_i + \tfrac12 \sum_f
                \Big[\big(\textstyle\sum_i v_{if} x_i\big)^2
                     - \textstyle\sum_i v_{if}^2 x_i^2\Big],

the second form costing O(k·nnz) instead of O(k·nnz²). With only the two id fields
it is biased MF: ŷ = w0 + w_u + w_i + ⟨v_u, v_i⟩.

Loss: regression ``task="regression"``: Σ (ŷ − r)² + λ_w‖w‖² + λ_V‖V‖² (per
occurrence, as libFM's SGD); classification ``task="classification"``: every
interaction is a positive, ``n_negatives`` unseen items per positive are drawn
uniformly each epoch as 0-labels, logistic loss log(1 + e^{−tŷ}), t = ±1; with
``n_negatives=0`` the ratings column itself holds the 0/1 labels (a CTR task such
as :func:`minirec.data.ctr.ctr_task`) and nothing is sampled.

SGD update for a row, g = ∂ℓ/∂ŷ (ŷ − y, or σ(ŷ) − y), s_f = Σ_j v_jf x_j:
w0 −= η g; w_i −= η (g x_i + λ_w w_i); v_if −= η (g (x_i s_f − v_if x_i²) + λ_V v_if)
(:mod:`minirec.backends.numpy_ops.fm`; the gradient ∂ŷ/∂v_if = x_i s_f − v_if x_i² is
checked against autograd in lesson 09). Learning rate η_e = lr · lr_decay^e.

Cost per epoch O(|R| · k · nnz), nnz ≈ 7 for ML-1M with gender, age, occupation
and genres. Scoring all items for a user is one matrix product, because a row is
a user block plus an item block: with s_u = Σ_{j∈user block} v_j x_j,

ŷ_ui = w0 + (lin_u + self_u) + (lin_i + self_i) + ⟨s_u, s_i⟩,
self_u = ½ (‖s_u‖² − Σ_j ‖v_j‖² x_j²) (and the same for items).

Paper: S. Rendle, "Factorization Machines", ICDM 2010; S. Rendle, "Factorization
Machines with libFM", ACM TIST 2012.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._utils import (
    aligned_empty,
    as_rng,
    check_finite_arrays,
    check_finite_loss,
    check_nonnegative,
    check_positive,
    check_positive_int,
    progress,
)
from ..backends import get_kernels, resolve_backend
from ..backends.device import to_host
from ..data.features import FMFields, build_fm_fields
from ..data.interactions import Interactions
from ..errors import DataError
from .base import Recommender
from .factor import host_kernels

TASKS = ("regression", "classification")
_ADVICE = "lower lr (try lr/3), raise reg_V, or use a smaller init_std"


def check_fields(name: str, value):
    """A ``user_fields`` / ``item_fields`` argument: "auto", None, a column name or
    a list / tuple of them (kept as the very object given, as ``sklearn.base.clone``
    checks); ValueError otherwise."""
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return value if isinstance(value, (list, tuple)) else list(value)
    raise ValueError(f"{name}={value!r}: pass 'auto', None, or a list of column names")


class FM(Recommender):
    """Factorization machine over user id, item id and side fields.

    Parameters
    ----------
    k : int
        Number of latent factors per feature.
    lr : float
        SGD learning rate η.
    reg_w, reg_V : float
        L2 penalties λ_w on the linear weights and λ_V on the factors.
    n_epochs : int
        Passes over the training data.
    init_std : float
        Standard deviation of the normal initialisation of V.
    lr_decay : float
        Learning rate multiplier per epoch (1.0: constant).
    task : {"regression", "classification"}
        Squared loss on ratings, or logistic loss on interactions vs sampled
        negatives.
    n_negatives : int
        Negatives per positive and epoch (classification only); 0: the ratings are
        0/1 labels already (click data), no negatives are sampled.
    user_fields, item_fields : "auto", list of str or None
        Side fields (see :mod:`minirec.data.features`); None: ids only.
    clip : bool
        Clip predicted ratings to the training rating range (regression).
    hogwild : bool
        With ``backend="cuda"``: one GPU thread per row, lock-free (Hogwild!, the
        kernel ``sgd_fm_blocks_epoch_hogwild``). Fast, and **not** reproducible bit
        for bit: concurrent rows that share a feature race (w0 is updated by atomic
        add). False runs the same kernel on one GPU thread, which follows the
        serial update sequence of the CPU backends. The CPU FM kernels are serial
        only, so True needs ``backend="cuda"``.
    seed : int
        Seed of the initialisation, the shuffles and the negative samples.
    backend : {"numpy", "numba", "cuda"} or None
        Kernel backend (None: MINIREC_BACKEND, then numba when installed).
        ``"cuda"`` keeps the feature blocks and w0, w, V on the device for the
        whole fit (copied there once, and back to the host after the last epoch);
        only the epoch's shuffled (user, item, target) rows cross per epoch.
        Shuffles (``shuffle_ratings``) and negatives are drawn on the host with the same
        generator, so with ``hogwild=False`` the result equals the numba backend's
        up to float32 rounding. The kernels are loaded by ``fit``; scoring is
        NumPy, so a model trained on a GPU loads and predicts on any machine.
    """

    name = "fm"
    predicts_ratings = True
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "w0": "float32 (1,)",
        "w": "float32 (n_features,)",
        "V": "float32 (n_features, k)",
        "rating_range": "float64 (2,)",
    }

    def __init__(
        self,
        k: int = 32,
        lr: float = 0.01,
        reg_w: float = 0.01,
        reg_V: float = 0.02,
        n_epochs: int = 20,
        init_std: float = 0.05,
        lr_decay: float = 1.0,
        task: str = "regression",
        n_negatives: int = 4,
        user_fields: str | Sequence[str] | None = "auto",
        item_fields: str | Sequence[str] | None = "auto",
        clip: bool = True,
        hogwild: bool = False,
        seed: int = 0,
        backend: str | None = None,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.lr = check_positive("lr", lr)
        self.reg_w = check_nonnegative("reg_w", reg_w)
        self.reg_V = check_nonnegative("reg_V", reg_V)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.init_std = check_nonnegative("init_std", init_std)
        self.lr_decay = check_positive("lr_decay", lr_decay)
        if task not in TASKS:
            raise ValueError(f"task={task!r}; choose one of {TASKS}")
        self.task = task
        if isinstance(n_negatives, bool) or not isinstance(
            n_negatives, int | np.integer
        ):
            raise ValueError(f"n_negatives={n_negatives!r}: must be an int >= 0")
        if n_negatives < 0:
            raise ValueError(f"n_negatives={n_negatives!r}: must be >= 0")
        if n_negatives == 0 and task != "classification":
            raise ValueError(
                "n_negatives=0 (labelled clicks) needs task='classification'"
            )
        self.n_negatives = int(n_negatives)
        self.user_fields = check_fields("user_fields", user_fields)
        self.item_fields = check_fields("item_fields", item_fields)
        self.clip = bool(clip)
        self.hogwild = bool(hogwild)
        self.seed = int(seed)
        self.backend = backend
        name = resolve_backend(backend)
        if self.hogwild and name != "cuda":
            raise ValueError(
                f"hogwild=True needs backend='cuda' (got {name!r}): the CPU FM kernels "
                "are serial; drop hogwild or use backend='cuda'"
            )
        # the kernels are loaded at fit time (BackendUnavailableError naming the
        # install command when missing), so that a model trained on a GPU loads
        # and predicts anywhere: scoring is plain NumPy
        self._backend_name = name
        # ranking models predict scores, not ratings
        self.predicts_ratings = task == "regression"

    # ------------------------------------------------------------------ training
    def _epoch_fn(self):
        K = get_kernels(self._backend_name)
        return K.sgd_fm_blocks_epoch_hogwild if self.hogwild else K.sgd_fm_blocks_epoch

    def _fit(self, data: Interactions) -> None:
        fields = build_fm_fields(data, self.user_fields, self.item_fields)
        rng = as_rng(self.seed)
        n_feat = fields.n_features
        logistic = self.task == "classification"
        y = data.ratings.astype(np.float32)
        w0 = np.array([0.0 if logistic else float(y.mean())], dtype=np.float32)
        w = np.zeros(n_feat, dtype=np.float32)
        V = aligned_empty((n_feat, self.k), np.float32)  # rows on cache lines
        V[...] = rng.standard_normal((n_feat, self.k)) * self.init_std
        labelled = logistic and self.n_negatives == 0  # click data: y is the label
        if labelled and not np.isin(y, (0.0, 1.0)).all():
            bad = float(y[~np.isin(y, (0.0, 1.0))][0])
            raise DataError(
                "FM(task='classification', n_negatives=0) needs 0/1 labels in the "
                f"ratings column; found {bad!r} (build click data with "
                "minirec.data.ctr.ctr_task, or set n_negatives > 0 to sample negatives)"
            )
        if logistic and not labelled:
            seen_keys = np.unique(
                data.users.astype(np.int64) * data.n_items + data.items
            )
        epoch = self._epoch_fn()
        blocks = (fields.user_idx, fields.user_val, fields.item_idx, fields.item_val)
        params = (w0, w, V)
        on_device = self._backend_name == "cuda"
        # the per-epoch shuffle runs on the host, as MF's: the rows are copied in a
        # new uniform order (the same permutation on every backend) and the kernel
        # reads them in sequence
        host = host_kernels() if on_device else get_kernels(self._backend_name)
        if on_device:  # explicit host -> device copies: blocks and params once per
            # fit, the shuffled rows once per epoch
            move = get_kernels("cuda").to_device
            blocks = tuple(move(a) for a in blocks)
            params = tuple(move(a) for a in params)
        self.loss_history_ = []
        lr = self.lr
        bufs = None
        for e in progress(range(self.n_epochs), desc="FM", total=self.n_epochs):
            if logistic and not labelled:  # new rows every epoch
                users, items, target = self._with_negatives(data, seen_keys, rng)
            else:
                users, items, target = data.users, data.items, y
            if bufs is None:
                bufs = tuple(np.empty_like(a) for a in (users, items, target))
                order = np.arange(len(users))
                if on_device:
                    order = move(order)
            host.shuffle_ratings(users, items, target, int(rng.integers(2**63)), *bufs)
            users, items, target = (move(a) for a in bufs) if on_device else bufs
            loss = epoch(
                users,
                items,
                target,
                order,
                *blocks,
                *params,
                lr,
                self.reg_w,
                self.reg_V,
                logistic,
            )
            loss = float(loss) / len(bufs[0])
            check_finite_loss(loss, e + 1, "FM", _ADVICE)
            if not on_device:  # on the device: checked once, after the copy back
                check_finite_arrays(e + 1, "FM", _ADVICE, w0=w0, w=w, V=V)
            self.loss_history_.append(loss)
            lr *= self.lr_decay
        if on_device:  # explicit device -> host copies of the parameters
            w0, w, V = (to_host(a) for a in params)
            check_finite_arrays(self.n_epochs, "FM", _ADVICE, w0=w0, w=w, V=V)
        self.fields_ = fields
        self.w0_, self.w_, self.V_ = w0, w, V
        self.rating_range_ = (float(y.min()), float(y.max()))
        self._precompute()

    def _with_negatives(self, data, seen_keys, rng):
        """Positives plus `n_negatives` uniform unseen items per positive."""
        m = len(data) * self.n_negatives
        neg_u = np.repeat(data.users, self.n_negatives)
        neg_i = rng.integers(0, data.n_items, m).astype(np.int32)
        for _ in range(20):  # resample the few that hit a seen item
            key = neg_u.astype(np.int64) * data.n_items + neg_i
            pos = np.clip(np.searchsorted(seen_keys, key), 0, len(seen_keys) - 1)
            bad = np.flatnonzero(seen_keys[pos] == key)
            if not len(bad):
                break
            neg_i[bad] = rng.integers(0, data.n_items, len(bad))
        users = np.concatenate([data.users, neg_u]).astype(np.int32)
        items = np.concatenate([data.items, neg_i]).astype(np.int32)
        target = np.concatenate([np.ones(len(data)), np.zeros(m)]).astype(np.float32)
        return users, items, target

    # ------------------------------------------------------------------ scoring
    def _side(self, idx: np.ndarray, val: np.ndarray):
        """(lin + self, s) of a block: linear part + within-block pairs, pooled V."""
        Vx = self.V_[idx] * val[:, :, None]
        s = Vx.sum(axis=1)
        self_pairs = 0.5 * ((s * s).sum(axis=1) - (Vx * Vx).sum(axis=(1, 2)))
        lin = (self.w_[idx] * val).sum(axis=1)
        return (lin + self_pairs).astype(np.float32), s.astype(np.float32)

    def _precompute(self) -> None:
        f = self.fields_
        self._user_const, self._S_user = self._side(f.user_idx, f.user_val)
        self._item_const, self._S_item = self._side(f.item_idx, f.item_val)

    def _finish(self, y_hat: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            return (1.0 / (1.0 + np.exp(-y_hat))).astype(np.float32)
        if self.clip:
            return np.clip(y_hat, *self.rating_range_).astype(np.float32)
        return y_hat.astype(np.float32)

    def decision_function(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Raw ŷ (before clipping / sigmoid) of internal (user, item) pairs."""
        self._check_fitted()
        u = np.asarray(u, dtype=np.int64)
        i = np.asarray(i, dtype=np.int64)
        return (
            self.w0_[0]
            + self._user_const[u]
            + self._item_const[i]
            + np.einsum("nk,nk->n", self._S_user[u], self._S_item[i])
        )

    def _score(self, u: np.ndarray) -> np.ndarray:
        y_hat = (
            self.w0_[0]
            + self._user_const[u][:, None]
            + self._item_const[None, :]
            + self._S_user[u] @ self._S_item.T
        )
        return self._finish(y_hat)

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self._finish(self.decision_function(u, i))

    def _item_vectors(self) -> np.ndarray:
        return self._S_item

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict:
        s = {
            "w0": self.w0_,
            "w": self.w_,
            "V": self.V_,
            "rating_range": np.array(self.rating_range_),
        }
        s.update(self.fields_.state())
        return s

    def _set_state(self, s: dict) -> None:
        self.w0_, self.w_, self.V_ = s["w0"], s["w"], s["V"]
        self.rating_range_ = tuple(float(x) for x in s["rating_range"])
        self.fields_ = FMFields.from_state(s)
        self._precompute()
