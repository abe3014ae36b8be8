"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018), on
minirec's autograd. Doc 002 §3.2 (SASRec) and §4.2 (attention).

Model. A user's last `maxlen` items s_1..s_T (left-padded with 0) are embedded and
given learned positions, then pass `n_blocks` causal self-attention blocks::

    X⁰ = dropout(√d · E[s] + P)                   E: item embeddings, P: positions
    A  = softmax(Q Kᵀ / √(d/h) + M) V             Q, K, V = LN(X) W_q, W_k, W_v; M hides
                                                  future (t' > t) and padded positions
    X  = X + A W_o;   X = X + W₂ dropout(ReLU(W₁ LN(X)))   (point-wise feed-forward)
    F  = LN(X^L)                                  F_t: the sequence state after s_t

and item j is scored as the next item after s_t by r_{t,j} = F_t · E_j (shared item
embeddings, as in the paper). With ``layout="pre-ln"`` (the default) the blocks are
the standard pre-LayerNorm form above, residuals around each sub-layer, padded
positions zeroed after every sub-layer. ``layout="paper"`` is the block of the
paper's code (kang205/SASRec modules.py; pmixer/SASRec.pytorch)::

    Z  = LN(X);  X = Z + A W_o   with Q = Z W_q, K = X W_k, V = X W_v
    Z  = LN(X);  X = Z + dropout(W₂ dropout(ReLU(W₁ Z)))

each residual added to the normalized input, keys and values from the
un-normalized X, dropout on the attention weights only (not on A W_o).

Loss. ``loss="bce"`` (the paper's Eq. 3): binary cross-entropy with one negative
per position,
    L = -Σ_t [log σ(r_{t, s_{t+1}}) + log(1 - σ(r_{t, j_t}))],  j_t ∉ user's items,
averaged over real (non-padded) positions. ``loss="ce"`` (Klenitskiy & Vasilev
2023, "SASRec+"): full-softmax cross-entropy over every item at every real position,
    L = mean_t [log Σ_j exp(r_{t,j}) - r_{t, s_{t+1}}],
the logits F_t · E_j with the tied item embeddings; no negatives are sampled. Its
logits are B x T x n_items, so they are formed in row chunks (``_softmax_ce``),
kept for the backward up to 4 chunks and recomputed chunk by chunk beyond.

Adam, β = (0.9, 0.98). ``lazy=True`` (the default) updates only the rows of E a
batch touches (``torch.optim.SparseAdam``);
``lazy=False`` is dense Adam as the paper's TF1 ``AdamOptimizer``: every row keeps
moving with its momentum, so a rarely seen item moves in every step, not only in the
steps that touch it.

Cost per epoch: #users/B steps of O(B L (T² d + T d²)) (attention and the d x d maps).
Ranking: ``score_next`` runs the blocks over each prefix (its last `maxlen` items)
and scores all items with F_T · E_j. See SequentialRecommender for the API and the
policy on unknown items, empty prefixes and short sequences.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .._utils import (
    as_rng,
    blas_threads,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from ..autograd import Tensor, no_grad
from ..autograd import ops as F
from ..autograd.tensor import make_node
from ..backends.device import to_host
from ..errors import TrainingDivergedError
from ..nn import Dropout, LayerNorm, Linear, Module, MultiHeadSelfAttention
from ..nn import init as inits
from ..nn.module import Parameter
from ..optim import Adam, clip_grad_norm
from ._train import OnDevice, check_device, permutation
from .sequential import SequentialRecommender

#: the block layouts SASRec offers (module docstring)
LAYOUTS = ("pre-ln", "paper")
#: the training losses SASRec offers (module docstring)
LOSSES = ("bce", "ce")
#: elements of one chunk of full-softmax logits (rows x items) in ``_softmax_ce``
CE_CHUNK = 1 << 24


def _softmax_ce(H: Tensor, E: Tensor, tokens, chunk: int = CE_CHUNK) -> Tensor:
    """Mean full-softmax cross-entropy of states `H` (N, d) against the items of `E`
    ((n_items + 1, d), row 0 the padding token, which is no item): the logits are
    H @ E[1:]ᵀ and row r's target is item tokens[r] - 1. The logits are made
    `chunk` elements at a time; their softmax is kept for the backward when it is
    at most 4 chunks and recomputed chunk by chunk otherwise, so memory is
    O(chunk) beyond that size, not O(N n_items)."""
    xp = H.xp
    tokens = xp.asarray(tokens).reshape(-1)
    N, n = H.shape[0], E.shape[0] - 1
    if N == 0:
        raise ValueError("_softmax_ce: no real position in the batch")
    rows = max(1, chunk // max(n, 1))
    E1 = E.data[1:]
    spans = [(a, min(a + rows, N)) for a in range(0, N, rows)]
    # the softmax of up to 4 chunks is kept for the backward, beyond that recomputed
    kept: list | None = [] if N * n <= 4 * chunk else None

    def probs(a, b):
        """Softmax of the logits of rows a:b, and their log-sum-exp."""
        p = H.data[a:b] @ E1.T
        mx = p.max(axis=1, keepdims=True)
        p -= mx
        xp.exp(p, out=p)
        s = p.sum(axis=1, keepdims=True)
        p /= s
        return p, (mx + xp.log(s))[:, 0]

    total = 0.0
    for a, b in spans:
        p, lse = probs(a, b)
        if kept is not None:
            kept.append(p)
        tgt = xp.sum(H.data[a:b] * E1[tokens[a:b] - 1], axis=1)
        total = total + xp.sum(lse - tgt)
    out = xp.asarray(total / N, dtype=H.dtype)

    def backward(g):  # dL/dz = (softmax(z) - onehot(target)) / N, z = H E1ᵀ
        dH = xp.zeros_like(H.data) if H.requires_grad else None
        dE = xp.zeros_like(E.data) if E.requires_grad else None
        for c, (a, b) in enumerate(spans):
            p = kept[c] if kept is not None and kept[c] is not None else None
            if p is None:
                p = probs(a, b)[0]
            else:
                kept[c] = None  # used in place below, and freed
            p[xp.arange(b - a), tokens[a:b] - 1] -= 1.0
            p *= g / N
            if dH is not None:
                dH[a:b] = p @ E1
            if dE is not None:
                dE[1:] += p.T @ H.data[a:b]
        return dH, dE

    return make_node(out, (H, E), backward)


class _Block(Module):
    def __init__(self, d, heads, dropout, rng, layout="pre-ln"):
        self.layout = layout
        self.ln1 = LayerNorm(d)
        self.attn = MultiHeadSelfAttention(
            d, heads, causal=True, dropout=dropout, rng=rng
        )
        self.ln2 = LayerNorm(d)
        self.W1 = Linear(d, d, rng=rng)
        self.W2 = Linear(d, d, rng=rng)
        self.drop = Dropout(dropout, rng=rng)

    def forward(self, x, m, pad):
        if self.layout == "paper":
            z = self.ln1(x)
            x = z + self.attn(z, pad_mask=pad, kv=x)
            z = self.ln2(x)
            return (z + self.drop(self.W2(self.drop(F.relu(self.W1(z)))))) * m
        x = (x + self.drop(self.attn(self.ln1(x), pad_mask=pad))) * m
        y = self.W2(self.drop(F.relu(self.W1(self.ln2(x)))))
        return (x + self.drop(y)) * m


class _Net(Module):
    def __init__(self, n_items, d, maxlen, n_blocks, heads, dropout, rng, layout):
        std = math.sqrt(2.0 / (n_items + 1 + d))
        self.E = Parameter(inits.normal((n_items + 1, d), std, rng, None))
        self.P = Parameter(
            inits.normal((maxlen, d), math.sqrt(2.0 / (maxlen + d)), rng, None)
        )
        self.blocks = [_Block(d, heads, dropout, rng, layout) for _ in range(n_blocks)]
        self.ln = LayerNorm(d)
        self.drop = Dropout(dropout, rng=rng)
        self.scale = math.sqrt(d)

    def forward(self, seq: np.ndarray) -> Tensor:
        """seq (B, T) tokens (0 = padding) -> F (B, T, d)."""
        T = seq.shape[1]
        pad = seq > 0
        m = pad[..., None].astype(np.float32)
        x = F.embedding(self.E, seq, sparse=True) * self.scale + self.P[:T]
        x = self.drop(x) * m
        for b in self.blocks:
            x = b(x, m, pad)
        return self.ln(x)


def _left_pad(seqs, maxlen: int) -> np.ndarray:
    """Tokens (item index + 1) of each sequence's last `maxlen` items, left-padded."""
    out = np.zeros((len(seqs), maxlen), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = s[-maxlen:]
        if len(s):
            out[r, maxlen - len(s) :] = np.asarray(s) + 1
    return out


class SASRec(OnDevice, SequentialRecommender):
    """SASRec (see the module docstring for the math).

    Parameters
    ----------
    k : d, the latent size: embedding and hidden width (paper: 50; ``dim`` is its
        deprecated name)
    maxlen : n, the sequence window (paper: 50 for Games/Beauty, 200 for ML-1M)
    n_blocks, heads : attention blocks and heads (paper: 2, 1)
    dropout : dropout rate (paper: 0.5 on the sparse Amazon sets, 0.2 on ML-1M)
    lr, batch_size, n_epochs : Adam learning rate (paper: 0.001), users per step
        (128), passes over the users
    l2_emb : L2 penalty on the item embeddings of a batch (paper code: 0)
    loss : "bce" (the paper's: one sampled negative per position) or "ce"
        (full-softmax cross-entropy over every item, Klenitskiy & Vasilev 2023);
        module docstring
    clip : max joint gradient norm per step
    layout : "pre-ln" (standard pre-LayerNorm blocks) or "paper" (the block of the
        paper's code: residuals on the normalized input, keys and values from the
        un-normalized input, no dropout on the attention output); module docstring
    lazy : Adam on the rows of E a batch touches only (True, SparseAdam's rule) or
        dense Adam on every row (False, the paper's TF1 AdamOptimizer)
    seed : seed of initialization, user order, negatives and dropout
    threads : BLAS threads while training and scoring (None: the library's default)
    device : "cpu" or "cuda": where the network, its optimizer state, the padded
        sequences and the sampled negatives live (scores are NumPy; on "cuda" the
        user order and negatives come from a device Generator, another stream)
    """

    name = "sasrec"
    iterative = True
    renamed_params: ClassVar[dict[str, str]] = {"dim": "k", "epochs": "n_epochs"}

    def __init__(
        self,
        k: int = 50,
        maxlen: int = 50,
        n_blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.5,
        lr: float = 0.001,
        batch_size: int = 128,
        n_epochs: int = 20,
        l2_emb: float = 0.0,
        clip: float = 5.0,
        layout: str = "pre-ln",
        lazy: bool = True,
        loss: str = "bce",
        seed: int = 0,
        threads: int | None = 1,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.maxlen = check_positive_int("maxlen", maxlen)
        self.n_blocks = check_positive_int("n_blocks", n_blocks)
        self.heads = check_positive_int("heads", heads)
        if k % heads:
            raise ValueError(f"k={k} must be divisible by heads={heads}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r}: must be in [0, 1)")
        self.dropout = float(dropout)
        self.lr = check_positive("lr", lr)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.l2_emb = check_nonnegative("l2_emb", l2_emb)
        self.clip = check_positive("clip", clip)
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")
        self.layout = layout
        if not isinstance(lazy, (bool, np.bool_)):
            raise ValueError(f"lazy={lazy!r}: must be True or False")
        self.lazy = bool(lazy)
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r}: choose one of {', '.join(LOSSES)}")
        self.loss = loss
        self.seed = int(seed)
        if threads is not None:
            check_positive_int("threads", threads)
        self.threads = threads

    def _build(self, n_items: int, rng) -> None:
        self.net_ = self._place(
            _Net(
                n_items,
                self.k,
                self.maxlen,
                self.n_blocks,
                self.heads,
                self.dropout,
                rng,
                self.layout,
            )
        )

    def _fit_sequences(self, indptr, items, on_epoch=None) -> None:
        with blas_threads(self.threads):
            self._train(indptr, items, on_epoch)

    def _tables(self, indptr, items):
        """Every user's (input tokens, positive tokens) (n_users, maxlen) and the
        sorted keys user * (n_items + 1) + token of the items each user interacted
        with, made once per fit on the host and copied to the model's device."""
        L, n = self.maxlen, self.n_items
        seqs = [items[indptr[u] : indptr[u + 1]] for u in range(len(indptr) - 1)]
        inp = _left_pad([s[:-1] for s in seqs], L).astype(np.int32)
        pos = _left_pad([s[1:] for s in seqs], L).astype(np.int32)
        owner = np.repeat(np.arange(len(seqs), dtype=np.int64), np.diff(indptr))
        keys = np.unique(owner * (n + 1) + items + 1)
        return self._dev(inp), self._dev(pos), self._dev(keys)

    def _batch(self, users, tables, rng):
        """(input tokens, positive tokens, negative tokens), each (B, maxlen);
        no negatives (None) for ``loss="ce"``."""
        INP, POS, keys = tables
        xp, n = self.xp, self.n_items
        inp, pos = INP[users], POS[users]
        if self.loss == "ce":  # the full softmax needs no sampled negatives
            return inp, pos, None
        # resample negatives that the user has interacted with (the paper's random_neq),
        # vectorized: membership of key = user * (n + 1) + token by binary search
        base = users[:, None].astype(xp.int64) * (n + 1)
        neg = rng.integers(1, n + 1, size=inp.shape)
        bad = xp.ones(neg.shape, dtype=bool)
        while bad.any():
            k = base + neg
            at = xp.minimum(xp.searchsorted(keys, k), len(keys) - 1)
            bad = keys[at] == k
            neg[bad] = rng.integers(1, n + 1, int(bad.sum()))
        neg[pos == 0] = 0
        return inp, pos, neg

    def _loss(self, net, inp, pos, neg) -> Tensor:
        """The training loss of one batch (module docstring); `neg` is unused with
        ``loss="ce"``."""
        xp = self.xp
        Fs = net(inp)
        if self.loss == "ce":
            real = pos > 0
            loss = _softmax_ce(F.getitem(Fs, real), net.E, pos[real])
            if self.l2_emb:
                ep = F.embedding(net.E, pos[real], sparse=True)
                loss = loss + F.sum(ep * ep) * self.l2_emb
            return loss
        ep = F.embedding(net.E, pos, sparse=True)
        en = F.embedding(net.E, neg, sparse=True)
        lp = F.sum(Fs * ep, axis=-1)
        ln = F.sum(Fs * en, axis=-1)
        w = (pos > 0).astype(np.float32)
        z = F.concat([lp, ln], axis=0)
        y = xp.concatenate([xp.ones_like(w), xp.zeros_like(w)])
        ww = xp.concatenate([w, w])
        loss = F.bce_with_logits(z, y, ww) * (ww.size / xp.maximum(ww.sum(), 1.0))
        if self.l2_emb:
            loss = loss + (F.sum(ep * ep) + F.sum(en * en)) * self.l2_emb
        return loss

    def _train(self, indptr, items, on_epoch):
        rng = as_rng(self.seed)
        self._build(self.n_items, rng)
        net = self.net_
        net.train()
        params = net.parameters()
        opt = Adam(params, lr=self.lr, betas=(0.9, 0.98), lazy=self.lazy)
        n_users = len(indptr) - 1
        xp, erng = self.xp, self._epoch_rng(rng)
        tables = self._tables(indptr, items)
        self.history_ = []
        for epoch in range(1, self.n_epochs + 1):
            order = permutation(erng, n_users, xp)
            total, steps = 0.0, 0
            for a in range(0, n_users, self.batch_size):
                inp, pos, neg = self._batch(
                    order[a : a + self.batch_size], tables, erng
                )
                loss = self._loss(net, inp, pos, neg)
                lv = loss.item()
                if not np.isfinite(lv):
                    raise TrainingDivergedError(
                        f"SASRec: training diverged at epoch {epoch}, step {steps} "
                        f"(loss = {lv}); lower lr (now {self.lr}) or clip (now "
                        f"{self.clip})."
                    )
                opt.zero_grad()
                loss.backward()
                clip_grad_norm(params, self.clip)
                opt.step()
                total += lv
                steps += 1
            rec = {"epoch": epoch, "loss": total / max(steps, 1)}
            self.history_.append(rec)
            if on_epoch is not None:
                net.eval()
                on_epoch(self, epoch, rec)
                net.train()
        net.eval()

    # ------------------------------------------------------------------ scoring
    def _final_states(self, prefixes) -> np.ndarray:
        self.net_.eval()
        tok = self._dev(_left_pad(prefixes, self.maxlen))
        with no_grad(), blas_threads(self.threads):
            return self.net_(tok).data[:, -1]

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        out = []
        E = self.net_.E.data[1:]
        for a in range(0, len(prefixes), 512):
            out.append(to_host(self._final_states(prefixes[a : a + 512]) @ E.T))
        return np.concatenate(out)

    def _item_vectors(self) -> np.ndarray:
        return to_host(self.net_.E.data[1:])

    # ------------------------------------------------------------------ saving
    def _state(self):
        return {k: to_host(v) for k, v in self.net_.state_dict().items()}

    def _set_state(self, state):
        self._build(self.n_items, as_rng(0))
        self.net_.load_state_dict(state)
        self.net_.eval()
