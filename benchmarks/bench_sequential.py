"""Seconds per epoch of GRU4Rec and SASRec: minirec (NumPy autograd) vs the same
models written in PyTorch (CPU), measured in the same run.

Both sides run the same algorithm: GRU4Rec with session-parallel mini-batches (B =
32, H = 100, tied item embeddings, 128 extra negatives, BPR-max, clipping at 5,
Adam with sparse rows for the item tables); SASRec with d = 50, maxlen 50, 2 blocks,
1 head, dropout 0.5, B = 128, one negative per position, Adam (sparse rows for the
item table). Both use one thread (minirec: BLAS limited to 1 thread by the models;
PyTorch: ``torch.set_num_threads(1)``), because the machine has 2 shared cores.

Data: the first `--sessions` sessions of rsc15-100k train_full (GRU4Rec) and the first
`--users` users of SASRec's Games training sequences, when MINIREC_DATA is set;
synthetic sessions otherwise. An epoch over that subset is timed (`--repeat` times,
best kept); "full epoch" scales it by events (GRU4Rec) or users (SASRec) to the whole
training set. The ratio minirec / PyTorch is the number to read.

    MINIREC_DATA=../shared/data python benchmarks/bench_sequential.py

``run()`` returns the Markdown rows for benchmarks/bench_models.py.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import env_block, environment, markdown_table  # noqa: E402

from minirec.data import (  # noqa: E402
    as_sequences,  # noqa: E402
    load_sasrec,
    load_session_split,
    sasrec_split,
    synthetic_sessions,
)
from minirec.models.gru4rec import GRU4Rec  # noqa: E402
from minirec.models.sasrec import SASRec  # noqa: E402

GRU_KW = dict(k=100, batch_size=32, n_negatives=128, loss="bpr-max", lr=0.005, clip=5.0)
SAS_KW = dict(
    k=50, maxlen=50, n_blocks=2, heads=1, dropout=0.5, lr=0.001, batch_size=128
)


# ------------------------------------------------------------------ PyTorch twins
def _torch_clip(params, max_norm):
    import torch

    gs = [p.grad for p in params if p.grad is not None]
    tot = sum(
        float((g.coalesce().values() if g.is_sparse else g).pow(2).sum()) for g in gs
    )
    norm = math.sqrt(tot)
    if norm > max_norm:
        s = max_norm / (norm + 1e-12)
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * s
    del torch
    return norm


def torch_gru4rec_epoch(seqs, n_items, seed=0, hidden=100, B=32, S=128, lr=0.005):
    """One epoch of GRU4Rec (session-parallel, BPR-max, tied embeddings) in torch."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    E = torch.nn.Embedding(n_items, hidden, sparse=True)
    bias = torch.nn.Embedding(n_items, 1, sparse=True)
    torch.nn.init.normal_(E.weight, std=0.05)
    torch.nn.init.zeros_(bias.weight)
    cell = torch.nn.GRUCell(hidden, hidden)
    opt_s = torch.optim.SparseAdam(
        list(E.parameters()) + list(bias.parameters()), lr=lr
    )
    opt_d = torch.optim.Adam(cell.parameters(), lr=lr)
    params = [E.weight, bias.weight, *cell.parameters()]
    lens = np.array([len(s) for s in seqs])
    indptr = np.concatenate([[0], np.cumsum(lens)])
    items = np.concatenate(seqs)
    pop = np.bincount(items, minlength=n_items) ** 0.5
    cdf = np.cumsum(pop / pop.sum())
    order = rng.permutation(len(seqs))
    sess, pos, nxt = order[:B].copy(), np.zeros(B, np.int64), B
    h = torch.zeros(B, hidden)
    while len(sess):
        st = indptr[sess] + pos
        x = torch.from_numpy(items[st].astype(np.int64))
        y = items[st + 1].astype(np.int64)
        negs = np.searchsorted(cdf, rng.random(S)).clip(0, n_items - 1)
        cols = torch.from_numpy(np.concatenate([y, negs]))
        hn = cell(E(x), h)
        R = hn @ E(cols).T + bias(cols).T
        b = len(sess)
        eye = torch.eye(b, R.shape[1], dtype=torch.bool)
        pos_s = R[eye]
        neg = R[~eye].reshape(b, -1)
        sm = torch.softmax(neg, dim=1)
        loss = (
            -torch.log((sm * torch.sigmoid(pos_s[:, None] - neg)).sum(1) + 1e-24)
            + (sm * neg * neg).sum(1)
        ).mean()
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        _torch_clip(params, 5.0)
        opt_s.step()
        opt_d.step()
        h = hn.detach().clone()
        pos += 1
        done = pos + 1 >= lens[sess]
        for j in np.flatnonzero(done):
            if nxt < len(seqs):
                sess[j], pos[j] = order[nxt], 0
                h[j] = 0
                nxt += 1
            else:
                sess[j] = -1
        if (sess < 0).any():
            live = sess >= 0
            sess, pos, h = sess[live], pos[live], h[torch.from_numpy(live)]


