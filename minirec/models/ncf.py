r"""Neural collaborative filtering on minirec's autograd (He et al., WWW 2017), and the
two "neural MF" variants of documents 001 and 003.

Implicit feedback, NCF's three models (doc 000 §3.1, doc 002 §3.1). With user and
item embeddings p_u, q_i (rows of P, Q)::

    GMF:    ŷ_ui = σ(hᵀ (p_u ⊙ q_i) + b)                      (generalized MF)
    MLP:    z₁ = [p_u; q_i];  z_{l+1} = ReLU(W_l z_l + b_l);  ŷ_ui = σ(hᵀ z_L + b)
    NeuMF:  ŷ_ui = σ(hᵀ [p^G_u ⊙ q^G_i ; z_L(p^M_u, q^M_i)] + b)   (separate embeddings)

Loss: binary log loss over the positives Y and sampled negatives Y⁻ (4 per positive,
re-drawn every epoch)::

    L = − Σ_{(u,i)∈Y} log ŷ_ui − Σ_{(u,j)∈Y⁻} log(1 − ŷ_uj)

computed from the logit z (ŷ = σ(z)) by the fused stable ``bce_with_logits``
(mean over the batch). Gradient: ∂L/∂z = ŷ − y, back-propagated by the autograd.
Mini-batch Adam (lazy on the embedding rows by default, like
``torch.optim.SparseAdam``; ``lazy=False``: dense, as the paper's Keras code) or SGD;
optional per-epoch LR decay. NeuMF with pre-training (§3.4.1) starts from a trained
GMF and MLP, its output weights set to h ← [α h^GMF ; (1−α) h^MLP], α = 0.5, and is
then tuned with plain SGD (the paper: Adam's moments are not available to carry over).

"Predictive factors" (the paper's capacity knob) = size of the last hidden layer:
for 32, GMF has k = 32 and MLP has embeddings of 64 and three hidden layers
128 → 64 → 32 on the concatenation [p_u; q_i] of size 128, i.e.
``layers=(128, 128, 64, 32)`` (the paper's §4.1: "we employed three hidden layers
for MLP; for example, if the size of predictive factors is 8, then the architecture
of the neural CF layers is 32 → 16 → 8, and the embedding size is 16"). Earlier
versions defaulted to ``(128, 64, 32)``: two hidden layers, one fewer than the
paper's.

Model selection (the paper's §4.1: "we randomly sampled one interaction for each
user as the validation data and tuned hyper-parameters on it"):
``fit(data, valid=(users, items, negatives))`` scores HR@10 on held-out cases after
every epoch, keeps the best epoch's weights (``best_epoch_``) and stops after
``patience`` epochs without improvement.

Cost per epoch: O(|Y| (1 + n_neg) (k + Σ_l d_l d_{l+1})) time; scoring all items for
a user O(n_items Σ_l d_l d_{l+1}).

Rating models (explicit feedback, squared loss, doc 001 §3.1 and doc 003)::

    PhiMF       r̂_ui = φ(p_uᵀ q_i), φ a small MLP R → R      (doc 001's *formula*)
    RatingMLP   r̂_ui = MLP([p_u; q_i])                        (doc 001's *code*: E2)
    DeepALS     r̂_ui = μ + b_u + b_i + p_uᵀ q_i with P, Q, b as embedding layers
                trained by autograd (doc 003's "deep-learning ALS"); with batch_size=1
                and SGD it performs exactly the updates of ``minirec.models.mf.MF``
                (same init, same shuffles), which a test checks.

    L = mean_batch [½ (r − r̂)² + λ/2 (‖p_u‖² + ‖q_i‖²) (+ λ_b/2 (b_u² + b_i²))]

Paper: X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua, "Neural Collaborative
Filtering", WWW 2017.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from ..data.interactions import Interactions
from ..nn import MLP, Embedding, Linear, Module, Parameter, losses
from ._train import (
    NegativeSampler,
    NeuralRecommender,
    check_batch_size,
    check_n_neg,
    make_optimizer,
    make_scheduler,
    pointwise_epoch,
    train_loop,
)
from .factor import host_kernels

__all__ = ["GMF", "NCFMLP", "NeuMF", "PhiMF", "RatingMLP", "DeepALS"]

_ADVICE = "lower lr (e.g. by 10x), use a smaller batch or add reg"


# ====================================================================== networks
class GMFNet(Module):
    """σ⁻¹(ŷ) = hᵀ(p_u ⊙ q_i) + b (returns the logit)."""

    def __init__(self, n_users, n_items, k, rng, std=0.01):
        self.P = Embedding(n_users, k, std=std, sparse=True, rng=rng)
        self.Q = Embedding(n_items, k, std=std, sparse=True, rng=rng)
        self.h = Linear(k, 1, rng=rng)

    def features(self, u, i) -> Tensor:
        return self.P(u) * self.Q(i)

    def forward(self, u, i) -> Tensor:
        return F.reshape(self.h(self.features(u, i)), (-1,))


class MLPNet(Module):
    """σ⁻¹(ŷ) = hᵀ tower([p_u; q_i]) + b; layers[0] = 2 × embedding size."""

    def __init__(self, n_users, n_items, layers, rng, std=0.01, dropout=0.0, init="he"):
        if len(layers) < 2 or layers[0] % 2:
            raise ValueError(
                f"layers={list(layers)}: need at least two sizes and an even first "
                "size (it is the concatenation of two embeddings of layers[0] / 2)"
            )
        d = layers[0] // 2
        self.P = Embedding(n_users, d, std=std, sparse=True, rng=rng)
        self.Q = Embedding(n_items, d, std=std, sparse=True, rng=rng)
        self.tower = MLP(list(layers), dropout=dropout, init=init, rng=rng)
        self.h = Linear(layers[-1], 1, rng=rng)

    def features(self, u, i) -> Tensor:
        return self.tower(F.concat([self.P(u), self.Q(i)], axis=-1))

    def forward(self, u, i) -> Tensor:
        return F.reshape(self.h(self.features(u, i)), (-1,))


class NeuMFNet(Module):
    """Fused GMF and MLP branches, separate embeddings, one output layer."""

    def __init__(self, n_users, n_items, k, layers, rng, dropout=0.0):
        self.gmf = GMFNet(n_users, n_items, k, rng)
        self.mlp = MLPNet(n_users, n_items, layers, rng, dropout=dropout)
        self.h = Linear(k + layers[-1], 1, rng=rng)

    def forward(self, u, i) -> Tensor:
        z = F.concat([self.gmf.features(u, i), self.mlp.features(u, i)], axis=-1)
        return F.reshape(self.h(z), (-1,))


# ====================================================================== implicit
class _NCFBase(NeuralRecommender):
    """Shared fit of the NCF models: pointwise log loss with sampled negatives."""

    predicts_ratings = False

    def _check_common(
        self, n_neg, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
    ):
        self.n_neg = check_positive_int("n_neg", n_neg)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        if optimizer not in ("adam", "sgd", "adagrad"):
            raise ValueError(
                f"optimizer={optimizer!r}: choose 'adam', 'sgd', 'adagrad'"
            )
        self.optimizer = optimizer
        if lr_schedule not in ("none", "exp", "step"):
            raise ValueError(
                f"lr_schedule={lr_schedule!r}: choose 'none', 'exp', 'step'"
            )
        self.lr_schedule = lr_schedule
        self.lr_decay = check_positive("lr_decay", lr_decay)

    def _train(self, data: Interactions, rng, score_start: bool = False) -> None:
        check_n_neg(data, self.n_neg, type(self).__name__)
        net = self.net_
        lazy = getattr(self, "lazy", True)
        opt = make_optimizer(self.optimizer, net.parameters(), self.lr, lazy=lazy)
        sched = make_scheduler(self.lr_schedule, opt, self.lr_decay, 1)
        reg = self.reg
        sampler = NegativeSampler(data)

        def step(batch) -> float:
            u, i, y = batch
            z = net(u, i)
            loss = losses.bce_with_logits(z, y)
            if reg:
                loss = loss + self._reg_term(u, i) * (reg / len(u))
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
            make_epoch=lambda e, r: pointwise_epoch(data, self.n_neg, r, sampler),
            step=step,
            rng=rng,
            scheduler=sched,
            valid=self._valid_fn(),
            patience=getattr(self, "patience", 3),
            advice=_ADVICE,
            verbose=self.verbose,
            on_epoch=self._epoch_hook(),
            score_start=score_start,
        )
        # the epoch whose weights the model holds: the best on `valid`, else the
        # last (0: the starting weights, NeuMF's fused pre-trained models)
        best = [h["epoch"] for h in self.history_ if h.get("best")]
        self.best_epoch_ = best[-1] if best else self.history_[-1]["epoch"]

    def _reg_term(self, u, i) -> Tensor:
        """½ Σ ‖embedding rows used in the batch‖² (user tables are named P)."""
        terms = [
            e(u if name.endswith("P") else i)
            for name, e in _walk(self.net_, "")
            if isinstance(e, Embedding)
        ]
        return losses.l2_penalty(terms, 1.0)

    def _fit(self, data: Interactions) -> None:
        rng = as_rng(self.seed)
        self.net_ = self._build(data.n_users, data.n_items, rng)
        self._train(data, rng)


def _walk(mod: Module, prefix: str):
    yield prefix, mod
    for name, v in mod._children():
        if isinstance(v, Module):
            yield from _walk(v, f"{prefix}.{name}" if prefix else name)


class GMF(_NCFBase):
    """Generalized matrix factorization (NCF §3.2) trained with log loss.

    Parameters
    ----------
    k : int
        Embedding size = predictive factors.
    n_neg : int
        Sampled negatives per positive, re-drawn each epoch (paper: 4).
    lr : float
        Learning rate.
    reg : float
        L2 penalty on the embedding rows of each batch (paper: 0).
    n_epochs : int
        Epochs (the most, with ``fit(data, valid=...)``).
    batch_size : int
        Examples per mini-batch (paper: 256).
    optimizer : {"adam", "sgd", "adagrad"}
    lr_schedule : {"none", "exp", "step"}
        Per-epoch learning-rate decay by ``lr_decay``.
    lr_decay : float
    lazy : bool
        With Adam: update only the embedding rows the batch used (moments of the
        other rows are left alone, like ``torch.optim.SparseAdam``; the default,
        fast). ``False``: dense Adam over the whole tables, as the paper's Keras
        code (every row keeps moving with its momentum; slower per step). On the
        NCF ML-1M files dense Adam ranked better: GMF HR@10 0.7010 vs 0.6967 lazy,
        NeuMF 0.7081 vs 0.7063 (benchmarks/results/accuracy_neural.md).
    patience : int
        Early-stopping patience (with ``valid``).
    seed : int
    verbose : bool
        Print each epoch's loss.
    """

    name = "gmf"

    def __init__(
        self,
        k: int = 32,
        n_neg: int = 4,
        lr: float = 0.001,
        reg: float = 0.0,
        n_epochs: int = 20,
        batch_size: int = 256,
        optimizer: str = "adam",
        lr_schedule: str = "none",
        lr_decay: float = 1.0,
        lazy: bool = True,
        patience: int = 3,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self._check_common(
            n_neg, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
        )
        self.lazy = bool(lazy)
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return GMFNet(n_users, n_items, self.k, as_rng(rng))

    def _item_vectors(self) -> np.ndarray:
        return self.net_.Q.W.data * self.net_.h.W.data[:, 0]


class NCFMLP(_NCFBase):
    """NCF's MLP: concatenated embeddings through a ReLU tower (NCF §3.3).

    Parameters
    ----------
    layers : sequence of int
        Tower sizes; ``layers[0]`` is the concatenation (2 × embedding size), the
        last is the number of predictive factors. Default (128, 128, 64, 32): the
        paper's three hidden layers for 32 factors (embeddings of 64).
    dropout : float
        Dropout after each hidden layer (paper: 0).
    init : str
        Initialisation of the tower's weights: "he" (He normal, for ReLU) or
        "xavier" (Glorot uniform: the Keras default that the released NCF code
        runs with).
    Others as :class:`GMF`.
    """

    name = "ncf-mlp"

    def __init__(
        self,
        layers: Sequence[int] = (128, 128, 64, 32),
        n_neg: int = 4,
        lr: float = 0.001,
        reg: float = 0.0,
        dropout: float = 0.0,
        n_epochs: int = 20,
        batch_size: int = 256,
        optimizer: str = "adam",
        lr_schedule: str = "none",
        lr_decay: float = 1.0,
        lazy: bool = True,
        patience: int = 3,
        seed: int = 0,
        verbose: bool = False,
        init: str = "he",
    ) -> None:
        if init not in ("he", "xavier"):
            raise ValueError(f"init={init!r}: choose 'he' or 'xavier'")
        self.init = init
        self.layers = [check_positive_int("layers", int(x)) for x in layers]
        if len(self.layers) < 2 or self.layers[0] % 2:
            raise ValueError(
                f"layers={list(layers)}: need at least two sizes and an even first "
                "size (2 × embedding size)"
            )
        self.dropout = check_nonnegative("dropout", dropout)
        self._check_common(
            n_neg, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
        )
        self.lazy = bool(lazy)
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return MLPNet(
            n_users,
            n_items,
            self.layers,
            as_rng(rng),
            dropout=self.dropout,
            init=getattr(self, "init", "he"),  # files saved before `init` existed
        )


class NeuMF(_NCFBase):
    """NeuMF: GMF ⊕ MLP with one output layer (NCF §3.4), with pre-training.

    Parameters
    ----------
    k, layers : int, sequence of int
        The GMF branch's size and the MLP branch's tower (see GMF / NCFMLP).
    pretrain : bool
        Train a GMF and an NCFMLP first (``pretrain_epochs`` each, Adam with
        ``pretrain_lr``), copy their weights in, set h = [α h_GMF; (1−α) h_MLP],
        then tune the whole model with ``optimizer`` (paper: SGD) at ``lr``.
        ``fit(data, gmf=..., mlp=...)`` uses already trained models instead.
        With ``fit(data, valid=...)`` the pre-training epochs are selected on
        `valid` as well (early stopping with ``patience``).
    alpha : float or "valid"
        Weight of the GMF branch in the initial output layer (paper: 0.5).
        ``"valid"``: the weight among 0, 0.1, ..., 1 whose fused start has the best
        HR@10 on `valid` (``fit(..., valid=...)`` is then required); the choice is
        kept in ``alpha_`` (on ML-1M it picks 0.6, see accuracy_neural.md).
    pretrain_epochs, pretrain_lr : int, float
    Others as :class:`GMF`.
    """

    name = "neumf"

    def __init__(
        self,
        k: int = 32,
        layers: Sequence[int] = (128, 128, 64, 32),
        pretrain: bool = True,
        alpha: float | str = 0.5,
        pretrain_epochs: int = 20,
        pretrain_lr: float = 0.001,
        n_neg: int = 4,
        lr: float = 0.001,
        reg: float = 0.0,
        dropout: float = 0.0,
        n_epochs: int = 10,
        batch_size: int = 256,
        optimizer: str = "sgd",
        lr_schedule: str = "none",
        lr_decay: float = 1.0,
        lazy: bool = True,
        patience: int = 3,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.k = check_positive_int("k", k)
        self.layers = [check_positive_int("layers", int(x)) for x in layers]
        if len(self.layers) < 2 or self.layers[0] % 2:
            raise ValueError(f"layers={list(layers)}: need >= 2 sizes, even first")
        self.pretrain = bool(pretrain)
        if alpha == "valid":
            self.alpha = alpha
        else:
            if isinstance(alpha, str):
                raise ValueError(f"alpha={alpha!r}: give a number in [0, 1] or 'valid'")
            self.alpha = check_nonnegative("alpha", alpha)
            if self.alpha > 1:
                raise ValueError(f"alpha={alpha!r}: must be in [0, 1]")
        self.pretrain_epochs = check_positive_int("pretrain_epochs", pretrain_epochs)
        self.pretrain_lr = check_positive("pretrain_lr", pretrain_lr)
        self.dropout = check_nonnegative("dropout", dropout)
        self._check_common(
            n_neg, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
        )
        self.lazy = bool(lazy)
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return NeuMFNet(
            n_users, n_items, self.k, self.layers, as_rng(rng), dropout=self.dropout
        )

    def fit(
        self,
        data: Interactions,
        valid=None,
        on_epoch=None,
        gmf: GMF | None = None,
        mlp: NCFMLP | None = None,
    ) -> NeuMF:
        """Learn from `data`; `gmf` / `mlp` are trained models to start from (they
        must have been trained on the same id space with ``k`` / ``layers`` equal to
        this model's). Without them and with ``pretrain=True`` they are trained
        here."""
        if self.alpha == "valid" and valid is None:
            raise ValueError(
                "NeuMF(alpha='valid') chooses the blend on validation cases: call "
                "fit(data, valid=(users, pos_items, neg_items))"
            )
        self._pre = (gmf, mlp)
        try:
            return super().fit(data, valid=valid, on_epoch=on_epoch)
        finally:
            self._pre = (None, None)

    def _pretrained(self, data: Interactions) -> tuple[GMF, NCFMLP]:
        gmf, mlp = getattr(self, "_pre", (None, None))
        common = dict(
            n_neg=self.n_neg,
            lazy=self.lazy,
            lr=self.pretrain_lr,
            n_epochs=self.pretrain_epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            verbose=self.verbose,
        )
        common["patience"] = self.patience
        valid = getattr(self, "_valid", None)  # selects the pre-training epochs too
        if gmf is None:
            gmf = GMF(k=self.k, **common).fit(data, valid=valid)
        if mlp is None:
            mlp = NCFMLP(layers=self.layers, dropout=self.dropout, **common)
            mlp.fit(data, valid=valid)
        for m, what in ((gmf, "gmf"), (mlp, "mlp")):
            if m.n_users != data.n_users or m.n_items != data.n_items:
                raise ValueError(
                    f"NeuMF.fit: the pre-trained {what} was trained on {m.n_users} "
                    f"users x {m.n_items} items, the data has {data.n_users} x "
                    f"{data.n_items}; pre-train on the same Interactions"
                )
        if gmf.k != self.k or list(mlp.layers) != list(self.layers):
            raise ValueError(
                f"NeuMF.fit: pre-trained sizes (gmf k={gmf.k}, mlp layers="
                f"{list(mlp.layers)}) differ from this model's (k={self.k}, layers="
                f"{list(self.layers)}); build them with the same sizes"
            )
        return gmf, mlp

    def _fit(self, data: Interactions) -> None:
        rng = as_rng(self.seed)
        self.net_ = net = self._build(data.n_users, data.n_items, rng)
        fused = self.pretrain or any(m is not None for m in getattr(self, "_pre", ()))
        if fused:
            gmf, mlp = self._pretrained(data)
            net.gmf.load_state_dict(gmf.net_.state_dict())
            net.mlp.load_state_dict(mlp.net_.state_dict())

            def fuse(a: float) -> None:
                net.h.W.data[...] = np.concatenate(
                    [a * gmf.net_.h.W.data, (1 - a) * mlp.net_.h.W.data], axis=0
                )
                net.h.b.data[...] = a * gmf.net_.h.b.data + (1 - a) * mlp.net_.h.b.data

            if self.alpha == "valid":  # fit() checked that `valid` is given
                hr10 = self._valid_fn()
                scores = []
                for a in np.round(np.arange(11) * 0.1, 1):
                    fuse(float(a))
                    scores.append((hr10(), float(a)))
                self.alpha_scores_ = [(a, hr) for hr, a in scores]
                self.alpha_ = max(scores, key=lambda t: t[0])[1]  # first best
            else:
                self.alpha_ = float(self.alpha)
            fuse(self.alpha_)
            self.pretrain_history_ = {
                "gmf": getattr(gmf, "history_", []),
                "mlp": getattr(mlp, "history_", []),
            }
        # with `valid`, the fused start competes with the fine-tuned epochs (the
        # released NCF code scores it first too); on ML-1M it is often the best
        self._train(data, rng, score_start=fused)


# ====================================================================== explicit
class _RatingBase(NeuralRecommender):
    """Squared loss on ratings; r̂ clipped to the training range when predicting."""

    predicts_ratings = True

    def _net_params(self):
        return self.net_.parameters()

    def _fit(self, data: Interactions) -> None:
        rng = as_rng(self.seed)
        self.mu_ = float(data.ratings.astype(np.float64).mean())
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self.net_ = net = self._build(data.n_users, data.n_items, rng)
        opt = make_optimizer(self.optimizer, list(self._net_params()), self.lr)
        sched = make_scheduler(
            "exp" if self.lr_decay != 1.0 else "none", opt, self.lr_decay
        )
        users, items = data.users, data.items
        ratings = data.ratings.astype(np.float32)
        su, si, sr = np.empty_like(users), np.empty_like(items), np.empty_like(ratings)
        shuffle = host_kernels().shuffle_ratings

        def make_epoch(epoch, r):
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
            rng=rng,
            scheduler=sched,
            advice=_ADVICE,
            verbose=self.verbose,
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
    hidden : sequence of int
        φ's hidden layer sizes.
    lr, reg, n_epochs, batch_size, optimizer, lr_decay, seed, verbose : as GMF.
    init_std : float
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
    ) -> None:
        self.k = check_positive_int("k", k)
        self.hidden = [check_positive_int("hidden", int(h)) for h in hidden]
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        self.optimizer = optimizer
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
    ) -> None:
        super().__init__(
            k, hidden, lr, reg, n_epochs, batch_size, optimizer, lr_decay, init_std,
            seed, verbose,
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
    ) -> None:
        self.k = check_positive_int("k", k)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.reg_bias = check_nonnegative("reg_bias", reg_bias)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.lr_decay = check_positive("lr_decay", lr_decay)
        self.biased = bool(biased)
        self.init_std = check_nonnegative("init_std", init_std)
        self.batch_size = check_batch_size(batch_size)
        self.optimizer = optimizer
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

    def _fit(self, data: Interactions) -> None:
        super()._fit(data)
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
        return self.net_.Q.W.data

    @property
    def P_(self) -> np.ndarray:
        return self.net_.P.W.data

    @property
    def Q_(self) -> np.ndarray:
        return self.net_.Q.W.data

    def _set_state(self, s: dict) -> None:
        n_u, n_i = len(self.user_ids_), len(self.item_ids_)
        self.net_ = _MFNet(
            np.zeros((n_u, self.k), np.float32),
            np.zeros((n_i, self.k), np.float32),
            self.biased,
            0.0,
        )
        self.net_.load_state_dict(
            {k[len("net/") :]: v for k, v in s.items() if k.startswith("net/")}
        )

    def _set_meta_extra(self, extra: dict) -> None:
        super()._set_meta_extra(extra)
        self.net_.mu = self.mu_ if self.biased else 0.0
