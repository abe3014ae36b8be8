"""The GPU backend against the CPU backends, per kernel and per model epoch, one run.

Kernels (``minirec.backends.{numpy_ops, numba_fast, cuda_ops}``), on ML-1M when
``MINIREC_DATA`` has it (1,000,209 ratings, 6,040 x 3,706), else on a synthetic set of
the same shape (``synthetic_ratings``, seed 0); k = ``--k`` (default 64):

* ``sgd_mf_epoch`` over all ratings in a shuffled order (seed 0): NumPy spec (timed on
  a 20,000-rating slice, scaled to the full epoch and marked so), Numba 1 thread,
  Numba Hogwild on all threads, CUDA Hogwild with the arrays on the device, and CUDA
  Hogwild given host NumPy arrays (so including the explicit per-call copies);
* ``bpr_epoch`` over one triple per rating (uniform negatives, seed 0), same columns;
* ``sgd_fm_blocks_epoch`` (FM; user block = user one-hot, item block = item one-hot +
  two pseudo-genre features drawn with seed 0): Numba serial vs CUDA Hogwild;
* ``als_solve`` (ALS-WR, users half-step), ``implicit_als_solve`` (Cholesky) and
  ``implicit_als_cg`` (3 CG steps): Numba parallel vs CUDA batched;
* ``knn_similarity`` (item x item cosine, every positive similarity kept): Numba
  parallel vs CUDA (one thread per item; sims copied back per chunk and the
  per-row selection sorted on the host, so host arrays and that copy are in).

Model epochs: ``MF(hogwild=True)`` through the estimator API (host arrays, so the
per-epoch copies are in) and ``FM`` (regression, side fields "auto"; Numba's serial
kernel vs ``FM(backend="cuda", hogwild=True)``, which keeps its parameters on the
device for the fit), epoch time = (fit of 4 epochs - fit of 1 epoch) / 3; and a
NeuMF network (GMF k = 32 + MLP 64-32-16-8, Adam, BCE, 4 uniform negatives per
positive) built from ``minirec.nn``, on NumPy (CPU) and on CuPy (``model.to("cupy")``),
timed over ``--nn-batches`` batches and scaled to the epoch (marked so).

Timings: median of ``--repeat`` calls after one warm-up call; the warm-up call minus
the median is reported as the JIT compile time (Numba and numba.cuda compile on first
call). CUDA timings include a device synchronisation (the loss is copied back).

    python benchmarks/bench_gpu.py      # on a GPU machine: writes results/gpu.md
    python benchmarks/bench_gpu.py --simulate   # CPU smoke test (simulator)

Without a GPU (and without ``--simulate``) it refuses and writes nothing. With
``--simulate`` it runs every code path on tiny data under the Numba CUDA simulator and
prints the table (the timings mean nothing) without saving it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--nn-batches", type=int, default=200)
    p.add_argument("--batch-sizes", default="256,4096")
    p.add_argument("--simulate", action="store_true", help="tiny smoke run, no GPU")
    p.add_argument("--out", default=str(HERE / "results" / "gpu.md"))
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.simulate:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba is imported

import numpy as np  # noqa: E402
from _env import environment, markdown_table  # noqa: E402


def _refuse_without_gpu() -> None:
    from minirec.backends.device import gpu_available

    if not gpu_available():
        sys.stderr.write(
            "bench_gpu.py: no CUDA GPU here (numba.cuda.is_available() is False), so "
            "there is nothing to measure and nothing was written.\n"
            "  On a GPU machine: bash benchmarks/run_gpu.sh\n"
            "  Smoke test of this script on a CPU: python benchmarks/bench_gpu.py "
            "--simulate\n"
        )
        raise SystemExit(2)


def _median_ms(fn, repeat: int) -> tuple[float, float]:
    """(median ms per call, first-call ms - median = compile time)."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1e3
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    return med, max(0.0, first - med)


