r"""ConvNCF: a CNN over the outer product of user and item embeddings, trained with a
pairwise ranking loss (He et al., IJCAI 2018; doc 000 §3.2).

Interaction map, then a tower of 2x2 / stride-2 convolutions that halves the map at
each layer, max pooling over what is left, and a fully connected output::

    E = p_u ⊗ q_i = p_u q_iᵀ ∈ R^{k×k}                 (one input channel)
    E⁽ˡ⁺¹⁾ = ReLU(conv_{2×2, stride 2}(E⁽ˡ⁾) + b⁽ˡ⁾)   k×k → k/2 × k/2 → … → 2×2
    g = maxpool_{2×2}(E⁽ᴸ⁾) ∈ R^C;  ŷ_ui = wᵀ dropout(g) + b

Loss — BPR over triples (u, i, j), i a positive of u and j a sampled item u has not
interacted with (one fresh j per positive each epoch), with L2 on the embedding rows
and dropout before the output layer::

    L = mean −log σ(ŷ_ui − ŷ_uj) + reg/2 (‖p_u‖² + ‖q_i‖² + ‖q_j‖²) / B

Gradients by the autograd (conv2d / max_pool2d backward); Adam. The paper starts
from MF-BPR embeddings: ``ConvNCF(init_from=model)`` copies P and Q from a trained
``BPR`` (or MF, or GMF) with the same k.

Keeping that start: a randomly initialised tower scores pairs by something
unrelated to p_uᵀq_i, so the first epochs score below the start. Options:

* ``tower="conv"`` — the paper's tower: log2(k) conv layers down to a 1x1 map (no
  max pooling), instead of log2(k) − 1 layers and a 2x2 max pool.
* ``head_init="dot"`` (with ``tower="conv"``) — two channels of every layer start
  as the positive and negative parts of the partial trace, so the network starts
  *exactly* at the dot product (tr(p qᵀ) = pᵀq; channel 0 = ReLU(t), channel 1 =
  ReLU(−t), t = the sum of the diagonal 2x2 cells of (channel 0 − channel 1) of
  the layer below) and the output layer reads channel 0 − channel 1; the other
  channels start random with zero output weight. The warm start is then scored
  as epoch 0 and kept when no epoch beats it on validation.
* ``lr_embed`` — the embeddings' own Adam learning rate (the paper's code trains
  embeddings and network with separate optimizers); ``freeze_epochs`` — the
  embeddings are not updated for the first epochs (the head warms up on fixed
  pre-trained tables).
* ``reg_net`` — L2 (Adam weight decay) on the conv and output weights and biases,
  separate from ``reg`` on the embedding rows (the paper's split).

Cost per epoch O(|R| · C · (k² + C k²/4 · 4/3)) ≈ O(|R| C² k²) — by far the most
expensive model here; scoring all items of a user costs n_items forward passes.

Paper: X. He, X. Du, X. Wang, F. Tian, J. Tang, T.-S. Chua, "Outer Product-based
Neural Collaborative Filtering", IJCAI 2018 (k = 64, 6 conv layers of 32 channels).
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from ..backends.device import to_host
from ..data.interactions import Interactions
from ..nn import Dropout, Embedding, Linear, Module, losses
from ._train import (
    NegativeSampler,
    NeuralRecommender,
    check_batch_size,
    check_device,
    check_n_negatives,
    epoch_hook,
    fitted_start,
    make_optimizer,
    pairwise_epoch,
    train_loop,
)
from .base import Recommender

__all__ = ["ConvNCF", "ConvNCFNet"]


class PatchConv(Module):
    """A 2x2 / stride-2 convolution on channels-last maps (N, H, W, C_in) ->
    (N, H/2, W/2, C_out). Windows do not overlap, so it is one matrix product on the
    reshaped map (no im2col copies, no per-offset backward loop): the same result as
    ``F.conv2d`` with weight ``W.reshape(2, 2, C_in, C_out).transpose(3, 2, 0, 1)``
    (a test checks it) without building patches."""

    def __init__(self, c_in: int, c_out: int, rng=None):
        self.lin = Linear(4 * c_in, c_out, init="he", rng=rng)  # rows: (di, dj, c)

    def init_trace(self) -> None:
        """Output channels 0 and 1 become ReLU(±t), t the sum over the two diagonal
        cells (di = dj) of input channel 0 minus input channel 1 (of the one input
        channel in the first layer); nothing else feeds them."""
        W, b = self.lin.W.data, self.lin.b.data
        c_in = W.shape[0] // 4
        W[:, :2] = 0
        b[:2] = 0
        for cell in (0, 3):  # (di, dj) = (0, 0), (1, 1)
            r = cell * c_in
            if c_in == 1:
                W[r, 0], W[r, 1] = 1, -1
            else:
                W[r, 0], W[r + 1, 0] = 1, -1
                W[r, 1], W[r + 1, 1] = -1, 1

    def forward(self, x: Tensor) -> Tensor:
        N, H, W, C = x.shape
        if H % 2 or W % 2:
            raise ValueError(f"PatchConv: map {H}x{W} must have even sides")
        t = F.reshape(x, (N, H // 2, 2, W // 2, 2, C))
        t = F.transpose(t, (0, 1, 3, 2, 4, 5))  # (N, H/2, W/2, 2, 2, C)
        t = F.reshape(t, (N, H // 2, W // 2, 4 * C))
        return self.lin(t)

    def conv2d_weight(self) -> np.ndarray:
        """The equivalent ``F.conv2d`` weight (C_out, C_in, 2, 2)."""
        c_out = self.lin.W.shape[1]
        return self.lin.W.data.reshape(2, 2, -1, c_out).transpose(3, 2, 0, 1)


class ConvNCFNet(Module):
    """Scores (u, i) pairs through the outer-product CNN (see the module doc)."""

    def __init__(
        self,
        n_users,
        n_items,
        k,
        channels,
        dropout,
        rng,
        tower: str = "maxpool",
        head_init: str = "random",
    ):
        rng = as_rng(rng)
        self.P = Embedding(n_users, k, std=0.1, sparse=True, rng=rng)
        self.Q = Embedding(n_items, k, std=0.1, sparse=True, rng=rng)
        # "maxpool": k → 2, then a 2x2 max pool; "conv": k → 1 (the paper's)
        n_conv = int(math.log2(k)) - (tower == "maxpool")
        convs, c_in = [], 1
        for _ in range(n_conv):
            convs.append(PatchConv(c_in, channels, rng=rng))
            c_in = channels
        self.convs = convs
        self.drop = Dropout(dropout, rng=rng)
        self.fc = Linear(channels, 1, rng=rng)
        if head_init == "dot":
            for conv in convs:
                conv.init_trace()
            self.fc.W.data[...] = 0
            self.fc.W.data[0, 0], self.fc.W.data[1, 0] = 1, -1

    def interaction_map(self, u, i) -> Tensor:
        """E = p_u ⊗ q_i, shape (B, k, k, 1) (channels last)."""
        E = F.outer(self.P(u), self.Q(i))
        return F.reshape(E, (*E.shape, 1))

    def forward(self, u, i) -> Tensor:
        x = self.interaction_map(u, i)
        for conv in self.convs:
            x = F.relu(conv(x))
        g = F.max(x, axis=(1, 2))  # 2x2 max pooling (1x1: identity) -> (B, C)
        return F.reshape(self.fc(self.drop(g)), (-1,))


class ConvNCF(NeuralRecommender):
    """Outer-product CNN recommender with BPR loss.

    Parameters
    ----------
    k : int
        Embedding size, a power of two >= 4 (the map is k × k).
    channels : int
        Feature maps per conv layer (paper: 32).
    dropout : float
        Dropout before the output layer.
    reg : float
        L2 on the embedding rows of each batch.
    lr, n_epochs, batch_size : float, int, int
        Adam learning rate, epochs, triples per batch.
    tower : {"maxpool", "conv"}
        ``"maxpool"``: log2(k) − 1 conv layers to a 2x2 map, then max pooling;
        ``"conv"``: log2(k) conv layers to 1x1 (the paper's tower).
    head_init : {"random", "dot"}
        ``"dot"`` (needs ``tower="conv"``, ``channels >= 2``): the network starts
        as the dot product pᵀq of its embeddings (see the module doc), so a warm
        start begins at its MF score; with ``valid`` that start is scored as epoch
        0 and kept unless an epoch beats it.
    lr_embed : float or None
        Adam learning rate of the embedding tables (None: ``lr``).
    freeze_epochs : int
        The embeddings stay fixed for this many first epochs (0: none).
    reg_net : float
        L2 weight decay on the conv and output weights and biases (0: none).
    sample_fraction : float
        Share of the positives (drawn afresh each epoch) an epoch visits; < 1 makes
        CPU runs affordable (an "epoch" is then a partial pass).
    patience : int
        Early-stopping patience (with ``valid``: the best epoch's weights are kept).
    seed, verbose : int, bool
    init_from : Recommender or None
        Warm start: a model with user and item factor tables of this shape whose
        tables P and Q are copied in before training: a BPR (as the paper starts
        from MF-BPR), an MF (``P_``, ``Q_``) or a GMF (``net_``), with the same k.
        Fitted, it must have been trained on the same Interactions; unfitted (e.g.
        after ``sklearn.base.clone``), a copy of it is fitted on the data first.
        Not stored in the model file (None after loading; ``fit_info_`` names it).
    device : {"cpu", "cuda"}
        Where the network, its optimizer state and the sampled triples live (the
        start's tables are copied over; scores are NumPy).
    """

    name = "convncf"
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "net/P.W": "float32 (n_users, k)",
        "net/Q.W": "float32 (n_items, k)",
    }
    warm_start_params = ("init_from",)
    predicts_ratings = False
    score_chunk = 1 << 13

    def __init__(
        self,
        k: int = 32,
        channels: int = 16,
        dropout: float = 0.0,
        reg: float = 0.0,
        lr: float = 0.002,
        n_epochs: int = 5,
        batch_size: int = 512,
        sample_fraction: float = 1.0,
        patience: int = 3,
        seed: int = 0,
        verbose: bool = False,
        init_from: Recommender | None = None,
        device: str = "cpu",
        tower: str = "maxpool",
        head_init: str = "random",
        lr_embed: float | None = None,
        freeze_epochs: int = 0,
        reg_net: float = 0.0,
    ) -> None:
        self.device = check_device(device)
        if init_from is not None and not isinstance(init_from, Recommender):
            raise TypeError(
                f"init_from: a {type(init_from).__name__} is not a model; pass a "
                "BPR (the paper's MF-BPR), MF or GMF, or None"
            )
        self.init_from = init_from
        self.k = check_positive_int("k", k)
        if self.k < 4 or self.k & (self.k - 1):
            raise ValueError(f"k={k!r}: must be a power of two >= 4 (the map is k x k)")
        self.channels = check_positive_int("channels", channels)
        self.dropout = check_nonnegative("dropout", dropout)
        if self.dropout >= 1:
            raise ValueError(f"dropout={dropout!r}: must be in [0, 1)")
        self.reg = check_nonnegative("reg", reg)
        self.lr = check_positive("lr", lr)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.batch_size = check_batch_size(batch_size)
        self.sample_fraction = check_positive("sample_fraction", sample_fraction)
        if self.sample_fraction > 1:
            raise ValueError(f"sample_fraction={sample_fraction!r}: must be in (0, 1]")
        self.patience = check_positive_int("patience", patience)
        self.seed = int(seed)
        self.verbose = bool(verbose)
        if tower not in ("maxpool", "conv"):
            raise ValueError(f"tower={tower!r}: choose 'maxpool' or 'conv'")
        self.tower = tower
        if head_init not in ("random", "dot"):
            raise ValueError(f"head_init={head_init!r}: choose 'random' or 'dot'")
        if head_init == "dot" and (tower != "conv" or self.channels < 2):
            raise ValueError(
                "head_init='dot' needs tower='conv' (a 1x1 last map) and channels "
                f">= 2; got tower={tower!r}, channels={channels!r}"
            )
        self.head_init = head_init
        self.lr_embed = (
            None if lr_embed is None else check_positive("lr_embed", lr_embed)
        )
        if isinstance(freeze_epochs, bool) or not isinstance(freeze_epochs, int):
            raise TypeError(f"freeze_epochs={freeze_epochs!r}: must be an int >= 0")
        self.freeze_epochs = int(check_nonnegative("freeze_epochs", freeze_epochs))
        self.reg_net = check_nonnegative("reg_net", reg_net)

    def _build(self, n_users, n_items, rng) -> Module:
        return ConvNCFNet(
            n_users, n_items, self.k, self.channels, self.dropout, rng,
            tower=self.tower, head_init=self.head_init,
        )  # fmt: skip

    def _fit(self, data: Interactions, valid=None, on_epoch=None) -> None:
        check_n_negatives(data, 1, "ConvNCF")
        rng = as_rng(self.seed)
        self.net_ = net = self._place(self._build(data.n_users, data.n_items, rng))
        if self.init_from is not None:
            src = fitted_start(self.init_from, data)
            self._warm_start_info({"init_from": self.init_from})
            tables = getattr(src, "net_", None)
            if hasattr(tables, "P") and hasattr(tables, "Q"):  # GMF, DeepALS
                sp, sq = src.net_.P.W.data, src.net_.Q.W.data
            elif hasattr(src, "P_") and hasattr(src, "Q_"):  # BPR, MF, ...
                sp, sq = src.P_, src.Q_
            else:
                raise TypeError(
                    f"init_from: a {type(src).__name__} has no factor tables; pass "
                    "a trained BPR (the paper's MF-BPR), MF or GMF"
                )
            if sp.shape != net.P.W.shape or sq.shape != net.Q.W.shape:
                raise ValueError(
                    f"init_from: embedding shapes {sp.shape}, {sq.shape} differ from "
                    f"ConvNCF's {net.P.W.shape}, {net.Q.W.shape}; train it on the "
                    "same data with the same k"
                )
            # the start's tables, wherever they live, copied onto this device
            net.P.W.data[...] = self._dev(to_host(sp))
            net.Q.W.data[...] = self._dev(to_host(sq))
        tables = [net.P.W, net.Q.W]
        head = [p for p in net.parameters() if all(p is not t for t in tables)]
        lr_embed = self.lr if self.lr_embed is None else self.lr_embed
        opt_embed = make_optimizer("adam", tables, lr_embed)
        opt = make_optimizer("adam", head, self.lr, weight_decay=self.reg_net)
        sampler = NegativeSampler(data, self.xp)
        xp = self.xp
        epoch_now = [0]

        def step(batch) -> float:
            u, i, j = batch
            B = len(u)
            s = net(xp.concatenate([u, u]), xp.concatenate([i, j]))
            loss = losses.bpr(s[:B], s[B:])
            if self.reg:
                terms = [net.P(u), net.Q(i), net.Q(j)]
                loss = loss + losses.l2_penalty(terms, self.reg / B)
            opt.zero_grad()
            opt_embed.zero_grad()
            loss.backward()
            opt.step()
            if epoch_now[0] > self.freeze_epochs:
                opt_embed.step()
            return loss.item()

        def make_epoch(e, r):
            epoch_now[0] = e
            return self._epoch(data, r, sampler)

        self.history_ = train_loop(
            model="ConvNCF",
            net=net,
            opt=opt,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            make_epoch=make_epoch,
            step=step,
            rng=self._epoch_rng(rng),
            valid=self._valid_fn(valid),
            patience=self.patience,
            advice="lower lr (e.g. 1e-4) or raise reg",
            verbose=self.verbose,
            on_epoch=epoch_hook(self, on_epoch),
            score_start=self.head_init == "dot" and self.init_from is not None,
        )
        # the epoch whose weights the model holds: the best on `valid`, else the
        # last (0: the warm start, kept when no epoch beat it)
        best = [h["epoch"] for h in self.history_ if h.get("best")]
        self.best_epoch_ = best[-1] if best else self.history_[-1]["epoch"]

    def _epoch(self, data, rng, sampler):
        u, i, j = pairwise_epoch(data, rng, sampler)  # already shuffled
        n = max(1, int(round(self.sample_fraction * len(u))))
        return u[:n], i[:n], j[:n]

    def _item_vectors(self) -> np.ndarray:
        return to_host(self.net_.Q.W.data)
