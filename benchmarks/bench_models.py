"""Training speed of the neural models: minirec's autograd vs PyTorch (CPU), same run.

NeuMF at 32 predictive factors (GMF k=32, MLP tower 128-64-32 on embeddings of 64)
on the NCF training set of ML-1M (994,169 positives, 4 sampled negatives each =
4,970,845 examples per epoch), log loss, Adam (lazy / sparse on the embedding rows
in both: minirec ``Adam(lazy=True)`` on ``Embedding(sparse=True)``, PyTorch
``SparseAdam`` on ``nn.Embedding(sparse=True)`` + ``Adam`` on the dense layers).

Both libraries train on the same pre-drawn batches; we time ``n_batches`` steps
(forward + backward + update; sampling excluded) after a few warm-up steps, and give
seconds per epoch = time per batch × batches per epoch. Both run single-threaded
(OPENBLAS / torch threads = 1) so the comparison does not depend on how many of the
machine's cores other jobs are using; the ratio is measured in the same run, with the
two libraries interleaved in rounds so load changes hit both.

    MINIREC_DATA=../shared/data python benchmarks/bench_models.py

If benchmarks/bench_sequential.py exists, its ``run()`` is called too and its
Markdown is appended.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table, write_result  # noqa: E402

from minirec.models._train import NegativeSampler, pointwise_epoch  # noqa: E402
from minirec.models.ncf import NeuMFNet  # noqa: E402
from minirec.nn import losses  # noqa: E402
from minirec.optim import Adam  # noqa: E402

K, LAYERS = 32, (128, 64, 32)
N_BATCHES = int(os.environ.get("N_BATCHES", "150"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def load_train():
    if os.environ.get("MINIREC_DATA"):
        from minirec.data import load_movielens
        from minirec.data.ncf import ncf_protocol

        train = ncf_protocol(load_movielens("ml-1m"))[0]
        return train, "ML-1M NCF train (994,169 positives)"
    from minirec import Interactions

    r = np.random.default_rng(0)
    u, i = r.integers(0, 6040, 1_000_000), r.integers(0, 3706, 1_000_000)
    keep = np.unique(u * 3706 + i, return_index=True)[1]
    return Interactions.from_arrays(u[keep], i[keep], None), "synthetic 6040x3706"


class MinirecStep:
    def __init__(self, n_users, n_items):
        self.net = NeuMFNet(n_users, n_items, K, LAYERS, np.random.default_rng(0))
        self.opt = Adam(self.net.parameters(), lr=0.001, lazy=True)

    def __call__(self, u, i, y):
        loss = losses.bce_with_logits(self.net(u, i), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class TorchStep:
    def __init__(self, n_users, n_items):
        import torch
        from torch import nn

        torch.manual_seed(0)
        torch.set_num_threads(1)
        self.torch = torch

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                d = LAYERS[0] // 2
                self.Pg = nn.Embedding(n_users, K, sparse=True)
                self.Qg = nn.Embedding(n_items, K, sparse=True)
                self.Pm = nn.Embedding(n_users, d, sparse=True)
                self.Qm = nn.Embedding(n_items, d, sparse=True)
                for e in (self.Pg, self.Qg, self.Pm, self.Qm):
                    nn.init.normal_(e.weight, std=0.01)
                mods = []
                for a, b in zip(LAYERS[:-1], LAYERS[1:]):
                    mods += [nn.Linear(a, b), nn.ReLU()]
                self.tower = nn.Sequential(*mods)
                self.h = nn.Linear(K + LAYERS[-1], 1)

            def forward(self, u, i):
                g = self.Pg(u) * self.Qg(i)
                m = self.tower(torch.cat([self.Pm(u), self.Qm(i)], dim=-1))
                return self.h(torch.cat([g, m], dim=-1)).squeeze(-1)

        self.net = Net()
        emb = [p for n, p in self.net.named_parameters() if n[0] in "PQ"]
        dense = [p for n, p in self.net.named_parameters() if n[0] not in "PQ"]
        self.opts = [
            torch.optim.SparseAdam(emb, lr=0.001),
            torch.optim.Adam(dense, lr=0.001),
        ]
        self.loss = nn.BCEWithLogitsLoss()

    def __call__(self, u, i, y):
        t = self.torch
        u, i, y = (
            t.from_numpy(u.astype(np.int64)),
            t.from_numpy(i.astype(np.int64)),
            t.from_numpy(y),
        )
        loss = self.loss(self.net(u, i), y)
        for o in self.opts:
            o.zero_grad()
        loss.backward()
        for o in self.opts:
            o.step()
        return loss.item()


def time_steps(step, arrays, bs, start, n) -> float:
    u, i, y = arrays
    t0 = time.perf_counter()
    for b in range(start, start + n):
        s = slice(b * bs, (b + 1) * bs)
        step(u[s], i[s], y[s])
    return (time.perf_counter() - t0) / n


def main() -> None:
    train, what = load_train()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    arrays = pointwise_epoch(train, 4, rng, NegativeSampler(train))
    sample_s = time.perf_counter() - t0
    n_ex = len(arrays[0])
    have_torch = importlib.util.find_spec("torch") is not None
    rows = []
    for bs in (256, 2048):
        libs = {"minirec": MinirecStep(train.n_users, train.n_items)}
        if have_torch:
            libs["pytorch"] = TorchStep(train.n_users, train.n_items)
        per = {k: [] for k in libs}
        for step in libs.values():  # warm-up
            time_steps(step, arrays, bs, 0, 5)
        start = 5
        for _ in range(ROUNDS):  # interleave the libraries
            for name, step in libs.items():
                per[name].append(time_steps(step, arrays, bs, start, N_BATCHES))
            start += N_BATCHES
        n_batches = -(-n_ex // bs)
        best = {k: min(v) for k, v in per.items()}
        row = {
            "batch": bs,
            "minirec s/epoch": best["minirec"] * n_batches,
            "minirec ms/batch": best["minirec"] * 1e3,
        }
        if have_torch:
            row["pytorch s/epoch"] = best["pytorch"] * n_batches
            row["pytorch ms/batch"] = best["pytorch"] * 1e3
            row["minirec / pytorch"] = best["minirec"] / best["pytorch"]
            row["ratio per round"] = ", ".join(
                f"{a / b:.2f}" for a, b in zip(per["minirec"], per["pytorch"])
            )
        rows.append(row)
        print(row, flush=True)
    extra = ("torch",) if have_torch else ()
    env = environment(extra)
    body = f"""## NeuMF training speed (32 predictive factors, 4 negatives)

Data: {what}; {n_ex:,} examples per epoch (positives + 4 sampled negatives).
Timing: {ROUNDS} rounds x {N_BATCHES} batches per library and batch size,
interleaved, after 5 warm-up batches; best round reported, s/epoch = ms/batch x
batches per epoch (sampling the epoch's negatives, {sample_s:.1f} s here, is
outside and the same for both). Single-threaded BLAS / torch. Target: minirec <=
1.5x PyTorch CPU.

Command: `MINIREC_DATA=../shared/data python benchmarks/bench_models.py`

{markdown_table(rows)}
"""
    seq = Path(__file__).resolve().parent / "bench_sequential.py"
    if seq.exists():
        spec = importlib.util.spec_from_file_location("bench_sequential", seq)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out = mod.run()
        if isinstance(out, str):
            body += "\n" + out
    write_result("models", "Model training speed", body, env)


if __name__ == "__main__":
    main()