def torch_sasrec_epoch(
    seqs, n_items, seed=0, d=50, L=50, blocks=2, p=0.5, B=128, lr=0.001
):
    """One epoch of SASRec (pre-LN blocks, BCE with one negative) in torch."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k = nn.Linear(d, d), nn.Linear(d, d)
            self.v, self.o = nn.Linear(d, d), nn.Linear(d, d)
            self.w1, self.w2 = nn.Linear(d, d), nn.Linear(d, d)
            self.drop = nn.Dropout(p)

        def forward(self, x, m, pad):
            T = x.shape[1]
            q = self.ln1(x)
            s = self.q(q) @ self.k(q).transpose(1, 2) / math.sqrt(d)
            allowed = (
                torch.tril(torch.ones(T, T, dtype=torch.bool))[None] & pad[:, None]
            )
            s = s.masked_fill(~allowed, -1e9)
            a = self.drop(torch.softmax(s, -1)) @ self.v(q)
            x = (x + self.drop(self.o(a))) * m
            y = self.w2(self.drop(torch.relu(self.w1(self.ln2(x)))))
            return (x + self.drop(y)) * m

    E = nn.Embedding(n_items + 1, d, sparse=True)
    P = nn.Parameter(torch.randn(L, d) * 0.1)
    blks = nn.ModuleList([Block() for _ in range(blocks)])
    lnf, drop = nn.LayerNorm(d), nn.Dropout(p)
    opt_s = torch.optim.SparseAdam(E.parameters(), lr=lr)
    dense = [P, *blks.parameters(), *lnf.parameters()]
    opt_d = torch.optim.Adam(dense, lr=lr, betas=(0.9, 0.98))
    params = [E.weight, *dense]
    n_users = len(seqs)
    order = rng.permutation(n_users)
    for a in range(0, n_users, B):
        batch = [seqs[u] for u in order[a : a + B]]
        inp = np.zeros((len(batch), L), np.int64)
        pos = np.zeros((len(batch), L), np.int64)
        for r, s in enumerate(batch):
            i_, p_ = s[:-1][-L:], s[1:][-L:]
            inp[r, L - len(i_) :] = i_ + 1
            pos[r, L - len(p_) :] = p_ + 1
        neg = rng.integers(1, n_items + 1, inp.shape)
        neg[pos == 0] = 0
        t_inp, t_pos, t_neg = (torch.from_numpy(v) for v in (inp, pos, neg))
        pad = t_inp > 0
        m = pad[..., None].float()
        x = drop(E(t_inp) * math.sqrt(d) + P) * m
        for b in blks:
            x = b(x, m, pad)
        F_ = lnf(x)
        lp = (F_ * E(t_pos)).sum(-1)
        ln = (F_ * E(t_neg)).sum(-1)
        w = (t_pos > 0).float()
        loss = (
            nn.functional.binary_cross_entropy_with_logits(
                lp, torch.ones_like(lp), w, reduction="sum"
            )
            + nn.functional.binary_cross_entropy_with_logits(
                ln, torch.zeros_like(ln), w, reduction="sum"
            )
        ) / (2 * w.sum())
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        _torch_clip(params, 5.0)
        opt_s.step()
        opt_d.step()


# ------------------------------------------------------------------ the benchmark
def _data(n_sessions: int, n_users: int):
    root = os.environ.get("MINIREC_DATA")
    if root and Path(root).is_dir():
        root = Path(root)
        train, _ = load_session_split("rsc15-100k", path=root / "sessions/rsc15-100k")
        games = load_sasrec(root / "sasrec" / "Video.txt")
        games_train = [s for s in as_sequences(sasrec_split(games)[0]) if len(s) >= 2]
        return (
            as_sequences(train),
            games_train,
            "rsc15-100k train_full",
            "Games (Video.txt) train",
        )
    s = as_sequences(synthetic_sessions(20_000, n_items=3000, seed=0))
    return s, s, "synthetic sessions", "synthetic sequences"


def _timed(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(n_sessions: int = 4000, n_users: int = 4000, repeat: int = 1) -> list[dict]:
    """Time one epoch of each model on a subset; returns Markdown-ready rows."""
    sess_all, seq_all, sname, qname = _data(n_sessions, n_users)
    sess = [s for s in sess_all[:n_sessions] if len(s) >= 2]
    seqs = seq_all[:n_users]
    full_events = sum(len(s) - 1 for s in sess_all if len(s) >= 2)
    sub_events = sum(len(s) - 1 for s in sess)
    rows = []
    try:
        import torch

        torch.set_num_threads(1)
        tv = torch.__version__
    except ImportError:
        torch, tv = None, None

    g = GRU4Rec(**GRU_KW, n_epochs=1)
    warm = {"minirec": _timed(lambda: g.fit(sess[:64]), 1)}  # first calls, apart
    t_m = _timed(lambda: g.fit(sess), repeat)
    n_items = g.n_items
    enc = [g.item_index(s) for s in sess]
    if torch:
        warm["torch"] = _timed(lambda: torch_gru4rec_epoch(enc[:64], n_items), 1)
    t_t = _timed(lambda: torch_gru4rec_epoch(enc, n_items), repeat) if torch else None
    scale = full_events / sub_events
    rows.append(_row("GRU4Rec (bpr-max)", f"{sname}[:{n_sessions}]", t_m, t_t, scale))
    rows[-1]["warm-up s (minirec / torch, 64 sessions)"] = (
        f"{warm['minirec']:.2f} / {warm.get('torch', float('nan')):.2f}"
    )

    s = SASRec(**SAS_KW, n_epochs=1)
    t_m = _timed(lambda: s.fit(seqs), repeat)
    enc = [s.item_index(q) for q in seqs if len(q) >= 2]
    warm = {"minirec": _timed(lambda: SASRec(**SAS_KW, n_epochs=1).fit(seqs[:128]), 1)}
    if torch:
        warm["torch"] = _timed(lambda: torch_sasrec_epoch(enc[:128], s.n_items), 1)
    t_t = _timed(lambda: torch_sasrec_epoch(enc, s.n_items), repeat) if torch else None
    rows.append(
        _row("SASRec", f"{qname}[:{n_users}]", t_m, t_t, len(seq_all) / len(enc))
    )
    rows[-1]["warm-up s (minirec / torch, 64 sessions)"] = (
        f"{warm['minirec']:.2f} / {warm.get('torch', float('nan')):.2f} (128 users)"
    )
    for r in rows:
        r["torch"] = tv or "not installed"
    return rows


def blas_threads_check(sess, repeat: int = 2) -> dict:
    """One GRU4Rec epoch on `sess` with one BLAS thread (the default) and with
    OpenBLAS's default thread count: why the models train with ``threads=1``."""
    one = _timed(lambda: GRU4Rec(**GRU_KW, n_epochs=1, threads=1).fit(sess), repeat)
    many = _timed(lambda: GRU4Rec(**GRU_KW, n_epochs=1, threads=None).fit(sess), repeat)
    return {
        "GRU4Rec epoch on": f"{len(sess)} sessions",
        "threads=1 s": one,
        "threads=None (BLAS default) s": many,
        "default / 1 thread": many / one,
    }


