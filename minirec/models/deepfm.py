r"""DeepFM: an FM and a DNN on shared field embeddings, for CTR prediction (Guo et al.,
IJCAI 2017; doc 000 §4.3, doc 002 §2.1).

Each example (a user-item pair) is a sparse feature vector x in field format
(:class:`~minirec.data.features.FMFields`: fields user, item, gender, age,
occupation, genres; multi-hot genres carry values 1/#genres). With one embedding
v_j ∈ R^k and one weight w_j per feature::

    y_FM  = w₀ + Σ_j w_j x_j + ½ Σ_f [(Σ_j v_{j,f} x_j)² − Σ_j v²_{j,f} x_j²]
    e_F   = Σ_{j ∈ field F} v_j x_j                      (one embedding per field)
    a⁽⁰⁾  = [e_1; …; e_F];  a⁽ˡ⁺¹⁾ = ReLU(W⁽ˡ⁾ a⁽ˡ⁾ + b⁽ˡ⁾);  y_DNN = W⁽ᴸ⁾ a⁽ᴸ⁾ + b⁽ᴸ⁾
    ŷ     = σ(y_FM + y_DNN)

(doc 000 §4.3 writes σ for the hidden activation; DeepFM's paper uses ReLU.) The FM
and the DNN read the *same* embeddings v_j. Loss: cross-entropy
−[y log ŷ + (1 − y) log(1 − ŷ)] computed from the logit (stable), mean over the
batch, + reg/2 ‖embedding rows of the batch‖²; gradient ∂L/∂z = ŷ − y through the
autograd; mini-batch Adam (lazy on embedding rows). With ``hidden=()`` the DNN is
off and the model is a logistic FM (the baseline).

Cost per epoch O(|R| (W k + Σ_l d_l d_{l+1})) with W feature slots per example.

Labels: the ratings of the training data must be 0/1 clicks
(:func:`minirec.data.ctr.ctr_task`), or pass ``threshold`` to call a rating >=
threshold a click. Scores are click probabilities.

Paper: H. Guo, R. Tang, Y. Ye, Z. Li, X. He, "DeepFM: A Factorization-Machine based
Neural Network for CTR Prediction", IJCAI 2017.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor, array_namespace
from ..autograd import ops as F
from ..backends.device import move
from ..data.features import FMFields, build_fm_fields
from ..data.interactions import Interactions
from ..errors import DataError
from ..nn import MLP, Embedding, Linear, Module, Parameter, losses
from ._train import (
    NeuralRecommender,
    check_batch_size,
    check_device,
    check_sizes,
    epoch_hook,
    make_optimizer,
    permutation,
    train_loop,
)
from .fm import check_fields

__all__ = ["DeepFM", "DeepFMNet"]


class DeepFMNet(Module):
    """``forward(idx, val)`` -> logits (N,) for field-format rows (N, W)."""

    def __init__(self, n_features, slot_field, k, hidden, dropout, rng):
        rng = as_rng(rng)
        self.V = Embedding(n_features, k, std=0.01, sparse=True, rng=rng)
        self.w = Embedding(n_features, 1, std=0.0, sparse=True, rng=rng)
        self.w0 = Parameter(np.zeros(1, np.float32))
        n_fields = int(slot_field.max()) + 1
        # S (W, n_fields): slot s belongs to field slot_field[s]; e_F = Σ_s∈F v x
        self.S = np.zeros((len(slot_field), n_fields), np.float32)
        self.S[np.arange(len(slot_field)), slot_field] = 1.0
        self.dnn = None
        if hidden:
            self.dnn = MLP([n_fields * k, *hidden], dropout=dropout, rng=rng)
            self.out = Linear(hidden[-1], 1, rng=rng)

    def _moved(self, device: str) -> None:
        self.S = move(self.S, device)

    def parts(self, idx: np.ndarray, val: np.ndarray) -> tuple[Tensor, Tensor | None]:
        """(y_FM, y_DNN) logits for rows (idx, val)."""
        x = val[..., None]  # (N, W, 1)
        e = self.V(idx) * x  # v_j x_j, (N, W, k)
        lin = F.sum(F.reshape(self.w(idx), idx.shape) * val, axis=1)
        s = F.sum(e, axis=1)  # Σ_j v_j x_j, (N, k)
        fm2 = F.sum(s * s - F.sum(e * e, axis=1), axis=1) * 0.5
        y_fm = self.w0 + lin + fm2
        if self.dnn is None:
            return y_fm, None
        fields = F.matmul(F.transpose(e, (0, 2, 1)), self.S)  # (N, k, n_fields)
        a0 = F.reshape(F.transpose(fields, (0, 2, 1)), (idx.shape[0], -1))
        return y_fm, F.reshape(self.out(self.dnn(a0)), (-1,))

    def forward(self, idx, val) -> Tensor:
        y_fm, y_dnn = self.parts(idx, val)
        return y_fm if y_dnn is None else y_fm + y_dnn


class _PairNet(Module):
    """Adapts DeepFMNet to (user, item) pairs through the fitted FMFields, whose
    tables it keeps on the network's device."""

    def __init__(self, net: DeepFMNet, fields: FMFields):
        self.net, self.fields = net, fields
        self.tables = (
            fields.user_idx,
            fields.user_val,
            fields.item_idx,
            fields.item_val,
        )

    def _moved(self, device: str) -> None:
        self.tables = tuple(move(t, device) for t in self.tables)

    def rows(self, u, i):
        """``(idx, val)`` (n, W) of (user, item) pairs, as ``FMFields.rows``."""
        ui, uv, ii, iv = self.tables
        xp = array_namespace(ui)
        idx = xp.concatenate([ui[u], ii[i]], axis=1)
        val = xp.concatenate([uv[u], iv[i]], axis=1)
        return xp.ascontiguousarray(idx), xp.ascontiguousarray(val)

    def forward(self, u, i) -> Tensor:
        return self.net(*self.rows(u, i))


