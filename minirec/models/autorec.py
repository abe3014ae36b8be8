r"""I-AutoRec: an item-based autoencoder for rating prediction (Sedhain et al. 2015;
doc 001 §3.2, whose autoencoder section is elided: this is the model it points to).

Each item i is the vector of its ratings by all m users, r_i ∈ R^m (0 where
unobserved). The network reconstructs it through a k-unit bottleneck::

    h(r_i) = f(W · g(V r_i + μ) + b),   g = sigmoid, f = identity
    V ∈ R^{k×m}, μ ∈ R^k, W ∈ R^{m×k}, b ∈ R^m

Prediction: r̂_ui = h(r_i)_u (clipped to the rating range; the training mean for an
item or user with no input rating, where the paper uses a default rating of 3).

Loss — only observed ratings count (the mask O_i of observed users of item i)::

    L = Σ_i ‖(r_i − h(r_i)) ⊙ O_i‖² + λ/2 (‖W‖²_F + ‖V‖²_F)

λ belongs to the *sum* over all training ratings, as in the paper. A mini-batch of
B of the n items computes ``(Σ_batch ‖·‖² + (B / n) λ/2 (‖W‖² + ‖V‖²)) / B``, with
B the batch's own size (the last one is shorter): B times it, summed over the
batches of one pass, is L exactly — the penalty counts once per pass, not once per
batch (that would multiply λ by n / B). The authors' code minimises
``½ Σ e² + ½ λ' ‖·‖²``, so their λ' = 100-200 is λ = 200-400 here.

Optimisation: ``optimizer="lbfgs"`` (default) is full-batch L-BFGS on L, as in the
paper (scipy's L-BFGS-B; the gradient by back-propagation, accumulated over chunks
of rows by :func:`full_objective`); "adam" / "sgd" / "adagrad" take mini-batches
of items.

Model selection (``early_stopping``, default on): ``validation_fraction`` of the
training ratings (seeded) are held out of both the inputs and the targets; their
RMSE after every iteration / epoch decides when to stop (``patience``) and which
weights to keep (``best_epoch_``). With k = 500 the net has ~2·500·m weights for n
item rows, so it overfits as training goes on, and only the held-out ratings can
say when.

Defaults: k = 500, λ = 400, L-BFGS for at most 500 iterations, 5% validation,
patience 30 (paper: ML-1M 90/10 RMSE 0.831; minirec's figure with these defaults is
the row ``rating/ml1m-autorec`` of benchmarks/results/rating.md).

Cost per epoch / iteration O(n m k) (dense products), memory O(n m) for the dense
rating matrix. Paper: S. Sedhain, A. K. Menon, S. Sanner, L. Xie, "AutoRec:
Autoencoders Meet Collaborative Filtering", WWW 2015 (ML-1M 90/10 RMSE 0.831 with
k = 500).
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor, no_grad
from ..autograd import ops as F
from ..backends.device import to_host
from ..data.interactions import CSR, Interactions
from ..errors import TrainingDivergedError
from ..nn import Linear, Module
from ._train import (
    NeuralRecommender,
    check_batch_size,
    check_device,
    epoch_hook,
    make_optimizer,
    shuffle,
    train_loop,
)

__all__ = ["AutoRec", "AutoRecNet", "autorec_loss", "full_objective"]

OPTIMIZERS = ("lbfgs", "adam", "sgd", "adagrad")


class AutoRecNet(Module):
    """h(r) = W sigmoid(V r + μ) + b on a batch of item rows r (B, m)."""

    def __init__(self, n_users: int, k: int, rng=None):
        self.encoder = Linear(n_users, k, init="xavier", rng=rng)  # V, μ
        self.decoder = Linear(k, n_users, init="xavier", rng=rng)  # W, b

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


def full_objective(
    net: AutoRecNet, R: np.ndarray, M: np.ndarray, reg: float, chunk: int = 1024
) -> float:
    """The paper's L over all item rows, with its gradient *added* into the
    parameters' ``.grad`` (call ``net.zero_grad()`` first). Computed in chunks of
    rows: B_c · autorec_loss(chunk, frac=B_c/n) summed over the chunks is L exactly
    (each chunk carries its share B_c/n of the penalty)."""
    n, total = len(R), 0.0
    for s in range(0, n, chunk):
        B = min(chunk, n - s)
        loss = autorec_loss(net, R[s : s + B], M[s : s + B], reg, B / n) * B
        loss.backward()
        total += loss.item()
    return total


class AutoRec(NeuralRecommender):
    """I-AutoRec (item-based autoencoder) for rating prediction.

    Parameters
    ----------
    k : int
        Bottleneck units, the latent size (paper: 500; ``hidden=`` is its deprecated
        name).
    reg : float
        λ of the paper's objective, the L2 penalty λ/2 (‖W‖² + ‖V‖²) next to the
        *sum* of squared errors over all training ratings (never re-weighted per
        mini-batch: a batch carries its share B/n of it).
    lr : float
        Learning rate of "adam" / "sgd" / "adagrad" (unused by "lbfgs").
    n_epochs : int
        Epochs (mini-batch optimizers) or iterations ("lbfgs", one full pass or
        more each), at most.
    batch_size : int
        Items per mini-batch (unused by "lbfgs", which is full batch).
    optimizer : {"lbfgs", "adam", "sgd", "adagrad"}
        "lbfgs": full-batch L-BFGS (scipy's L-BFGS-B), as in the paper.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training ratings (seeded), measure
        their RMSE after every epoch / iteration, stop when it has not improved for
        ``patience`` of them and keep the best one's weights (``best_epoch_``).
        The held-out ratings are neither targets nor inputs of the network.
    validation_fraction : float
        Share of the training ratings held out for early stopping.
    patience : int
        Epochs / iterations without improvement before stopping.
    seed : int
        Seed of the initialisation, the validation split and the shuffles.
    verbose : bool
    device : {"cpu", "cuda"}
        Where the network, the dense rating rows and the batches live while
        fitting (predictions, codes and the model file are NumPy).
    """

    name = "autorec"
    predicts_ratings = True
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "R_indptr": "int64 (n_items+1,) indptr R_indices",
        "R_indices": "int32 (n_ratings,) < n_users",
        "R_data": "float32 (n_ratings,)",
    }
    meta_schema = {"mu": "float", "rating_range": "float (2,)"}
    accepts_valid = False  # selects on its own held-out ratings (early_stopping)
    renamed_params: ClassVar[dict[str, str]] = {"hidden": "k"}

    def __init__(
        self,
        k: int = 500,
        reg: float = 400.0,
        lr: float = 0.001,
        n_epochs: int = 500,
        batch_size: int = 256,
        optimizer: str = "lbfgs",
        early_stopping: bool = True,
        validation_fraction: float = 0.05,
        patience: int = 30,
        seed: int = 0,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.reg = check_nonnegative("reg", reg)
        self.lr = check_positive("lr", lr)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r}: choose one of {OPTIMIZERS}")
        self.optimizer = optimizer
        self.early_stopping = bool(early_stopping)
        self.validation_fraction = check_positive(
            "validation_fraction", validation_fraction
        )
        if self.validation_fraction >= 1:
            raise ValueError(
                f"validation_fraction={validation_fraction!r}: must be in (0, 1)"
            )
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)

    def _build(self, n_users, n_items, rng) -> Module:
        return AutoRecNet(n_users, self.k, as_rng(rng))

    def _fit(self, data: Interactions, on_epoch=None) -> None:
        rng = as_rng(self.seed)
        fit, val = data, None
        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * len(data))))
            if n_val >= len(data):
                raise ValueError(
                    f"AutoRec: {len(data)} ratings are too few to hold out "
                    f"validation_fraction={self.validation_fraction}"
                )
            perm = rng.permutation(len(data))
            val = data.subset(np.sort(perm[:n_val]))
            fit = data.subset(np.sort(perm[n_val:]))
        self.mu_ = float(data.ratings.astype(np.float64).mean())
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self._R = fit.by_item  # item rows: the autoencoder's inputs
        self._forget()
        R, M = self._dense()
        R, M = self._dev(R), self._dev(M)  # copied to the device once
        self._inputs = R  # the dense rows, reused for predictions while fitting
        self.net_ = net = self._place(self._build(data.n_users, data.n_items, rng))
        valid = None
        if val is not None:
            vu, vi, vr = val.users, val.items, val.ratings.astype(np.float64)

            def valid() -> float:  # higher is better for the loops: −RMSE
                self._forget()  # the weights changed
                err = vr - self._predict_pairs(vu, vi)
                return -float(np.sqrt(np.mean(err * err)))

        hook = self._wrap_hook(on_epoch)
        if self.optimizer == "lbfgs":
            self.history_ = self._fit_lbfgs(net, R, M, valid, hook)
        else:
            self.history_ = self._fit_minibatch(
                net, R, M, self._epoch_rng(rng), valid, hook
            )
        self.best_epoch_ = len(self.history_)
        for rec in self.history_:
            if rec.get("best"):
                self.best_epoch_ = rec["epoch"]
        self._forget()
        self._inputs = None

    def _fit_minibatch(self, net, R, M, rng, valid, hook) -> list[dict]:
        n_items = len(R)
        opt = make_optimizer(self.optimizer, net.parameters(), self.lr)
        xp = self.xp
        order = xp.arange(n_items)

        def make_epoch(epoch, r):
            shuffle(r, order, xp)
            return (order.copy(),)

        def step(batch) -> float:
            (rows,) = batch
            loss = autorec_loss(net, R[rows], M[rows], self.reg, len(rows) / n_items)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        return train_loop(
            model="AutoRec",
            net=net,
            opt=opt,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            make_epoch=make_epoch,
            step=step,
            rng=rng,
            valid=valid,
            patience=self.patience,
            advice="lower lr or raise reg",
            verbose=self.verbose,
            on_epoch=hook,
        )

    def _fit_lbfgs(self, net, R, M, valid, hook) -> list[dict]:
        """Full-batch L-BFGS on the paper's objective L (the sum, not a mean).
        One history record per L-BFGS iteration; early stopping as for epochs.
        scipy works on a host vector: on a GPU each evaluation copies the weights
        in and the gradient out (explicitly), the products stay on the device."""
        from scipy.optimize import minimize

        params = net.parameters()
        n_items = len(R)

        def unflatten(x: np.ndarray) -> None:
            o = 0
            for p in params:
                p.data[...] = self._dev(x[o : o + p.data.size].reshape(p.data.shape))
                o += p.data.size

        def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
            unflatten(x)
            net.zero_grad()
            total = full_objective(net, R, M, self.reg)
            if not np.isfinite(total):
                raise TrainingDivergedError(
                    f"AutoRec: the objective became {total} during L-BFGS; raise reg "
                    "or use optimizer='adam' with a small lr"
                )
            g = np.concatenate([to_host(p.grad).ravel() for p in params])
            g = g.astype(np.float64)
            return total, g

        history: list[dict] = []
        best, best_state, bad = -np.inf, None, 0
        t0 = [time.perf_counter()]

        def callback(intermediate_result) -> None:
            nonlocal best, best_state, bad
            unflatten(intermediate_result.x)
            rec = {
                "epoch": len(history) + 1,
                "loss": float(intermediate_result.fun) / n_items,
                "seconds": time.perf_counter() - t0[0],
            }
            if valid is not None:
                rec["valid"] = score = valid()
                if score > best + 1e-9:
                    best, bad, rec["best"] = score, 0, True
                    best_state = net.state_dict()
                else:
                    bad += 1
            history.append(rec)
            if hook is not None:
                hook(rec["epoch"], rec)
            if self.verbose:
                print("AutoRec " + ", ".join(f"{k}={v:.5g}" for k, v in rec.items()))
            t0[0] = time.perf_counter()
            if valid is not None and bad >= self.patience:
                raise StopIteration  # scipy >= 1.11 ends minimize() cleanly

        x0 = np.concatenate([to_host(p.data).ravel() for p in params])
        x0 = x0.astype(np.float64)
        res = minimize(
            fg,
            x0,
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={"maxiter": self.n_epochs, "maxfun": 2 * self.n_epochs},
        )
        if best_state is not None:
            net.load_state_dict(best_state)
        else:  # the last iterate (not a line-search trial point)
            unflatten(res.x)
        return history

    def _wrap_hook(self, on_epoch):
        """The per-epoch hook of both loops: the loops keep −RMSE under "valid"
        (higher is better); the record shows it as "valid_rmse"."""
        hook = epoch_hook(self, on_epoch)

        def run(epoch, rec):
            if "valid" in rec:
                rec["valid_rmse"] = -rec.pop("valid")
            if hook is not None:
                self._forget()  # the weights changed: recompute on demand
                hook(epoch, rec)
            self._forget()  # training goes on: what it computed will be stale

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

    def _cold(self) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the items and users without a rating among the inputs."""
        seen_users = np.zeros(len(self.user_ids_), dtype=bool)
        seen_users[self._R.indices] = True
        return np.diff(self._R.indptr) == 0, ~seen_users

    def _codes(self, R: np.ndarray) -> np.ndarray:
        """Hidden codes g(V r_i + μ) of item rows R (host or device), in chunks, no
        graph; a host array."""
        out = np.empty((len(R), self.k), dtype=np.float32)
        self.net_.eval()
        with no_grad():
            for s in range(0, len(R), 1024):
                r = Tensor(self._dev(R[s : s + 1024]))
                out[s : s + 1024] = F.sigmoid(self.net_.encoder(r)).numpy()
        self.net_.train()
        return out

    def _forget(self) -> None:
        """Drop the codes and reconstruction computed from the current weights."""
        self._cache: dict = {}

    def _item_codes(self) -> np.ndarray:
        """Codes of all items from their input rows, cached until the weights
        change."""
        if "codes" not in self._cache:
            R = getattr(self, "_inputs", None)
            self._cache["codes"] = self._codes(R if R is not None else self._dense()[0])
        return self._cache["codes"]

    def reconstruct(self) -> np.ndarray:
        """h(r_i) for every item: (n_items, n_users), cached until the weights
        change; the training mean for cold items and users."""
        if "recon" not in self._cache:
            dec = self.net_.decoder
            out = self._item_codes() @ to_host(dec.W.data) + to_host(dec.b.data)
            cold_items, cold_users = self._cold()
            out[cold_items, :] = self.mu_
            out[:, cold_users] = self.mu_
            self._cache["recon"] = out
        return self._cache["recon"]

    def _predict_pairs(self, u, i):
        """h(r_i)_u at the pairs only: one dot product of item i's code with
        column u of W per pair (cheaper than the n × m reconstruction)."""
        u, i = np.asarray(u), np.asarray(i)
        H = self._item_codes()
        WT = np.ascontiguousarray(to_host(self.net_.decoder.W.data).T)  # (m, k)
        b = to_host(self.net_.decoder.b.data)
        out = np.empty(len(u), dtype=np.float32)
        step = 1 << 14
        for s in range(0, len(u), step):
            uu, ii = u[s : s + step], i[s : s + step]
            out[s : s + step] = np.einsum("nk,nk->n", H[ii], WT[uu]) + b[uu]
        cold_items, cold_users = self._cold()
        out[cold_items[i] | cold_users[u]] = self.mu_
        return np.clip(out, *self.rating_range_)

    def _score(self, u):
        return np.ascontiguousarray(self.reconstruct()[:, u].T)

    def _item_vectors(self) -> np.ndarray:
        """Each item's hidden code g(V r_i + μ)."""
        return self._item_codes()

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
        self._inputs = None
        self._forget()

    def _meta_extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])