def _row(model, data, t_m, t_t, scale):
    return {
        "model": model,
        "data (subset)": data,
        "minirec s/epoch (subset)": t_m,
        "torch s/epoch (subset)": t_t if t_t is not None else "",
        "minirec / torch": (t_m / t_t) if t_t else "",
        "minirec s/full epoch (scaled)": t_m * scale,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=4000)
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    env = environment(("torch",))
    load0 = os.getloadavg()[0]
    rows = run(args.sessions, args.users, args.repeat)
    sess, _, _, _ = _data(0, 0)
    blas = blas_threads_check([q for q in sess[:1000] if len(q) >= 2], args.repeat)
    text = (
        "## Speed: seconds per epoch, minirec vs PyTorch CPU (same run)\n\n"
        f"Best of {args.repeat} epochs on the subset, one thread each; load average "
        f"{load0:.2f} at start, {os.getloadavg()[0]:.2f} at end. "
        "Target: minirec / torch <= 2.\n\n"
        + markdown_table(rows)
        + "\n\nWhy training runs with one BLAS thread (same run):\n\n"
        + markdown_table([blas])
        + "\n\n"
        + env_block(env)
    )
    print(text)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from accuracy_sequential import write_section

    write_section("speed", text)


if __name__ == "__main__":
    main()
