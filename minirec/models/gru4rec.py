"""GRU4Rec: session-based recommendation with a GRU (Hidasi et al., ICLR 2016;
Hidasi & Karatzoglou, CIKM 2018), on minirec's autograd. Doc 000 §3.3, doc 002 §3.2.

Model. A session is a sequence of items x_1, x_2, ...; the GRU reads the embedding
e_t = E[x_t] of the current item and updates the session state (minirec.nn.GRU)::

    r = σ(e_t W_r + b_r + h U_r + c_r),   z = σ(e_t W_z + b_z + h U_z + c_z)
    n = tanh(e_t W_n + b_n + r ⊙ (h U_n + c_n)),   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

and every item j is scored against the session embedding h_t:
    ŝ_j = h_t · O_j + b_j          (O: output item embeddings; ``tied=True`` uses E = O,
                                    GRU4Rec's "constrained embedding")

Training (session-parallel mini-batches, the paper's Fig. 2). B sessions sit in B
slots; step k feeds the k-th item of each slot's session and predicts its (k+1)-th.
A slot whose session ends takes the next session and its state is reset to 0; the
state is carried between steps but the gradient is not (BPTT truncated to one step,
as in GRU4Rec). At the end of an epoch the batch shrinks as sessions run out (no
event is skipped). Scores are computed only for the B targets of the batch (in-batch
negatives: each slot's target is a negative for the others) plus S extra items
sampled ∝ popularity^α, giving R (B, B+S) with the positives on the diagonal:

    TOP1          mean_j σ(r_j - r_i) + σ(r_j²)                       (2016)
    BPR           mean_j -log σ(r_i - r_j)                            (2016)
    BPR-max       -log Σ_j s_j σ(r_i - r_j) + λ Σ_j s_j r_j²   (2018)
                  with s = softmax over the negatives' scores
    cross-entropy -log softmax(R_row)_i   (sampled softmax over the B+S columns)

TOP1 and BPR average over all negatives, most of them already ranked far below the
target, so their gradient vanishes as training goes on (the 2018 paper's argument;
lessons/17_gru4rec.py measures it). BPR-max and cross-entropy weight the hard
negatives. The gradient of all parameters is clipped to norm ``clip`` per step;
a NaN/inf loss stops training with TrainingDivergedError. Optimizer: Adam (lazy,
sparse rows for the item tables).

Cost per epoch: (#events / B) steps of O(B d H + B H² + (B+S) H B) each.
Ranking: ``score_next`` runs the GRU over each prefix (one fused scan) and scores all
items, O(n_items H) per prefix. See SequentialRecommender for the API and the policy
on unknown items, empty prefixes and short sessions.
"""

from __future__ import annotations

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
from ..backends.device import to_host
from ..errors import TrainingDivergedError
from ..nn import GRU, Dropout, Module, losses
from ..nn import init as inits
from ..nn.module import Parameter
from ..optim import Adam, clip_grad_norm
from ._train import OnDevice, check_device, permutation
from .sequential import SequentialRecommender

LOSSES = ("top1", "bpr", "bpr-max", "cross-entropy")


class _Net(Module):
    def __init__(self, n_items, emb_dim, hidden, tied, dropout, rng):
        self.E = Parameter(inits.normal((n_items, emb_dim), 0.05, rng, None))
        self.gru = GRU(emb_dim, hidden, rng=rng)
        self.O = (
            None
            if tied
            else Parameter(inits.normal((n_items, hidden), 0.05, rng, None))
        )
        self.b = Parameter(np.zeros((n_items, 1), dtype=np.float32))
        self.drop = Dropout(dropout, rng=rng)

    def out_table(self):
        return self.E if self.O is None else self.O

    def states(self, x_idx, h0=None, mask=None):
        """x_idx (B, T) item indices -> states (B, T, H)."""
        e = F.embedding(self.E, x_idx, sparse=True)
        out, _ = self.gru(e, h0=h0, mask=mask)
        return out