def load_data(simulate: bool):
    from minirec.data import synthetic_ratings

    if simulate:
        return synthetic_ratings(n_users=40, n_items=30, density=0.3, seed=0), "tiny"
    try:
        from minirec.data import load_movielens

        return load_movielens("ml-1m"), "ML-1M"
    except Exception as e:  # no MINIREC_DATA: same shape, synthetic
        print(f"(ML-1M not found: {e}; using synthetic data of its shape)")
        d = synthetic_ratings(n_users=6040, n_items=3706, density=0.0447, seed=0)
        return d, "synthetic 6040x3706"


def kernel_rows(data, k: int, repeat: int, simulate: bool) -> list[dict]:
    import numba
    from numba import cuda

    from minirec.backends import cuda_ops as C
    from minirec.backends import numba_fast as B  # what get_kernels("numba") is
    from minirec.backends import numpy_ops as N

    rng = np.random.default_rng(0)
    m, n, R = data.n_users, data.n_items, len(data)
    users, items = data.users.astype(np.int32), data.items.astype(np.int32)
    ratings = data.ratings.astype(np.float32)
    order = rng.permutation(R).astype(np.int64)
    mu = float(ratings.mean())

    def params():
        g = np.random.default_rng(1)
        P = (g.normal(0, 0.05, (m, k))).astype(np.float32)
        Q = (g.normal(0, 0.05, (n, k))).astype(np.float32)
        return [P, Q, np.zeros(m, np.float32), np.zeros(n, np.float32)]

    rows = []
    threads = numba.get_num_threads()
    sl = min(R, 20_000)

    def mf(kern, arrays, data_arrays, o):
        return lambda: kern(*data_arrays, o, *arrays, mu, 0.005, 0.02, 0.02, True)

    def dev(a):
        return cuda.to_device(a)

    # -- SGD-MF
    host = params()
    d_par = [dev(a) for a in params()]
    d_data = [dev(a) for a in (users, items, ratings)]
    d_order = dev(order)
    t_np, _ = _median_ms(
        mf(N.sgd_mf_epoch, host, (users, items, ratings), order[:sl]), 1
    )
    t_nb1, c_nb1 = _median_ms(
        mf(B.sgd_mf_epoch, host, (users, items, ratings), order), repeat
    )
    t_nbh, c_nbh = _median_ms(
        mf(B.sgd_mf_epoch_hogwild, host, (users, items, ratings), order), repeat
    )
    t_cu, c_cu = _median_ms(mf(C.sgd_mf_epoch_hogwild, d_par, d_data, d_order), repeat)
    t_cuh, _ = _median_ms(
        mf(C.sgd_mf_epoch_hogwild, host, (users, items, ratings), order), repeat
    )
    rows.append(
        _row(
            "sgd_mf_epoch",
            f"{R:,} ratings",
            t_np * R / sl,
            t_nb1,
            t_nbh,
            t_cu,
            t_cuh,
            c_nbh,
            c_cu,
            threads,
        )
    )

    # -- BPR
    neg = rng.integers(0, n, R).astype(np.int32)
    hp = params()
    t_np, _ = _median_ms(
        lambda: N.bpr_epoch(
            users[:sl], items[:sl], neg[:sl], hp[0], hp[1], hp[3], 0.01, 0.01, 0.01
        ),
        1,
    )
    bargs = (users, items, neg)
    d_b = [dev(a) for a in bargs]
    d_p = [dev(a) for a in params()]
    t_nb1, _ = _median_ms(
        lambda: B.bpr_epoch(*bargs, hp[0], hp[1], hp[3], 0.01, 0.01, 0.01), repeat
    )
    t_nbh, c_nbh = _median_ms(
        lambda: B.bpr_epoch_hogwild(*bargs, hp[0], hp[1], hp[3], 0.01, 0.01, 0.01),
        repeat,
    )
    t_cu, c_cu = _median_ms(
        lambda: C.bpr_epoch_hogwild(*d_b, d_p[0], d_p[1], d_p[3], 0.01, 0.01, 0.01),
        repeat,
    )
    t_cuh, _ = _median_ms(
        lambda: C.bpr_epoch_hogwild(*bargs, hp[0], hp[1], hp[3], 0.01, 0.01, 0.01),
        repeat,
    )
    rows.append(
        _row(
            "bpr_epoch",
            f"{R:,} triples",
            t_np * R / sl,
            t_nb1,
            t_nbh,
            t_cu,
            t_cuh,
            c_nbh,
            c_cu,
            threads,
        )
    )

    # -- FM (block format)
    user_idx = np.arange(m, dtype=np.int32)[:, None]
    user_val = np.ones((m, 1), np.float32)
    genres = m + n + rng.integers(0, 18, (n, 2))
    item_idx = np.concatenate([(m + np.arange(n))[:, None], genres], 1).astype(np.int32)
    item_val = np.ones((n, 3), np.float32)
    nf = m + n + 18

    def fm_params():
        g = np.random.default_rng(2)
        return [
            np.array([mu], np.float32),
            np.zeros(nf, np.float32),
            (g.normal(0, 0.05, (nf, k))).astype(np.float32),
        ]

    fa = (users, items, ratings, order, user_idx, user_val, item_idx, item_val)
    fp = fm_params()
    d_fa = [dev(a) for a in fa]
    d_fp = [dev(a) for a in fm_params()]
    fargs = (0.005, 0.01, 0.01, False)
    t_nb1, _ = _median_ms(lambda: B.sgd_fm_blocks_epoch(*fa, *fp, *fargs), repeat)
    t_cu, c_cu = _median_ms(
        lambda: C.sgd_fm_blocks_epoch_hogwild(*d_fa, *d_fp, *fargs), repeat
    )
    rows.append(
        _row(
            "sgd_fm_blocks_epoch",
            f"{R:,} rows, nnz 4",
            None,
            t_nb1,
            None,
            t_cu,
            None,
            None,
            c_cu,
            threads,
        )
    )

    # -- ALS
    Ru = data.by_user
    indptr, indices = Ru.indptr.astype(np.int64), Ru.indices.astype(np.int32)
    t = Ru.data.astype(np.float32)
    Y = params()[1]
    X = np.zeros((m, k), np.float32)
    d_csr = [dev(a) for a in (indptr, indices, t)]
    d_Y, d_X = dev(Y), dev(X)
    t_nb, c_nb = _median_ms(
        lambda: B.als_solve(indptr, indices, t, Y, X, 0.05, True), repeat
    )
    t_cu, c_cu = _median_ms(lambda: C.als_solve(*d_csr, d_Y, d_X, 0.05, True), repeat)
    rows.append(
        _row(
            "als_solve (users)",
            f"{m:,} rows",
            None,
            None,
            t_nb,
            t_cu,
            None,
            c_nb,
            c_cu,
            threads,
        )
    )
    conf = (1 + 2 * t).astype(np.float32)
    YtY = (Y.T @ Y).astype(np.float32)
    d_conf, d_YtY = dev(conf), dev(YtY)
    t_nb, c_nb = _median_ms(
        lambda: B.implicit_als_solve(indptr, indices, conf, Y, YtY, X, 0.05), repeat
    )
    t_cu, c_cu = _median_ms(
        lambda: C.implicit_als_solve(d_csr[0], d_csr[1], d_conf, d_Y, d_YtY, d_X, 0.05),
        repeat,
    )
    rows.append(
        _row(
            "implicit_als_solve (Cholesky)",
            f"{m:,} rows",
            None,
            None,
            t_nb,
            t_cu,
            None,
            c_nb,
            c_cu,
            threads,
        )
    )
    t_nb, c_nb = _median_ms(
        lambda: B.implicit_als_cg(indptr, indices, conf, Y, YtY, X, 0.05, 3), repeat
    )
    t_cu, c_cu = _median_ms(
        lambda: C.implicit_als_cg(d_csr[0], d_csr[1], d_conf, d_Y, d_YtY, d_X, 0.05, 3),
        repeat,
    )
    rows.append(
        _row(
            "implicit_als_cg (3 steps)",
            f"{m:,} rows",
            None,
            None,
            t_nb,
            t_cu,
            None,
            c_nb,
            c_cu,
            threads,
        )
    )

    # -- KNN similarities (items x users, cosine on the ratings, every positive kept)
    Ri = data.by_item
    X, Xt = (
        (M.indptr.astype(np.int64), M.indices.astype(np.int32), ratings[M.rows])
        for M in (Ri, Ru)
    )
    t_nb, c_nb = _median_ms(lambda: B.knn_similarity(*X, *Xt, False, 0.0, 0), repeat)
    t_cu, c_cu = _median_ms(lambda: C.knn_similarity(*X, *Xt, False, 0.0, 0), repeat)
    rows.append(
        _row(
            "knn_similarity (items, cosine)",
            f"{n:,} rows",
            None,
            None,
            t_nb,
            t_cu,
            None,
            c_nb,
            c_cu,
            threads,
        )
    )

    return rows