class DeepFM(NeuralRecommender):
    """DeepFM for click prediction; ``hidden=()`` gives a logistic FM.

    Parameters
    ----------
    k : int
        Field embedding size.
    hidden : sequence of int
        DNN hidden layers (paper: 400-400-400); () switches the DNN off.
    user_fields, item_fields : "auto", list of str, or None
        Side fields (:func:`minirec.data.features.build_fm_fields`); "auto" uses
        every known one present (ML-1M: gender, age, occupation; genres).
    threshold : float or None
        None: the training ratings must be 0/1 labels; else rating >= threshold = 1.
    lr, reg, n_epochs, batch_size : float, float, int, int
        Adam learning rate, L2 on the embedding rows of each batch, epochs,
        examples per batch.
    dropout : float
        Dropout in the DNN (paper: 0.5).
    seed, verbose : int, bool
    device : {"cpu", "cuda"}
        Where the network, the field tables and the batches live (scores are NumPy).
    """

    name = "deepfm"
    predicts_ratings = False
    accepts_valid = False  # no epoch selection: n_epochs passes

    def __init__(
        self,
        k: int = 16,
        hidden: Sequence[int] = (400, 400, 400),
        user_fields: str | list | None = "auto",
        item_fields: str | list | None = "auto",
        threshold: float | None = None,
        lr: float = 0.001,
        reg: float = 0.0,
        n_epochs: int = 5,
        batch_size: int = 1024,
        dropout: float = 0.0,
        seed: int = 0,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.hidden = check_sizes("hidden", hidden, allow_empty=True)
        self.user_fields = check_fields("user_fields", user_fields)
        self.item_fields = check_fields("item_fields", item_fields)
        self.threshold = None if threshold is None else float(threshold)
        self.lr = check_positive("lr", lr)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        self.dropout = check_nonnegative("dropout", dropout)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _labels(self, data: Interactions) -> np.ndarray:
        r = data.ratings
        if self.threshold is not None:
            return (r >= self.threshold).astype(np.float32)
        if not np.isin(r, (0.0, 1.0)).all():
            bad = float(r[~np.isin(r, (0.0, 1.0))][0])
            raise DataError(
                f"DeepFM: training ratings must be 0/1 click labels, found {bad:g}; "
                "build the data with minirec.data.ctr.ctr_task(data) or pass "
                "threshold=4 to call ratings >= 4 clicks"
            )
        return r.astype(np.float32)

    def _build(self, n_users, n_items, rng) -> Module:
        f = self.fields_
        net = DeepFMNet(
            f.n_features, f.slot_field, self.k, self.hidden, self.dropout, rng
        )
        return _PairNet(net, f)

    def _fit(self, data: Interactions, on_epoch=None) -> None:
        y = self._labels(data)
        rng = as_rng(self.seed)
        self.fields_ = build_fm_fields(data, self.user_fields, self.item_fields)
        self.net_ = pn = self._place(self._build(data.n_users, data.n_items, rng))
        opt = make_optimizer("adam", pn.parameters(), self.lr)
        xp = self.xp
        users, items, y = self._dev(data.users), self._dev(data.items), self._dev(y)

        def make_epoch(epoch, r):
            perm = permutation(r, len(users), xp)
            return users[perm], items[perm], y[perm]

        def step(batch) -> float:
            u, i, t = batch
            idx, val = pn.rows(u, i)
            loss = losses.bce_with_logits(pn.net(idx, val), t)
            if self.reg:
                loss = loss + losses.l2_penalty([pn.net.V(idx)], self.reg / len(u))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        self.history_ = train_loop(
            model="DeepFM" if self.hidden else "FM (DeepFM, dnn off)",
            net=pn,
            opt=opt,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            make_epoch=make_epoch,
            step=step,
            rng=self._epoch_rng(rng),
            advice="lower lr or raise reg",
            verbose=self.verbose,
            on_epoch=epoch_hook(self, on_epoch),
        )

    def _forward_scores(self, u, i):
        """Click probabilities σ(y_FM + y_DNN)."""
        z = super()._forward_scores(u, i).astype(np.float64)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def _state(self) -> dict:
        s = super()._state()
        s.update(self.fields_.state())
        return s

    def _set_state(self, s: dict) -> None:
        self.fields_ = FMFields.from_state(s)
        super()._set_state(s)
