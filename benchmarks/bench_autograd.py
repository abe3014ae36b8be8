"""minirec.autograd against PyTorch (CPU), the same work in the same run.

Work measured (synthetic indices, seed 0; timings are wall-clock medians over
`--repeats` repeats, each the mean of many iterations, minirec and PyTorch repeats
interleaved so that load from other processes hits both alike):

* NCF-sized model forward + backward: user / item embeddings 6,040 x 32 and 3,706 x 32
  (ML-1M sizes), concat -> MLP [64, 32, 16, 8] (ReLU) -> Linear(8, 1), mean BCE with
  logits; batches of 256 and 4,096; dense embedding gradients in both libraries.
* The same plus an optimizer step: Adam over dense gradients, and sparse embedding
  gradients with minirec's lazy Adam vs torch's SparseAdam (+ Adam for the MLP).
* A 1M-row embedding: table 1,000,000 x 32, gather of 1,000,000 random rows, backward
  (dense and sparse gradient).
* Scatter-add kernels (the embedding backward) in NumPy alone: np.add.at, sort +
  add.reduceat, bincount per column, and the CSR product minirec uses.

Thread counts: each setting runs in a fresh process with OPENBLAS/OMP/MKL_NUM_THREADS
set and ``torch.set_num_threads`` equal. There is no JIT here (pure NumPy), so there is
no compile time to report; the first (warm-up) calls are excluded.

    python benchmarks/bench_autograd.py                 # threads 1 and 2, 5 repeats
    python benchmarks/bench_autograd.py --threads 1 --repeats 3 --no-save
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
N_USERS, N_ITEMS, DIM = 6040, 3706, 32
BIG_ROWS = 1_000_000


# -- the worker: runs in a process whose thread counts are already set ----------------
def _timeit(fn, iters: int) -> float:
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters * 1e3


def _interleaved(fns: dict, iters: int, repeats: int) -> dict:
    """Median ms per call of each function; repeats alternate between them."""
    import statistics

    for f in fns.values():  # warm-up
        f()
        f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            times[k].append(_timeit(f, iters))
    return {k: statistics.median(v) for k, v in times.items()}


def _minirec_ncf(batch, rng_seed=0, sparse=False, optimizer=None):
    import numpy as np

    from minirec import nn
    from minirec.autograd import ops as F
    from minirec.nn import losses
    from minirec.optim import Adam

    class NCF(nn.Module):
        def __init__(self):
            self.user = nn.Embedding(N_USERS, DIM, sparse=sparse, rng=0)
            self.item = nn.Embedding(N_ITEMS, DIM, sparse=sparse, rng=1)
            self.mlp = nn.MLP([64, 32, 16, 8], rng=2)
            self.out = nn.Linear(8, 1, rng=3)

        def forward(self, u, i):
            x = F.concat([self.user(u), self.item(i)], axis=1)
            return F.reshape(self.out(self.mlp(x)), (-1,))

    r = np.random.default_rng(rng_seed)
    u, i = r.integers(0, N_USERS, batch), r.integers(0, N_ITEMS, batch)
    y = (r.random(batch) < 0.5).astype(np.float32)
    model = NCF()
    opt = Adam(model.parameters(), lr=1e-3, lazy=sparse) if optimizer else None

    def step():
        model.zero_grad()
        losses.bce_with_logits(model(u, i), y).backward()
        if opt is not None:
            opt.step()

    return step


def _torch_ncf(batch, rng_seed=0, sparse=False, optimizer=None):
    import numpy as np
    import torch

    class NCF(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.user = torch.nn.Embedding(N_USERS, DIM, sparse=sparse)
            self.item = torch.nn.Embedding(N_ITEMS, DIM, sparse=sparse)
            layers = []
            for a, b in [(64, 32), (32, 16), (16, 8)]:
                layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
            self.mlp = torch.nn.Sequential(*layers)
            self.out = torch.nn.Linear(8, 1)

        def forward(self, u, i):
            x = torch.cat([self.user(u), self.item(i)], dim=1)
            return self.out(self.mlp(x)).view(-1)

    r = np.random.default_rng(rng_seed)
    u = torch.from_numpy(r.integers(0, N_USERS, batch))
    i = torch.from_numpy(r.integers(0, N_ITEMS, batch))
    y = torch.from_numpy((r.random(batch) < 0.5).astype(np.float32))
    model = NCF()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    opts = []
    if optimizer and sparse:
        emb = [model.user.weight, model.item.weight]
        rest = [
            p
            for n, p in model.named_parameters()
            if not n.endswith(("user.weight", "item.weight"))
        ]
        opts = [torch.optim.SparseAdam(emb, lr=1e-3), torch.optim.Adam(rest, lr=1e-3)]
    elif optimizer:
        opts = [torch.optim.Adam(model.parameters(), lr=1e-3)]

    def step():
        model.zero_grad(set_to_none=True)
        loss_fn(model(u, i), y).backward()
        for o in opts:
            o.step()

    return step


def _minirec_big_embedding(sparse):
    import numpy as np

    from minirec.autograd import Tensor
    from minirec.autograd import ops as F

    r = np.random.default_rng(0)
    W = Tensor(
        r.normal(0, 0.01, (BIG_ROWS, DIM)).astype(np.float32), requires_grad=True
    )
    idx = r.integers(0, BIG_ROWS, BIG_ROWS)
    g = r.normal(size=(BIG_ROWS, DIM)).astype(np.float32)

    def step():
        W.grad = None
        F.embedding(W, idx, sparse=sparse).backward(g)

    return step


def _torch_big_embedding(sparse):
    import numpy as np
    import torch

    r = np.random.default_rng(0)
    W = torch.from_numpy(r.normal(0, 0.01, (BIG_ROWS, DIM)).astype(np.float32))
    W.requires_grad_(True)
    idx = torch.from_numpy(r.integers(0, BIG_ROWS, BIG_ROWS))
    g = torch.from_numpy(r.normal(size=(BIG_ROWS, DIM)).astype(np.float32))

    def step():
        W.grad = None
        torch.nn.functional.embedding(idx, W, sparse=sparse).backward(g)
        if sparse:
            W.grad.coalesce()  # minirec's RowGrad is coalesced (unique rows)

    return step


def _scatter_kernels(n_rows, batch, repeats):
    import numpy as np

    from minirec.autograd import scatter_add_dense

    r = np.random.default_rng(0)
    idx = r.integers(0, n_rows, batch)
    g = r.normal(size=(batch, DIM)).astype(np.float32)

    def add_at():
        out = np.zeros((n_rows, DIM), np.float32)
        np.add.at(out, idx, g)
        return out

    def reduceat():
        order = np.argsort(idx, kind="stable")
        s = idx[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        out = np.zeros((n_rows, DIM), np.float32)
        out[s[starts]] = np.add.reduceat(g[order], starts, axis=0)
        return out

    def bincount():
        out = np.empty((n_rows, DIM), np.float32)
        for c in range(DIM):
            out[:, c] = np.bincount(idx, g[:, c], minlength=n_rows)
        return out

    def minirec():
        return scatter_add_dense(idx, g, n_rows)

    ref = add_at()
    fns = {
        "np.add.at": add_at,
        "sort + add.reduceat": reduceat,
        "bincount per column": bincount,
        "minirec (CSR product)": minirec,
    }
    for name, f in fns.items():
        np.testing.assert_allclose(f(), ref, rtol=1e-4, atol=1e-4, err_msg=name)
    iters = 50 if batch < 100_000 else 1
    return _interleaved(fns, iters, repeats)


def worker(threads: int, repeats: int) -> dict:
    out = {"threads": threads, "ncf": [], "big": [], "scatter": []}
    try:
        import torch

        torch.set_num_threads(threads)
        have_torch = True
    except ImportError:
        have_torch = False
    for label, sparse, opt in [
        ("fwd+bwd", False, False),
        ("fwd+bwd+Adam (dense grads)", False, True),
        ("fwd+bwd+Adam (sparse emb. grads, lazy Adam / SparseAdam)", True, True),
    ]:
        for batch in (256, 4096):
            fns = {"minirec": _minirec_ncf(batch, sparse=sparse, optimizer=opt)}
            if have_torch:
                fns["torch"] = _torch_ncf(batch, sparse=sparse, optimizer=opt)
            iters = 200 if batch == 256 else 40
            res = _interleaved(fns, iters, repeats)
            out["ncf"].append({"work": label, "batch": batch, **res})
    for sparse in (False, True):
        fns = {"minirec": _minirec_big_embedding(sparse)}
        if have_torch:
            fns["torch"] = _torch_big_embedding(sparse)
        res = _interleaved(fns, 1, max(3, repeats // 2))
        out["big"].append({"grad": "sparse" if sparse else "dense", **res})
    for n_rows, batch in [(N_USERS, 4096), (BIG_ROWS, BIG_ROWS)]:
        res = _scatter_kernels(n_rows, batch, max(3, repeats // 2))
        out["scatter"].append({"table rows": n_rows, "batch": batch, **res})
    return out


# -- the driver ------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-save", action="store_true", help="print only")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.repeats)))
        return

    sys.path.insert(0, str(HERE))
    from _env import environment, markdown_table, write_result

    env = environment(extra=("torch", "scipy"))
    runs = []
    for t in [int(x) for x in args.threads.split(",")]:
        e = {**os.environ, "PYTHONPATH": str(ROOT)}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            e[var] = str(t)
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            str(t),
            "--repeats",
            str(args.repeats),
        ]
        print(f"running with {t} thread(s)...", file=sys.stderr, flush=True)
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, check=True)
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    env["load average (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    def ratio(row):
        return f"{row['minirec'] / row['torch']:.2f}x" if "torch" in row else "n/a"

    ncf_rows, big_rows, sc_rows = [], [], []
    for run in runs:
        for row in run["ncf"]:
            ncf_rows.append(
                {
                    "threads": run["threads"],
                    "work": row["work"],
                    "batch": row["batch"],
                    "minirec ms": row["minirec"],
                    "torch ms": row.get("torch", float("nan")),
                    "minirec / torch": ratio(row),
                }
            )
        for row in run["big"]:
            big_rows.append(
                {
                    "threads": run["threads"],
                    "gradient": row["grad"],
                    "minirec ms": row["minirec"],
                    "torch ms": row.get("torch", float("nan")),
                    "minirec / torch": ratio(row),
                }
            )
        for row in run["scatter"]:
            base = row["np.add.at"]
            for k in (
                "np.add.at",
                "sort + add.reduceat",
                "bincount per column",
                "minirec (CSR product)",
            ):
                sc_rows.append(
                    {
                        "threads": run["threads"],
                        "table rows": row["table rows"],
                        "batch": row["batch"],
                        "kernel": k,
                        "ms": row[k],
                        "speed-up vs np.add.at": f"{base / row[k]:.2f}x",
                    }
                )
    core = sum(
        len((ROOT / "minirec" / "autograd" / f).read_text().splitlines())
        for f in ("tensor.py", "ops.py")
    )
    body = "\n\n".join(
        [
            f"Command: `python benchmarks/bench_autograd.py --threads {args.threads} "
            f"--repeats {args.repeats}` ({args.repeats} interleaved repeats, medians). "
            "Ratios are minirec time / "
            "PyTorch time measured in the same run (< 1 means minirec is faster). "
            "Targets: <= 1.5x at batch 4096 and <= 3x at batch 256 for "
            "NCF forward+backward. The machine is shared (2 cores): compare the "
            "load averages under Environment; when the load is above 2 the 2-thread "
            "rows are oversubscribed and their absolute times (and PyTorch's, whose "
            "threads spin-wait) are not meaningful; quote the 1-thread ratios.",
            "## NCF-sized model (embeddings 6,040 x 32 and 3,706 x 32, "
            "MLP [64, 32, 16, 8], BCE with logits)\n\n" + markdown_table(ncf_rows),
            "## 1M-row embedding: gather 1,000,000 rows of a 1,000,000 x 32 table, "
            "then backward\n\n" + markdown_table(big_rows),
            "## Scatter-add kernels for the embedding backward "
            "(NumPy, dense result)\n\n" + markdown_table(sc_rows),
            f"Core size: minirec/autograd/tensor.py + ops.py = {core} lines (`wc -l`).",
        ]
    )
    if args.no_save:
        print(body)
        print("\n" + "\n".join(f"- {k}: {v}" for k, v in env.items()))
    else:
        write_result("autograd", "Autograd vs PyTorch (CPU)", body, env)


if __name__ == "__main__":
    main()
