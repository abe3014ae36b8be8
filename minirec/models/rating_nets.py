r"""Neural rating models from the course documents, on minirec's autograd: doc 001's
"neural MF" (its formula and its code) and doc 003's "deep-learning ALS".

Explicit feedback, squared loss (doc 001 §3.1 and doc 003)::

    PhiMF       r̂_ui = φ(p_uᵀ q_i), φ a small MLP R → R      (doc 001's *formula*)
    RatingMLP   r̂_ui = MLP([p_u; q_i])                        (doc 001's *code*: E2)
    DeepALS     r̂_ui = μ + b_u + b_i + p_uᵀ q_i with P, Q, b as embedding layers
                trained by autograd (doc 003's "deep-learning ALS"); with batch_size=1
                and SGD it performs exactly the updates of ``minirec.models.mf.MF``
                (same init, same shuffles), which a test checks.

    L = mean_batch [½ (r − r̂)² + λ/2 (‖p_u‖² + ‖q_i‖²) (+ λ_b/2 (b_u² + b_i²))]

Predictions are clipped to the training rating range. The implicit-feedback NCF
models (GMF, NCF-MLP, NeuMF) are in :mod:`minirec.models.ncf`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from ..backends.device import to_host
from ..data.interactions import Interactions
from ..nn import MLP, Embedding, Module, Parameter
from ._train import (
    NeuralRecommender,
    check_batch_size,
    check_device,
    check_optimizer,
    check_sizes,
    epoch_hook,
    make_optimizer,
    make_scheduler,
    permutation,
    train_loop,
)
from .factor import host_kernels

__all__ = ["PhiMF", "RatingMLP", "DeepALS"]

_ADVICE = "lower lr (e.g. by 10x), use a smaller batch or add reg"


class _RatingBase(NeuralRecommender):
    """Squared loss on ratings; r̂ clipped to the training range when predicting."""

    predicts_ratings = True
    accepts_valid = False  # no epoch selection: n_epochs passes
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    meta_schema = {"mu": "float", "rating_range": "float (2,)"}

    def _net_params(self):
        return self.net_.parameters()

    def _fit(self, data: Interactions, on_epoch=None) -> None:
        rng = as_rng(self.seed)
        self.mu_ = float(data.ratings.astype(np.float64).mean())
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self.net_ = net = self._place(self._build(data.n_users, data.n_items, rng))
        opt = make_optimizer(self.optimizer, list(self._net_params()), self.lr)
        sched = make_scheduler(
            "exp" if self.lr_decay != 1.0 else "none", opt, self.lr_decay
        )
        users, items = data.users, data.items
        ratings = data.ratings.astype(np.float32)
        su, si, sr = np.empty_like(users), np.empty_like(items), np.empty_like(ratings)
        shuffle = host_kernels().shuffle_ratings
        xp = self.xp
        if xp is not np:  # copied to the device once, shuffled there
            users, items, ratings = (xp.asarray(a) for a in (users, items, ratings))

        def make_epoch(epoch, r):
            if xp is not np:  # a device Generator: another stream than the kernel's
                perm = permutation(r, len(users), xp)
                return users[perm], items[perm], ratings[perm]
            # the same shuffle as MF's, drawn outside the step
            shuffle(users, items, ratings, int(r.integers(2**63)), su, si, sr)
            return su, si, sr

        def step(batch) -> float:
            u, i, y = batch
            loss = self._loss(u, i, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        self.history_ = train_loop(
            model=type(self).__name__,
            net=net,
            opt=opt,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            make_epoch=make_epoch,
            step=step,
            rng=self._epoch_rng(rng),
            scheduler=sched,
            advice=_ADVICE,
            verbose=self.verbose,
            on_epoch=epoch_hook(self, on_epoch),
        )

    def _loss(self, u, i, y) -> Tensor:
        d = self.net_(u, i) - y
        loss = F.mean(d * d) * 0.5
        if self.reg:
            p, q = self.net_.P(u), self.net_.Q(i)
            loss = loss + F.sum(p * p + q * q) * (self.reg / (2 * len(u)))
        return loss

    def _predict_pairs(self, u, i):
        return np.clip(self._forward_scores(u, i), *self.rating_range_)

    def _meta_extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])

    def _set_state(self, s: dict) -> None:
        self.mu_ = 0.0
        super()._set_state(s)


class _PhiNet(Module):
    def __init__(self, n_users, n_items, k, hidden, mu, rng, std):
        self.P = Embedding(n_users, k, std=std, sparse=True, rng=rng)
        self.Q = Embedding(n_items, k, std=std, sparse=True, rng=rng)
        self.phi = MLP([1, *hidden, 1], activation="tanh", activate_last=False, rng=rng)
        self.mu = mu

    def forward(self, u, i) -> Tensor:
        dot = F.sum(self.P(u) * self.Q(i), axis=-1, keepdims=True)  # p_uᵀ q_i
        return F.reshape(self.phi(dot), (-1,)) + self.mu


class _ConcatNet(Module):
    def __init__(self, n_users, n_items, k, hidden, mu, rng, std):
        self.P = Embedding(n_users, k, std=std, sparse=True, rng=rng)
        self.Q = Embedding(n_items, k, std=std, sparse=True, rng=rng)
        self.tower = MLP([2 * k, *hidden, 1], activate_last=False, rng=rng)
        self.mu = mu

    def forward(self, u, i) -> Tensor:
        z = F.concat([self.P(u), self.Q(i)], axis=-1)
        return F.reshape(self.tower(z), (-1,)) + self.mu


class PhiMF(_RatingBase):
    """Doc 001 §3.1 as its formula says: r̂_ui = φ(p_uᵀ q_i), φ: R → R an MLP
    (tanh hidden layers), squared loss + λ(‖p_u‖² + ‖q_i‖²) per example, Adam.
    (μ is added to φ's output so φ starts near the mean rating.)

    Parameters
    ----------
    k : int
        Latent size of the user and item embeddings p_u, q_i.
    hidden : sequence of int
        φ's hidden layer sizes.
    lr : float
        Learning rate.
    reg : float
        λ, the L2 penalty on the embedding rows of each batch.
    n_epochs : int
        Passes over the training ratings.
    batch_size : int
        Ratings per mini-batch.
    optimizer : {"adam", "sgd", "adagrad"}
    lr_decay : float
        Learning-rate multiplier per epoch (1.0: constant).
    init_std : float
        Standard deviation of the normal initialisation of the embeddings.
    seed : int
    verbose : bool
        Print each epoch's loss.
    device : {"cpu", "cuda"}
        Where the network, its optimizer state and the shuffled batches live
        (predictions and model files are NumPy; the GPU shuffle is a different
        random stream from the CPU's).
    """

    name = "phi-mf"

    def __init__(
        self,
        k: int = 32,
        hidden: Sequence[int] = (16, 8),
        lr: float = 0.002,
        reg: float = 0.02,
        n_epochs: int = 20,
        batch_size: int = 512,
        optimizer: str = "adam",
        lr_decay: float = 1.0,
        init_std: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.hidden = check_sizes("hidden", hidden, allow_empty=True)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        self.optimizer = check_optimizer(optimizer)
        self.lr_decay = check_positive("lr_decay", lr_decay)
        self.init_std = check_nonnegative("init_std", init_std)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return _PhiNet(
            n_users, n_items, self.k, self.hidden, getattr(self, "mu_", 0.0),
            as_rng(rng), self.init_std,
        )  # fmt: skip

    def _set_meta_extra(self, extra: dict) -> None:
        super()._set_meta_extra(extra)
        self.net_.mu = self.mu_


class RatingMLP(PhiMF):
    """Doc 001 §3.1's *code*: [p_u; q_i] → Dense(20, relu) → Dense(10, relu) →
    Dense(1), MSE, Adam (NCF-MLP on ratings). Erratum E2: this is not φ(p_uᵀq_i).
    Same parameters as :class:`PhiMF` (``hidden`` default (20, 10))."""

    name = "rating-mlp"

    def __init__(
        self,
        k: int = 32,
        hidden: Sequence[int] = (20, 10),
        lr: float = 0.002,
        reg: float = 0.02,
        n_epochs: int = 20,
        batch_size: int = 512,
        optimizer: str = "adam",
        lr_decay: float = 1.0,
        init_std: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        super().__init__(
            k, hidden, lr, reg, n_epochs, batch_size, optimizer, lr_decay, init_std,
            seed, verbose, device,
        )  # fmt: skip

    def _build(self, n_users, n_items, rng) -> Module:
        return _ConcatNet(
            n_users, n_items, self.k, self.hidden, getattr(self, "mu_", 0.0),
            as_rng(rng), self.init_std,
        )  # fmt: skip


class _MFNet(Module):
    """r̂ = μ + b_u + b_i + p_u·q_i as embedding layers (P, Q, b_u, b_i tables)."""

    def __init__(self, P, Q, biased, mu):
        self.P = Embedding(1, 1)
        self.P.W, self.P.sparse = Parameter(P), True
        self.Q = Embedding(1, 1)
        self.Q.W, self.Q.sparse = Parameter(Q), True
        self.biased, self.mu = biased, mu
        if biased:
            self.bu = Embedding(1, 1)
            self.bu.W = Parameter(np.zeros((len(P), 1), np.float32))
            self.bu.sparse = True
            self.bi = Embedding(1, 1)
            self.bi.W = Parameter(np.zeros((len(Q), 1), np.float32))
            self.bi.sparse = True

    def forward(self, u, i) -> Tensor:
        s = F.sum(self.P(u) * self.Q(i), axis=-1)
        if self.biased:
            s = s + F.reshape(self.bu(u) + self.bi(i), (-1,)) + self.mu
        return s


class DeepALS(_RatingBase):
    """Doc 003's "deep-learning version of ALS": MF whose P and Q are embedding
    layers trained by autograd (actually SGD, as the document's procedure; see
    erratum E5). Hyperparameters and initialisation mirror
    :class:`~minirec.models.mf.MF`, so that with ``batch_size=1`` and
    ``optimizer="sgd"`` both perform the same updates.

    Parameters
    ----------
    k, lr, reg, reg_bias, n_epochs, lr_decay, biased, init_std, seed : as MF.
    batch_size : int
        1 reproduces MF's per-rating SGD; larger batches average the gradient.
    optimizer : {"sgd", "adam", "adagrad"}
    clip : bool
        Clip predicted ratings to the training range.
    device : {"cpu", "cuda"}
        As :class:`PhiMF`.
    """

    name = "deep-als"

    def __init__(
        self,
        k: int = 32,
        lr: float = 0.007,
        reg: float = 0.05,
        reg_bias: float = 0.02,
        n_epochs: int = 20,
        lr_decay: float = 0.95,
        biased: bool = True,
        init_std: float = 0.05,
        batch_size: int = 1,
        optimizer: str = "sgd",
        clip: bool = True,
        seed: int = 0,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.reg_bias = check_nonnegative("reg_bias", reg_bias)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.lr_decay = check_positive("lr_decay", lr_decay)
        self.biased = bool(biased)
        self.init_std = check_nonnegative("init_std", init_std)
        self.batch_size = check_batch_size(batch_size)
        self.optimizer = check_optimizer(optimizer)
        self.clip = bool(clip)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        rng = as_rng(rng)
        # the same draws as MF.init_factors: P first, then Q, N(0, init_std²)
        P = np.ascontiguousarray(
            rng.normal(0.0, self.init_std, size=(n_users, self.k)), dtype=np.float32
        )
        Q = np.ascontiguousarray(
            rng.normal(0.0, self.init_std, size=(n_items, self.k)), dtype=np.float32
        )
        mu = getattr(self, "mu_", 0.0) if self.biased else 0.0
        return _MFNet(P, Q, self.biased, mu)

    def _fit(self, data: Interactions, on_epoch=None) -> None:
        super()._fit(data, on_epoch=on_epoch)
        if not self.biased:
            self.mu_ = 0.0

    def _loss(self, u, i, y) -> Tensor:
        net = self.net_
        p, q = net.P(u), net.Q(i)
        r_hat = F.sum(p * q, axis=-1)
        reg = F.sum(p * p + q * q, axis=-1) * (self.reg / 2)
        if self.biased:
            bu, bi = F.reshape(net.bu(u), (-1,)), F.reshape(net.bi(i), (-1,))
            r_hat = r_hat + bu + bi + net.mu
            reg = reg + (bu * bu + bi * bi) * (self.reg_bias / 2)
        e = y - r_hat
        return F.mean(e * e * 0.5 + reg)

    def _predict_pairs(self, u, i):
        s = self._forward_scores(u, i)
        return np.clip(s, *self.rating_range_) if self.clip else s

    def _item_vectors(self) -> np.ndarray:
        return to_host(self.net_.Q.W.data)

    @property
    def P_(self) -> np.ndarray:
        return to_host(self.net_.P.W.data)

    @property
    def Q_(self) -> np.ndarray:
        return to_host(self.net_.Q.W.data)

    def _set_state(self, s: dict) -> None:
        n_u, n_i = len(self.user_ids_), len(self.item_ids_)
        net = _MFNet(
            np.zeros((n_u, self.k), np.float32),
            np.zeros((n_i, self.k), np.float32),
            self.biased,
            0.0,
        )
        net.load_state_dict(
            {k[len("net/") :]: v for k, v in s.items() if k.startswith("net/")}
        )
        self.net_ = self._place(net)

    def _set_meta_extra(self, extra: dict) -> None:
        super()._set_meta_extra(extra)
        self.net_.mu = self.mu_ if self.biased else 0.0