class GRU4Rec(OnDevice, SequentialRecommender):
    """GRU4Rec (see the module docstring for the math).

    Parameters
    ----------
    k : GRU state size H, the latent size (also the item embedding size when
        ``tied``; ``hidden`` is its deprecated name)
    emb_dim : input embedding size (ignored when ``tied``: then it is H)
    loss : "top1", "bpr", "bpr-max" or "cross-entropy"
    batch_size : B, sessions in parallel
    n_negatives : S, extra negatives per step sampled ∝ popularity^sample_alpha
        (``n_sample`` is its deprecated name)
    sample_alpha : 0 = uniform, 1 = popularity
    bpreg : λ of BPR-max's score regularization
    lr, n_epochs : Adam learning rate, passes over the data
    dropout : dropout on the session state before scoring
    clip : max joint gradient norm per step
    tied : share the input and output item embeddings (E = O)
    seed : seed of initialization, session order, sampling and dropout
    threads : BLAS threads while training (None: leave the library's default). 1 by
        default: the steps multiply small matrices, where extra threads cost more
        than they give (benchmarks/results/sequential.md)
    device : "cpu" or "cuda": where the network, its optimizer state, the sessions
        and the sampled negatives live (scores are NumPy; on "cuda" the session
        order and negatives come from a device Generator, another stream)
    """

    name = "gru4rec"
    iterative = True
    renamed_params: ClassVar[dict[str, str]] = {
        "hidden": "k",
        "epochs": "n_epochs",
        "n_sample": "n_negatives",
    }

    def __init__(
        self,
        k: int = 100,
        emb_dim: int = 100,
        loss: str = "bpr-max",
        batch_size: int = 32,
        n_negatives: int = 128,
        sample_alpha: float = 0.5,
        bpreg: float = 1.0,
        lr: float = 0.005,
        n_epochs: int = 5,
        dropout: float = 0.0,
        clip: float = 5.0,
        tied: bool = True,
        seed: int = 0,
        threads: int | None = 1,
        device: str = "cpu",
    ) -> None:
        self.k = check_positive_int("k", k)
        self.device = check_device(device)
        self.emb_dim = check_positive_int("emb_dim", emb_dim)
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r}: choose one of {LOSSES}")
        self.loss = loss
        self.batch_size = check_positive_int("batch_size", batch_size)
        S = n_negatives
        if isinstance(S, bool) or not isinstance(S, int) or S < 0:
            raise ValueError(f"n_negatives={S!r}: must be an integer >= 0")
        self.n_negatives = S
        self.sample_alpha = check_nonnegative("sample_alpha", sample_alpha)
        self.bpreg = check_nonnegative("bpreg", bpreg)
        self.lr = check_positive("lr", lr)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r}: must be in [0, 1)")
        self.dropout = float(dropout)
        self.clip = check_positive("clip", clip)
        self.tied = bool(tied)
        self.seed = int(seed)
        if threads is not None:
            check_positive_int("threads", threads)
        self.threads = threads

    # ------------------------------------------------------------------ training
    def _build(self, n_items: int, rng) -> None:
        d = self.k if self.tied else self.emb_dim
        self.net_ = self._place(_Net(n_items, d, self.k, self.tied, self.dropout, rng))

    def _loss(self, R: Tensor, B: int) -> Tensor:
        C = R.shape[1]
        eye = R.xp.eye(B, C, dtype=bool)
        if self.loss == "cross-entropy":
            return -F.sum(F.log_softmax(R, axis=1) * eye.astype(np.float32)) * (1 / B)
        pos = F.sum(R * eye.astype(np.float32), axis=1)
        neg = F.reshape(R[~eye], (B, C - 1))
        if self.loss == "top1":
            return losses.top1(pos, neg)
        if self.loss == "bpr":
            return losses.bpr(pos, neg)
        return losses.bpr_max(pos, neg, reg=self.bpreg)

    def _fit_sequences(self, indptr, items, on_epoch=None) -> None:
        with blas_threads(self.threads):
            self._train(indptr, items, on_epoch)

    def _train(self, indptr: np.ndarray, items: np.ndarray, on_epoch) -> None:
        rng = as_rng(self.seed)
        self._build(self.n_items, rng)
        net = self.net_
        net.train()
        params = net.parameters()
        opt = Adam(params, lr=self.lr, lazy=True)
        w = self.item_popularity_.astype(np.float64) ** self.sample_alpha
        cdf = np.cumsum(w / w.sum())
        lengths = np.diff(indptr)
        n_sess, H = len(lengths), self.k
        # the sessions, the sampling table and every draw on the model's device
        xp, erng = self.xp, self._epoch_rng(rng)
        cdf, lengths = self._dev(cdf), self._dev(lengths)
        indptr, items = self._dev(indptr), self._dev(items)
        self.history_ = []
        for epoch in range(1, self.n_epochs + 1):
            order = permutation(erng, n_sess, xp)
            B = min(self.batch_size, n_sess)
            sess, pos = order[:B].copy(), xp.zeros(B, dtype=xp.int64)
            nxt = B
            h = xp.zeros((B, H), dtype=xp.float32)
            total, steps = 0.0, 0
            while len(sess):
                start = indptr[sess] + pos
                x, y = items[start], items[start + 1]
                negs = (
                    xp.searchsorted(cdf, erng.random(self.n_negatives)).clip(
                        0, self.n_items - 1
                    )
                    if self.n_negatives
                    else xp.zeros(0, dtype=xp.int64)
                )
                cols = xp.concatenate([y, negs]).astype(xp.int64)
                states = net.states(x[:, None], h0=Tensor(h))
                hn = F.reshape(states, (len(sess), H))
                hd = net.drop(hn)
                O = F.embedding(net.out_table(), cols, sparse=True)
                bias = F.reshape(F.embedding(net.b, cols, sparse=True), (1, len(cols)))
                R = hd @ F.transpose(O) + bias
                loss = self._loss(R, len(sess))
                lv = loss.item()
                if not np.isfinite(lv):
                    raise TrainingDivergedError(
                        f"GRU4Rec: training diverged at epoch {epoch}, step {steps} "
                        f"(loss = {lv}); lower lr (now {self.lr}) or clip (now "
                        f"{self.clip}), or try loss='cross-entropy'."
                    )
                opt.zero_grad()
                loss.backward()
                clip_grad_norm(params, self.clip)
                opt.step()
                total += lv
                steps += 1
                h = hn.data.copy()
                pos += 1
                # slots whose session ended take the next sessions in order, in
                # slot order; once none are left, they close
                done = xp.flatnonzero(pos + 1 >= lengths[sess])
                n_new = min(len(done), n_sess - nxt)
                if n_new:
                    new = done[:n_new]
                    sess[new], pos[new], h[new] = order[nxt : nxt + n_new], 0, 0.0
                    nxt += n_new
                if n_new < len(done):
                    sess[done[n_new:]] = -1
                    live = sess >= 0
                    sess, pos, h = sess[live], pos[live], h[live]
            for name, p in net.named_parameters():
                if not bool(p.xp.isfinite(p.data).all()):
                    raise TrainingDivergedError(
                        f"GRU4Rec: parameter {name} became NaN/inf at epoch {epoch}; "
                        "lower lr or clip."
                    )
            rec = {"epoch": epoch, "loss": total / max(steps, 1)}
            self.history_.append(rec)
            if on_epoch is not None:
                net.eval()
                on_epoch(self, epoch, rec)
                net.train()
        net.eval()

    # ------------------------------------------------------------------ scoring
    def _states_padded(self, seqs: list[np.ndarray]) -> np.ndarray:
        """GRU states (n, Lmax, H) of right-padded sequences (padding carries)."""
        L = max(len(s) for s in seqs)
        x = np.zeros((len(seqs), L), dtype=np.int64)
        mask = np.zeros((len(seqs), L), dtype=bool)
        for r, s in enumerate(seqs):
            x[r, : len(s)] = s
            mask[r, : len(s)] = True
        self.net_.eval()
        with no_grad():
            return self.net_.states(self._dev(x), mask=self._dev(mask)).data

    def _last_states(self, seqs: list[np.ndarray]):
        """States (n, H) after the whole of each sequence (on the device)."""
        S = self._states_padded(seqs)
        last = np.array([len(s) - 1 for s in seqs])
        return S[self._dev(np.arange(len(seqs))), self._dev(last)]

    def _item_scores(self, Hs) -> np.ndarray:
        """Scores (n, n_items) of states Hs, as a host array."""
        net = self.net_
        return to_host(Hs @ net.out_table().data.T + net.b.data[:, 0])

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        out = []
        for a in range(0, len(prefixes), 1024):
            out.append(self._item_scores(self._last_states(prefixes[a : a + 1024])))
        return np.concatenate(out)

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        S = self._states_padded(seqs)
        rows = [S[r, : len(s) - 1] for r, s in enumerate(seqs)]
        return self._item_scores(self.xp.concatenate(rows))

    def session_embedding(self, prefixes, unknown: str = "skip") -> np.ndarray:
        """h_t after each prefix (n, H): the session embedding items are ranked by."""
        self._check_fitted()
        return to_host(self._last_states(self._encode_prefixes(prefixes, unknown)))

    def _item_vectors(self) -> np.ndarray:
        return to_host(self.net_.out_table().data)

    # ------------------------------------------------------------------ saving
    def _state(self):
        return {k: to_host(v) for k, v in self.net_.state_dict().items()}

    def _set_state(self, state):
        self._build(self.n_items, as_rng(0))
        self.net_.load_state_dict(state)
        self.net_.eval()