def _row(
    kernel, size, t_np, t_nb1, t_nbh, t_cu, t_cuh, c_nb, c_cu, threads, np_scaled=True
) -> dict:
    ratio = t_nbh / t_cu if (t_nbh and t_cu) else (t_nb1 / t_cu if t_nb1 else None)
    return {
        "kernel": kernel,
        "size": size,
        "numpy ms": _f(t_np, "~" if np_scaled else ""),
        "numba 1 thread ms": _f(t_nb1),
        f"numba {threads} threads ms": _f(t_nbh),
        "cuda ms (device arrays)": _f(t_cu),
        "cuda ms (host arrays, + copies)": _f(t_cuh),
        "cuda speed-up vs numba (all threads, else 1)": _f(ratio, suffix="x"),
        "compile numba s": _f(c_nb and c_nb / 1e3),
        "compile cuda s": _f(c_cu and c_cu / 1e3),
    }


def _f(v, prefix: str = "", suffix: str = "") -> str:
    if v is None:
        return ""
    return f"{prefix}{v:.3g}{suffix}"


def model_rows(data, k: int, repeat: int) -> list[dict]:
    from minirec.models import get_model_class

    MF, FM = get_model_class("mf"), get_model_class("fm")
    # (row label, model for (backend, epochs), CPU note, GPU note)
    specs = (
        (
            f"MF(k={k}, hogwild=True).fit, per epoch",
            lambda b, e: MF(k=k, n_epochs=e, hogwild=True, backend=b, lr=0.005),
            "numba, all threads",
            "cuda Hogwild, host arrays",
        ),
        (
            f"FM(k={k}).fit, per epoch (regression, side fields 'auto')",
            # the CPU FM kernels are serial; on the GPU the Hogwild kernel
            lambda b, e: FM(k=k, n_epochs=e, hogwild=b == "cuda", backend=b, lr=0.005),
            "numba, serial",
            "cuda Hogwild, parameters on the device",
        ),
    )
    rows = []
    for label, make, cpu_note, gpu_note in specs:
        times = {}
        for backend in ("numba", "cuda"):

            def fit(e, backend=backend, make=make):
                t0 = time.perf_counter()
                make(backend, e).fit(data)
                return time.perf_counter() - t0

            fit(1)  # compile
            t = statistics.median(
                (fit(4) - fit(1)) / 3 for _ in range(max(1, repeat // 2))
            )
            times[backend] = t * 1e3
        rows.append(
            {
                "model epoch": label,
                "CPU ms": f"{times['numba']:.3g} ({cpu_note})",
                "GPU ms": f"{times['cuda']:.3g} ({gpu_note})",
                "GPU speed-up": f"{times['numba'] / times['cuda']:.3g}x",
            }
        )
    return rows


def neumf_rows(data, batches: int, batch_sizes: list[int], simulate: bool) -> list:
    from minirec import nn
    from minirec.autograd import ops as F
    from minirec.backends.device import cupy_available
    from minirec.optim import Adam

    if simulate or not cupy_available():
        return [{"model epoch": "NeuMF", "note": "CuPy not available: not measured"}]

    class NeuMFNet(nn.Module):
        def __init__(self, m, n, k=32, layers=(64, 32, 16, 8)):
            self.gu, self.gi = nn.Embedding(m, k, rng=1), nn.Embedding(n, k, rng=2)
            h = layers[0] // 2
            self.mu, self.mi = nn.Embedding(m, h, rng=3), nn.Embedding(n, h, rng=4)
            self.mlp = nn.MLP(list(layers), rng=5)
            self.out = nn.Linear(k + layers[-1], 1, rng=6)

        def forward(self, u, i):
            g = self.gu(u) * self.gi(i)
            h = self.mlp(F.concat([self.mu(u), self.mi(i)], axis=1))
            return self.out(F.concat([g, h], axis=1)).reshape(-1)

    rng = np.random.default_rng(0)
    pos_u, pos_i = data.users, data.items
    n_ex = 5 * len(data)  # 1 positive + 4 negatives
    u = np.concatenate([pos_u] + [pos_u] * 4).astype(np.int64)
    i = np.concatenate([pos_i, rng.integers(0, data.n_items, 4 * len(data))])
    y = np.concatenate([np.ones(len(data)), np.zeros(4 * len(data))]).astype(np.float32)
    perm = rng.permutation(n_ex)
    u, i, y = u[perm], i[perm], y[perm]
    rows = []
    for bs in batch_sizes:
        per = {}
        for dev in ("numpy", "cupy"):
            model = NeuMFNet(data.n_users, data.n_items)
            if dev == "cupy":
                model.to("cupy")
            xp = model.gu.W.xp
            uu, ii, yy = xp.asarray(u), xp.asarray(i), xp.asarray(y)  # one copy
            opt = Adam(model.parameters(), lr=1e-3)

            def step(b, model=model, opt=opt, uu=uu, ii=ii, yy=yy, bs=bs):
                s = slice(b * bs, (b + 1) * bs)
                loss = nn.losses.bce_with_logits(model(uu[s], ii[s]), yy[s])
                opt.zero_grad()
                loss.backward()
                opt.step()
                return loss

            for b in range(3):  # warm-up (CuPy compiles its kernels)
                step(b)
            if dev == "cupy":
                xp.cuda.Device().synchronize()
            t0 = time.perf_counter()
            for b in range(batches):
                step(b)
            if dev == "cupy":
                xp.cuda.Device().synchronize()
            per[dev] = (time.perf_counter() - t0) / batches * 1e3
        n_b = n_ex // bs
        rows.append(
            {
                "model epoch": f"NeuMF (GMF 32 + MLP 64-32-16-8), batch {bs}, Adam",
                "CPU ms": f"~{per['numpy'] * n_b:,.0f} (numpy; "
                f"{per['numpy']:.3g} ms/batch x {n_b:,} batches)",
                "GPU ms": f"~{per['cupy'] * n_b:,.0f} (cupy; "
                f"{per['cupy']:.3g} ms/batch)",
                "GPU speed-up": f"{per['numpy'] / per['cupy']:.3g}x",
            }
        )
    return rows


def main(args) -> None:
    if not args.simulate:
        _refuse_without_gpu()
    from numba import cuda

    data, name = load_data(args.simulate)
    k = 4 if args.simulate else args.k
    repeat = 1 if args.simulate else args.repeat
    env = environment(("cupy", "numba_cuda"))
    try:
        gpu = cuda.get_current_device().name
        gpu = gpu.decode() if isinstance(gpu, bytes) else str(gpu)
    except Exception as e:
        gpu = f"? ({e})"
    env["gpu"] = "CUDA SIMULATOR (timings meaningless)" if args.simulate else gpu
    kr = kernel_rows(data, k, repeat, args.simulate)
    mr = model_rows(data, k, repeat)
    bs = [int(b) for b in args.batch_sizes.split(",")]
    nr = neumf_rows(data, 2 if args.simulate else args.nn_batches, bs, args.simulate)
    text = "\n".join(
        [
            "# GPU backend benchmark",
            "",
            "\n".join(f"- {a}: {b}" for a, b in env.items()),
            f"- data: {name}, {len(data):,} ratings; k = {k}; median of {repeat} calls "
            "after one warm-up (compile = first call - median)",
            "",
            "## Kernels",
            "",
            markdown_table(kr),
            "",
            "`~` = NumPy timed on a 20,000-rating slice and scaled to the full epoch.",
            "",
            "## Model epochs",
            "",
            markdown_table(mr),
            "",
            markdown_table(nr),
            "",
            "`~` = timed over a few hundred batches and scaled to the epoch.",
            "",
        ]
    )
    print(text)
    if args.simulate:
        print("(--simulate: nothing saved)")
        return
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main(ARGS)
