r"""Neural collaborative filtering on minirec's autograd (He et al., WWW 2017): GMF,
NCF's MLP and NeuMF. (The documents' neural *rating* models, PhiMF, RatingMLP and
DeepALS, are in :mod:`minirec.models.rating_nets`.)

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
GMF and MLP (trained in its fit, or given: ``NeuMF(gmf=..., mlp=...)``), its output
weights set to h ← [α h^GMF ; (1−α) h^MLP], α = 0.5, and is then tuned with plain
SGD (the paper: Adam's moments are not available to carry over).

"Predictive factors" (the paper's capacity knob) = size of the last hidden layer:
for 32, GMF has k = 32 and MLP has embeddings of 64 and three hidden layers
128 → 64 → 32 on the concatenation [p_u; q_i] of size 128, i.e.
``layers=(128, 128, 64, 32)`` (the paper's §4.1: "we employed three hidden layers
for MLP; for example, if the size of predictive factors is 8, then the architecture
of the neural CF layers is 32 → 16 → 8, and the embedding size is 16").

Model selection (the paper's §4.1: "we randomly sampled one interaction for each
user as the validation data and tuned hyper-parameters on it"):
``fit(data, valid=(users, items, negatives))`` scores HR@10 on held-out cases after
every epoch, keeps the best epoch's weights (``best_epoch_``) and stops after
``patience`` epochs without improvement.

Cost per epoch: O(|Y| (1 + n_negatives) (k + Σ_l d_l d_{l+1})) time; scoring all
items for a user O(n_items Σ_l d_l d_{l+1}).

Paper: X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua, "Neural Collaborative
Filtering", WWW 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from ..backends.device import to_host
from ..data.interactions import Interactions
from ..nn import MLP, Embedding, Linear, Module, losses
from ._train import (
    NegativeSampler,
    NeuralRecommender,
    check_batch_size,
    check_device,
    check_n_negatives,
    check_optimizer,
    check_sizes,
    epoch_hook,
    fitted_start,
    make_optimizer,
    make_scheduler,
    pointwise_epoch,
    train_loop,
)

# the documents' rating models lived here: old imports and model files naming
# minirec.models.ncf:PhiMF (RatingMLP, DeepALS) still find them
from .rating_nets import DeepALS, PhiMF, RatingMLP  # noqa: F401

__all__ = ["GMF", "NCFMLP", "NeuMF"]

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
    renamed_params: ClassVar[dict[str, str]] = {"n_neg": "n_negatives"}

    def _check_common(
        self, n_negatives, lr, reg, n_epochs, batch_size, optimizer, lr_schedule,
        lr_decay,
    ):  # fmt: skip
        self.n_negatives = check_positive_int("n_negatives", n_negatives)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        self.optimizer = check_optimizer(optimizer)
        if lr_schedule not in ("none", "exp", "step"):
            raise ValueError(
                f"lr_schedule={lr_schedule!r}: choose 'none', 'exp', 'step'"
            )
        self.lr_schedule = lr_schedule
        self.lr_decay = check_positive("lr_decay", lr_decay)

    def _train(
        self, data: Interactions, rng, valid, on_epoch, score_start: bool = False
    ) -> None:
        check_n_negatives(data, self.n_negatives, type(self).__name__)
        net = self.net_
        lazy = getattr(self, "lazy", True)
        opt = make_optimizer(self.optimizer, net.parameters(), self.lr, lazy=lazy)
        sched = make_scheduler(self.lr_schedule, opt, self.lr_decay, 1)
        reg = self.reg
        sampler = NegativeSampler(data, self.xp)

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
            make_epoch=lambda e, r: pointwise_epoch(data, self.n_negatives, r, sampler),
            step=step,
            rng=self._epoch_rng(rng),
            scheduler=sched,
            valid=self._valid_fn(valid),
            patience=getattr(self, "patience", 3),
            advice=_ADVICE,
            verbose=self.verbose,
            on_epoch=epoch_hook(self, on_epoch),
            score_start=score_start,
        )
        # the epoch whose weights the model holds: the best on `valid`, else the
        # last (0: the starting weights, NeuMF's fused pre-trained models)
        best = [h["epoch"] for h in self.history_ if h.get("best")]
        last = self.history_[-1]["epoch"] if self.history_ else 0
        self.best_epoch_ = best[-1] if best else last

    def _reg_term(self, u, i) -> Tensor:
        """½ Σ ‖embedding rows used in the batch‖² (user tables are named P)."""
        terms = [
            e(u if name.endswith("P") else i)
            for name, e in _walk(self.net_, "")
            if isinstance(e, Embedding)
        ]
        return losses.l2_penalty(terms, 1.0)

    def _fit(self, data: Interactions, valid=None, on_epoch=None) -> None:
        rng = as_rng(self.seed)
        self.net_ = self._place(self._build(data.n_users, data.n_items, rng))
        self._train(data, rng, valid, on_epoch)


def _check_layers(layers) -> Sequence[int]:
    """NCF tower sizes: at least two, the first even (2 × embedding size)."""
    out = check_sizes("layers", layers)
    if len(out) < 2 or out[0] % 2:
        raise ValueError(
            f"layers={list(layers)}: need at least two sizes and an even first "
            "size (2 × embedding size)"
        )
    return out


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
    n_negatives : int
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
        code (every row keeps moving with its momentum; slower per step; the two
        reach the figures in the notes of benchmarks/results/ncf.md).
    patience : int
        Early-stopping patience (with ``valid``).
    seed : int
    verbose : bool
        Print each epoch's loss.
    device : {"cpu", "cuda"}
        Where the network, its optimizer state and the sampled batches live
        (``"cuda"``: CuPy on a GPU; scores and model files stay NumPy).
    """

    name = "gmf"
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "net/P.W": "float32 (n_users, k)",
        "net/Q.W": "float32 (n_items, k)",
    }

    def __init__(
        self,
        k: int = 32,
        n_negatives: int = 4,
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
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self._check_common(
            n_negatives, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
        )
        self.lazy = bool(lazy)
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return GMFNet(n_users, n_items, self.k, as_rng(rng))

    def _item_vectors(self) -> np.ndarray:
        return to_host(self.net_.Q.W.data * self.net_.h.W.data[:, 0])


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
        n_negatives: int = 4,
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
        device: str = "cpu",
    ) -> None:
        self.device = check_device(device)
        if init not in ("he", "xavier"):
            raise ValueError(f"init={init!r}: choose 'he' or 'xavier'")
        self.init = init
        self.layers = _check_layers(layers)
        self.dropout = check_nonnegative("dropout", dropout)
        self._check_common(
            n_negatives, lr, reg, n_epochs, batch_size, optimizer, lr_schedule, lr_decay
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
        With ``fit(data, valid=...)`` the pre-training epochs are selected on
        `valid` as well (early stopping with ``patience``).
    alpha : float or "valid"
        Weight of the GMF branch in the initial output layer (paper: 0.5).
        ``"valid"``: the weight among 0, 0.1, ..., 1 whose fused start has the best
        HR@10 on `valid` (``fit(..., valid=...)`` is then required); the choice is
        kept in ``alpha_`` (its choice on ML-1M: config ``ncf/neumf``).
    n_epochs : int
        Fine-tuning epochs after the fused start (the most, with ``valid``); 0
        keeps the fused start itself (needs pre-training or `gmf` / `mlp`).
    pretrain_epochs, pretrain_lr : int, float
        Epochs (the most, with ``valid``) and Adam learning rate of the GMF and
        NCFMLP that pre-training trains.
    gmf, mlp : GMF, NCFMLP or None
        Warm starts: a GMF with this ``k`` and an NCFMLP with these ``layers``.
        Fitted (on the same Interactions), their weights are the start; unfitted
        (e.g. after ``sklearn.base.clone``), a copy of each is fitted first with
        its own hyperparameters (and ``valid``). Either one given implies the
        fused start (the other is pre-trained as ``pretrain`` says). Not stored
        in the model file: a loaded model has None here, and ``fit_info_``
        names them.
    Others as :class:`GMF`.
    """

    name = "neumf"
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "net/gmf.P.W": "float32 (n_users, k)",
        "net/gmf.Q.W": "float32 (n_items, k)",
    }
    warm_start_params = ("gmf", "mlp")

    def __init__(
        self,
        k: int = 32,
        layers: Sequence[int] = (128, 128, 64, 32),
        pretrain: bool = True,
        alpha: float | str = 0.5,
        pretrain_epochs: int = 20,
        pretrain_lr: float = 0.001,
        n_negatives: int = 4,
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
        gmf: GMF | None = None,
        mlp: NCFMLP | None = None,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.layers = _check_layers(layers)
        for name, m, cls in (("gmf", gmf, GMF), ("mlp", mlp, NCFMLP)):
            if m is not None and not isinstance(m, cls):
                raise TypeError(
                    f"NeuMF({name}=...): a {type(m).__name__} was given; pass a "
                    f"{cls.__name__} (fitted or not) or None"
                )
        self.gmf, self.mlp = gmf, mlp
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
        # n_epochs=0: the fused start is the model (no fine-tuning)
        keep_start = not isinstance(n_epochs, bool) and n_epochs == 0
        if keep_start and not (pretrain or gmf is not None or mlp is not None):
            raise ValueError(
                "NeuMF(n_epochs=0) keeps the fused pre-trained start: it needs "
                "pretrain=True or a gmf / mlp to start from"
            )
        self._check_common(
            n_negatives, lr, reg, 1 if keep_start else n_epochs, batch_size,
            optimizer, lr_schedule, lr_decay,
        )  # fmt: skip
        if keep_start:
            self.n_epochs = 0
        self.lazy = bool(lazy)
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return NeuMFNet(
            n_users, n_items, self.k, self.layers, as_rng(rng), dropout=self.dropout
        )

    def _pretrained(self, data: Interactions, valid) -> tuple[GMF, NCFMLP]:
        """The fitted GMF and NCFMLP to fuse: the given ones (fitted here when
        they are not), or trained here with the pre-training hyperparameters (their
        epochs selected on `valid` too)."""
        common = dict(
            n_negatives=self.n_negatives,
            lazy=self.lazy,
            lr=self.pretrain_lr,
            n_epochs=self.pretrain_epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            verbose=self.verbose,
            device=self.device,
        )
        common["patience"] = self.patience
        gmf, mlp = self.gmf, self.mlp
        if gmf is None:
            gmf = GMF(k=self.k, **common).fit(data, valid=valid)
        else:
            gmf = fitted_start(gmf, data, valid)
        if mlp is None:
            mlp = NCFMLP(layers=self.layers, dropout=self.dropout, **common)
            mlp.fit(data, valid=valid)
        else:
            mlp = fitted_start(mlp, data, valid)
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

    def _fit(self, data: Interactions, valid=None, on_epoch=None) -> None:
        if self.alpha == "valid" and valid is None:
            raise ValueError(
                "NeuMF(alpha='valid') chooses the blend on validation cases: call "
                "fit(data, valid=(users, pos_items, neg_items))"
            )
        rng = as_rng(self.seed)
        self.net_ = net = self._place(self._build(data.n_users, data.n_items, rng))
        fused = self.pretrain or self.gmf is not None or self.mlp is not None
        if fused:
            gmf, mlp = self._pretrained(data, valid)
            given = {"gmf": self.gmf, "mlp": self.mlp}
            self._warm_start_info({n: m for n, m in given.items() if m is not None})
            # the starts' weights, wherever they live, copied onto this device
            net.gmf.load_state_dict(gmf.net_.state_dict())
            net.mlp.load_state_dict(mlp.net_.state_dict())
            gW, gb = to_host(gmf.net_.h.W.data), to_host(gmf.net_.h.b.data)
            mW, mb = to_host(mlp.net_.h.W.data), to_host(mlp.net_.h.b.data)

            def fuse(a: float) -> None:
                W = np.concatenate([a * gW, (1 - a) * mW], axis=0)
                net.h.W.data[...] = self._dev(W)
                net.h.b.data[...] = self._dev(a * gb + (1 - a) * mb)

            if self.alpha == "valid":  # checked above that `valid` is given
                hr10 = self._valid_fn(valid)
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
        # released NCF code scores it first too)
        self._train(data, rng, valid, on_epoch, score_start=fused)
