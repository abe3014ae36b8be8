"""What the optimizer's flush of tiny values (``Optimizer.flush_tiny``) saves.

L2-regularised embedding models let some factor columns die: p, q and the output
weight of a column shrink towards 0 and, under Adam, hover near 1e-30. Every product
of two such numbers (p ⊙ q, g²) is then a subnormal float, which x86 CPUs compute many
times slower. Seen on the ML-1M GMF with reg 0.005: 3% of the embedding entries
ended below 1e-30, and its epochs slowed from about 40 s to about 180 s over ten
epochs.

Here: a GMF (k=32) on the NCF training set of ML-1M, reg 0.005, dense Adam lr 0.001,
batch 256, trained on the same batches in three variants, interleaved in rounds:
healthy (no dead column), two dead columns (P, Q and h at 1e-30) with the flush off,
and the same with the flush on (every ``FLUSH_EVERY`` steps). ms per step over the
last half of each round's steps; single-threaded BLAS.

    MINIREC_DATA=../shared/data python benchmarks/bench_flush.py [--steps N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table, write_result  # noqa: E402

import minirec.optim as optim  # noqa: E402
from minirec.data import load_movielens  # noqa: E402
from minirec.data.ncf import ncf_protocol  # noqa: E402
from minirec.models._train import NegativeSampler, pointwise_epoch  # noqa: E402
from minirec.models.ncf import GMFNet  # noqa: E402
from minirec.nn import losses  # noqa: E402

REG, LR, BATCH, K = 0.005, 0.001, 256, 32


def make_net(dead: int) -> GMFNet:
    net = GMFNet(6040, 3706, K, np.random.default_rng(0))
    for w in (net.P.W.data, net.Q.W.data):
        w[:, :dead] = 1e-30
    net.h.W.data[:dead] = 1e-30  # h.W: (K, 1)
    return net


def run(net, flush: bool, batches, n_steps: int) -> float:
    """ms per step over the second half of `n_steps` steps."""
    every = optim.FLUSH_EVERY
    opt = optim.Adam(net.parameters(), lr=LR, lazy=False)
    u, i, y = batches
    half = n_steps // 2
    try:
        if not flush:
            optim.FLUSH_EVERY = 10**12
        for s in range(n_steps):
            if s == half:
                t0 = time.perf_counter()
            sl = slice(s * BATCH, (s + 1) * BATCH)
            ub, ib = u[sl], i[sl]
            loss = losses.bce_with_logits(net(ub, ib), y[sl])
            reg = losses.l2_penalty([net.P(ub), net.Q(ib)], 1.0) * (REG / BATCH)
            loss = loss + reg
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        optim.FLUSH_EVERY = every
    return (time.perf_counter() - t0) / (n_steps - half) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    train = ncf_protocol(load_movielens("ml-1m"))[0]
    rng = np.random.default_rng(0)
    batches = pointwise_epoch(train, 4, rng, NegativeSampler(train))
    variants = [("healthy, flush on", 0, True), ("2 dead columns, flush off", 2, False),
                ("2 dead columns, flush on", 2, True)]  # fmt: skip
    times = {v[0]: [] for v in variants}
    zeros = {}
    for r in range(a.rounds):
        for name, dead, flush in variants:
            net = make_net(dead)
            times[name].append(run(net, flush, batches, a.steps))
            zeros[name] = float(np.mean(net.P.W.data == 0))
            print(f"round {r + 1}: {name}: {times[name][-1]:.2f} ms/step", flush=True)
    base = min(times["healthy, flush on"])
    rows = [{"variant": n, "ms/step (best round)": min(t),
             "per round": ", ".join(f"{x:.2f}" for x in t),
             "vs healthy": min(t) / base,
             "P entries exactly 0 at the end": zeros[n]}
            for n, t in times.items()]  # fmt: skip
    cmd = (f"MINIREC_DATA=../shared/data python benchmarks/bench_flush.py "
           f"--steps {a.steps} --rounds {a.rounds}")  # fmt: skip
    body = f"""## Subnormal arithmetic and `Optimizer.flush_tiny`

{__doc__.split(chr(10) + chr(10), 1)[1].split("    MINIREC_DATA")[0].strip()}

Command: `{cmd}`

{markdown_table(rows)}
"""
    write_result("flush", "Flushing tiny values in the optimizers", body, environment())


if __name__ == "__main__":
    main()
