r"""I-AutoRec: an item-based autoencoder for rating prediction (Sedhain et al. 2015;
doc 001 §3.2, whose autoencoder section is elided: this is the model it points to).

Each item i is the vector of its ratings by all m users, r_i ∈ R^m (0 where
unobserved). The network reconstructs it through a k-unit bottleneck::

    h(r_i) = f(W · g(V r_i + μ) + b),   g = sigmoid, f = identity
    V ∈ R^{k×m}, μ ∈ R^k, W ∈ R^{m×k}, b ∈ R^m

Prediction: r̂_ui = h(r_i)_u (clipped to the rating range; the training mean for an
item or user with no training rating, as the paper's default rating).

Loss — only observed ratings count (the mask O_i of observed users of item i)::

    L = Σ_i ‖(r_i − h(r_i)) ⊙ O_i‖² + λ/2 (‖W‖²_F + ‖V‖²_F)

Gradient: back-propagation through the masked error; a mini-batch of B items
estimates L as ``Σ_batch ‖·‖² + (B / n) λ/2 (‖W‖² + ‖V‖²)``, divided by B (Adam is
insensitive to that scale; the data/penalty balance is the paper's). The paper
minimises with L-BFGS / Rprop; we use mini-batch Adam.

Cost per epoch O(n m k) (two dense products per item), memory O(n m) for the
dense rating matrix. Paper: S. Sedhain, A. K. Menon, S. Sanner, L. Xie,
"AutoRec: Autoencoders Meet Collaborative Filtering", WWW 2015 (ML-1M 90/10 RMSE
0.831 with k = 500).
"""

from __future__ import annotations

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor, no_grad
from ..autograd import ops as F
from ..data.interactions import CSR, Interactions
from ..nn import Linear, Module
from ._train import NeuralRecommender, check_batch_size, make_optimizer, train_loop

__all__ = ["AutoRec", "AutoRecNet", "autorec_loss"]


class AutoRecNet(Module):
    """h(r) = W sigmoid(V r + μ) + b on a batch of item rows r (B, m)."""

    def __init__(self, n_users: int, hidden: int, rng=None):
        self.encoder = Linear(n_users, hidden, init="xavier", rng=rng)  # V, μ
        self.decoder = Linear(hidden, n_users, init="xavier", rng=rng)  # W, b

    def forward(self, r: Tensor) -> Tensor:
        return self.decoder(F.sigmoid(self.encoder(r)))


def autorec_loss(
    net: AutoRecNet, r: np.ndarray, mask: np.ndarray, reg: float, frac: float = 1.0
) -> Tensor:
    """(Σ ‖(r − h(r)) ⊙ mask‖² + frac · λ/2 (‖W‖² + ‖V‖²)) / B for a batch of B
    item rows; ``frac`` = B / n_items makes the batch penalties sum to λ/2 ‖·‖²."""
    e = (net(Tensor(r)) - r) * mask
    loss = F.sum(e * e)
    if reg:
        V, W = net.encoder.W, net.decoder.W
        loss = loss + (F.sum(V * V) + F.sum(W * W)) * (frac * reg / 2)
    return loss / r.shape[0]


class AutoRec(NeuralRecommender):
    """I-AutoRec (item-based autoencoder) for rating prediction.

    Parameters
    ----------
    hidden : int
        Bottleneck units k (paper: 500).
    reg : float
        λ, the L2 penalty on W and V.
    lr : float
        Adam learning rate.
    n_epochs : int
    batch_size : int
        Items per mini-batch.
    optimizer : {"adam", "sgd", "adagrad"}
    seed : int
    verbose : bool
    """

    name = "autorec"
    predicts_ratings = True

    def __init__(
        self,
        hidden: int = 500,
        reg: float = 1.0,
        lr: float = 0.001,
        n_epochs: int = 100,
        batch_size: int = 256,
        optimizer: str = "adam",
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.hidden = check_positive_int("hidden", hidden)
        self.reg = check_nonnegative("reg", reg)
        self.lr = check_positive("lr", lr)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        if optimizer not in ("adam", "sgd", "adagrad"):
            raise ValueError(
                f"optimizer={optimizer!r}: choose 'adam', 'sgd', 'adagrad'"
            )
        self.optimizer = optimizer
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return AutoRecNet(n_users, self.hidden, as_rng(rng))

    def _fit(self, data: Interactions) -> None:
        rng = as_rng(self.seed)
        n_users, n_items = data.n_users, data.n_items
        self.mu_ = float(data.ratings.astype(np.float64).mean())
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self._R = data.by_item  # item rows: the autoencoder's inputs
        self._recon = None
        R, M = self._dense()
        self.net_ = net = self._build(n_users, n_items, rng)
        opt = make_optimizer(self.optimizer, net.parameters(), self.lr)
        frac = self.batch_size / n_items
        order = np.arange(n_items)

        def make_epoch(epoch, r):
            r.shuffle(order)
            return (order.copy(),)

        def step(batch) -> float:
            (rows,) = batch
            loss = autorec_loss(net, R[rows], M[rows], self.reg, frac)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        self.history_ = train_loop(
            model="AutoRec",
            net=net,
            opt=opt,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            make_epoch=make_epoch,
            step=step,
            rng=rng,
            advice="lower lr or raise reg",
            verbose=self.verbose,
            on_epoch=self._wrap_hook(),
        )
        self._recon = None

    def _wrap_hook(self):
        hook = self._epoch_hook()
        if hook is None:
            return None

        def run(epoch, rec):
            self._recon = None  # the weights changed: recompute on demand
            hook(epoch, rec)

        return run

    def _dense(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense item x user ratings R (0 where missing) and the 0/1 mask."""
        c = self._R
        n_items, n_users = c.n_rows, len(self.user_ids_)
        R = np.zeros((n_items, n_users), dtype=np.float32)
        rows = np.repeat(np.arange(n_items), np.diff(c.indptr))
        R[rows, c.indices] = c.data
        M = np.zeros_like(R)
        M[rows, c.indices] = 1.0
        return R, M

    def reconstruct(self) -> np.ndarray:
        """h(r_i) for every item: (n_items, n_users), cached until the next fit."""
        if getattr(self, "_recon", None) is None:
            R, _ = self._dense()
            out = np.empty_like(R)
            self.net_.eval()
            with no_grad():
                for s in range(0, len(R), 1024):
                    out[s : s + 1024] = self.net_(Tensor(R[s : s + 1024])).numpy()
            self.net_.train()
            # items / users without a training rating: the training mean
            out[np.diff(self._R.indptr) == 0, :] = self.mu_
            seen_users = np.zeros(out.shape[1], dtype=bool)
            seen_users[self._R.indices] = True
            out[:, ~seen_users] = self.mu_
            self._recon = out
        return self._recon

    def _predict_pairs(self, u, i):
        return np.clip(self.reconstruct()[i, u], *self.rating_range_)

    def _score(self, u):
        return np.ascontiguousarray(self.reconstruct()[:, u].T)

    def _item_vectors(self) -> np.ndarray:
        """Each item's hidden code g(V r_i + μ)."""
        R, _ = self._dense()
        with no_grad():
            return F.sigmoid(self.net_.encoder(Tensor(R))).numpy()

    def _state(self) -> dict:
        s = super()._state()
        s.update(
            R_indptr=self._R.indptr, R_indices=self._R.indices, R_data=self._R.data
        )
        return s

    def _set_state(self, s: dict) -> None:
        super()._set_state(s)
        ind = s["R_indices"]
        self._R = CSR(s["R_indptr"], ind, s["R_data"], np.arange(len(ind)))
        self._recon = None

    def _meta_extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])
