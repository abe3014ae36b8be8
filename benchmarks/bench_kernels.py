"""Seconds per epoch of the training kernels on ML-1M, backend vs backend vs peers.

Work measured (all on the 1,000,209 ML-1M ratings, float32, in one process):

* SGD-MF epoch (biased, k = 64 and 128): the per-epoch shuffle (``shuffle_ratings``:
  the triples copied in a new uniform order, as ``MF.fit`` does; the kernel then reads
  them front to back) is *included* in every minirec time. NumPy =
  the readable spec (a Python loop; timed on a 20,000-rating slice and scaled to
  the full epoch, marked "extrapolated"); Numba serial; Numba Hogwild on all Numba
  threads; DSGD (``MF(dsgd=True)``) with one block per thread, and with
  ``--blocks`` x ``--blocks`` blocks on one thread (a cache-blocked serial epoch,
  ``MF(dsgd=True, blocks=B)`` under ``numba.set_num_threads(1)``) and on all
  threads. Surprise ``SVD``: (fit with n_epochs=3 − fit with n_epochs=1) / 2, so
  its set-up is not counted; ``biased=True``, the same k.
* ImplicitALS iteration (users + items, CG with 3 steps, YᵀY included) vs the
  ``implicit`` library's CPU ALS (``iterations`` 3 vs 1, difference / 2), same
  factors, all threads.
* BPR epoch (|R| sampled triples; the NumPy sampling of the triples is included)
  serial and Hogwild vs ``implicit``'s BPR iteration (also |R| samples, all threads).

JIT compile time (or the load from Numba's cache) is measured apart, on the first
call. Each timing is the median of ``--repeat`` runs; ratios come from the same run.
The SGD-MF variants and Surprise are timed in interleaved rounds (one of each per
round), so that noise from other jobs on the machine hits them alike; besides the
ratio of the medians, the "per round" column gives min / median / max of the
ratios Surprise time / variant time within each round (the spread of the noise).

    MINIREC_DATA=../shared/data python benchmarks/bench_kernels.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# implicit asks for a single-threaded BLAS (its own threads do the parallel work);
# minirec's kernels do not use BLAS threads either. Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table, write_result  # noqa: E402

from minirec._utils import aligned_empty  # noqa: E402
from minirec.backends import numba_ops as NB  # noqa: E402
from minirec.backends import numpy_ops as NP  # noqa: E402
from minirec.data.movielens import load_movielens  # noqa: E402
from minirec.models.bpr import sample_triples, seen_index  # noqa: E402
from minirec.models.factor import init_factors  # noqa: E402

CMD = "MINIREC_DATA=../shared/data python benchmarks/bench_kernels.py"


def median_time(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def first_call(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def mf_rows(data, k: int, repeat: int, blocks: int) -> tuple[list[dict], dict]:
    u, i, r = data.users, data.items, data.ratings
    n = len(u)
    rng = np.random.default_rng(0)
    mu = float(r.mean())

    def params():
        g = np.random.default_rng(1)
        return (
            init_factors(g, data.n_users, k, 0.02),  # as the models: cache-aligned
            init_factors(g, data.n_items, k, 0.02),
            np.zeros(data.n_users, np.float32),
            np.zeros(data.n_items, np.float32),
        )

    P, Q, bu, bi = params()
    order = np.arange(n, dtype=np.int32)
    args = (mu, 0.005, 0.02, 0.02, True)
    jit = {}
    jit["sgd_mf_epoch"] = first_call(
        lambda: NB.sgd_mf_epoch(u, i, r, order[:100], P, Q, bu, bi, *args)
    )
    jit["sgd_mf_epoch_hogwild"] = first_call(
        lambda: NB.sgd_mf_epoch_hogwild(u, i, r, order[:100], P, Q, bu, bi, *args)
    )

    su, si, sr = np.empty_like(u), np.empty_like(i), np.empty_like(r)
    jit["shuffle_ratings"] = first_call(
        lambda: NB.shuffle_ratings(u[:100], i[:100], r[:100], 0, su, si, sr)
    )

    def shuffle_only():
        NB.shuffle_ratings(u, i, r, int(rng.integers(2**63)), su, si, sr)

    def serial():
        shuffle_only()
        NB.sgd_mf_epoch(su, si, sr, order, P, Q, bu, bi, *args)

    def hogwild():
        shuffle_only()
        NB.sgd_mf_epoch_hogwild(su, si, sr, order, P, Q, bu, bi, *args)

    T = numba.get_num_threads()
    perm, bounds = NB.strata_layout(u, i, data.n_users, data.n_items, T)
    du, di, dr = u[perm], i[perm], r[perm]
    jit["sgd_mf_epoch_strata"] = first_call(
        lambda: NB.sgd_mf_epoch_strata(
            du, di, dr, order, np.minimum(bounds, 100), P, Q, bu, bi, *args
        )
    )

    def dsgd():  # shuffle inside each stratum (in parallel), then the strata
        NB.shuffle_ratings_blocks(
            du, di, dr, bounds, int(rng.integers(2**63)), su, si, sr
        )
        NB.sgd_mf_epoch_strata(su, si, sr, order, bounds, P, Q, bu, bi, *args)

    # more blocks than threads: what MF(dsgd=True, blocks=B) runs; a block's rows of
    # P and Q then fit the cache. On one thread it is a cache-blocked serial epoch.
    B = blocks
    bperm, bbounds = NB.strata_layout(u, i, data.n_users, data.n_items, B)
    bu_, bi_, br_ = u[bperm], i[bperm], r[bperm]

    jit["sgd_mf_epoch_hogwild_strata"] = first_call(
        lambda: NB.sgd_mf_epoch_hogwild_strata(
            bu_, bi_, br_, order, np.minimum(bbounds, 100), P, Q, bu, bi, *args
        )
    )

    def blocked(threads, train=True, epoch=NB.sgd_mf_epoch_strata):
        def run():
            numba.set_num_threads(threads)
            try:
                NB.shuffle_ratings_blocks(
                    bu_, bi_, br_, bbounds, int(rng.integers(2**63)), su, si, sr
                )
                if train:
                    epoch(su, si, sr, order, bbounds, P, Q, bu, bi, *args)
            finally:
                numba.set_num_threads(T)

        return run

    def index_shuffle_only():  # the previous way: shuffle an index, gather in-kernel
        rng.shuffle(perm)

    def index_serial():
        rng.shuffle(perm)
        NB.sgd_mf_epoch(u, i, r, perm, P, Q, bu, bi, *args)

    perm = order.copy()

    # the kernel alone on shuffled triples, P and Q on cache lines (as init_factors
    # allocates them) or 16 bytes off (where NumPy's own allocation put them here)
    def off_line(a):
        out = aligned_empty((a.size + 16,), np.float32)[4 : 4 + a.size]
        out = out.reshape(a.shape)
        out[...] = a
        return out

    Pm, Qm = off_line(P), off_line(Q)
    ku, ki, kr = np.empty_like(u), np.empty_like(i), np.empty_like(r)
    NB.shuffle_ratings(u, i, r, 12345, ku, ki, kr)  # one uniform order, kept

    def kernel(P, Q):
        return lambda: NB.sgd_mf_epoch(ku, ki, kr, order, P, Q, bu, bi, *args)

    variants = {
        "shuffle": shuffle_only,
        "serial": serial,
        "hogwild": hogwild,
        "dsgd": dsgd,
        "blocked 1": blocked(1),
        "blocked shuffle": blocked(1, train=False),
        "blocked T": blocked(T),
        "hogwild grid": blocked(T, epoch=NB.sgd_mf_epoch_hogwild_strata),
        "index shuffle": index_shuffle_only,
        "index": index_serial,
        "kernel aligned": kernel(P, Q),
        "kernel off-line": kernel(Pm, Qm),
    }
    try:  # Surprise's epoch: (fit with 3 epochs - fit with 1 epoch) / 2
        from surprise import SVD, Dataset, Reader

        df = data.to_dataframe(raw_ids=False)[["user", "item", "rating"]]
        ts = Dataset.load_from_df(df, Reader(rating_scale=(1, 5))).build_full_trainset()

        def fit(e):
            return first_call(
                lambda: SVD(n_factors=k, n_epochs=e, random_state=0).fit(ts)
            )

        variants["surprise"] = lambda: (fit(3) - fit(1)) / 2
    except ImportError:
        pass
    # interleaved: every round times each variant once, so that a noisy neighbour on
    # the host slows all of them alike; medians over the rounds
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            samples[name].append(out if name == "surprise" else dt)
    med = {name: float(np.median(v)) for name, v in samples.items()}
    t_shuffle, t_serial, t_hog, t_dsgd = (
        med[x] for x in ("shuffle", "serial", "hogwild", "dsgd")
    )
    t_index_shuffle, t_index = med["index shuffle"], med["index"]
    m = 20_000
    sl = order[:m].copy()
    t_np = (
        median_time(lambda: NP.sgd_mf_epoch(u, i, r, sl, P, Q, bu, bi, *args), 1)
        * n
        / m
    )
    rows = [
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": "minirec numpy (spec, Python loop; extrapolated from 20k ratings)",
            "seconds": t_np,
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": "minirec numba (serial): rng.shuffle of an index, in-kernel gather",
            "seconds": t_index,
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": "minirec numba serial",
            "seconds": t_serial,
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": f"minirec numba hogwild ({numba.get_num_threads()} threads)",
            "seconds": t_hog,
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": f"minirec numba DSGD ({T} threads, no races)",
            "seconds": t_dsgd,
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": f"minirec numba blocked serial: DSGD order, {B}x{B} blocks, "
            "1 thread",
            "seconds": med["blocked 1"],
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": f"minirec numba DSGD, {B}x{B} blocks, {T} threads",
            "seconds": med["blocked T"],
        },
        {
            "work": f"SGD-MF epoch, k={k}",
            "impl": f"minirec numba Hogwild over the {B}x{B} grid ({T} threads, "
            "no barriers)",
            "seconds": med["hogwild grid"],
        },
    ]
    ref = {"numba serial": t_serial, "numba hogwild": t_hog, "shuffle": t_shuffle}
    if "surprise" in med:
        t_s = med["surprise"]
        rows.append(
            {
                "work": f"SGD-MF epoch, k={k}",
                "impl": "Surprise SVD (1 thread)",
                "seconds": t_s,
            }
        )
        ref["surprise"] = t_s
    names = {"serial": rows[2], "hogwild": rows[3], "dsgd": rows[4], "index": rows[1]}
    names.update({"blocked 1": rows[5], "blocked T": rows[6], "hogwild grid": rows[7]})
    for row in rows:
        if "surprise" in ref:
            row["vs Surprise"] = f"{ref['surprise'] / row['seconds']:.2f}x faster"
            row["per round"] = ""
        row["ratings/s"] = f"{n / row['seconds'] / 1e6:.1f} M"
    if "surprise" in ref:  # paired ratios: Surprise / variant within each round
        for name, row in names.items():
            q = np.array(samples["surprise"]) / np.array(samples[name])
            row["per round"] = f"{q.min():.2f} / {np.median(q):.2f} / {q.max():.2f}"
    rows.append(
        {
            "work": f"  of which the shuffle of the {n:,} triples",
            "impl": "shuffle_ratings (numba)",
            "seconds": t_shuffle,
        }
    )
    rows.append(
        {
            "work": f"  of which, in the blocked serial epoch, the shuffle of the "
            f"{B}x{B} blocks",
            "impl": "shuffle_ratings_blocks (numba, 1 thread)",
            "seconds": med["blocked shuffle"],
        }
    )
    for name, what in (
        ("kernel aligned", "on cache lines (init_factors)"),
        ("kernel off-line", "16 bytes off a cache line"),
    ):
        rows.append(
            {
                "work": f"  serial kernel alone (no shuffle), P and Q {what}",
                "impl": "sgd_mf_epoch (numba)",
                "seconds": med[name],
            }
        )
    rows.append(
        {
            "work": f"  (rng.shuffle of a {n:,} int32 index, for comparison)",
            "impl": "numpy Generator",
            "seconds": t_index_shuffle,
        }
    )
    return rows, jit


def ials_rows(data, k: int, repeat: int) -> tuple[list[dict], dict]:
    from minirec.models.als import ImplicitALS

    R_u, R_i = data.by_user, data.by_item
    cu = np.full(len(R_u.data), 3.0, np.float32)  # c = 1 + alpha * 1, alpha = 2
    ci = np.full(len(R_i.data), 3.0, np.float32)
    g = np.random.default_rng(0)
    P = init_factors(g, data.n_users, k, 0.01)
    Q = init_factors(g, data.n_items, k, 0.01)
    m = ImplicitALS(k=k, reg=0.05, cg_steps=3)
    jit = {
        "implicit_als_cg": first_call(
            lambda: NB.implicit_als_cg(
                R_u.indptr[:3], R_u.indices, cu, Q, Q.T @ Q, P, 0.05, 3
            )
        )
    }

    def iteration():
        m._half_step(NB, R_u, cu, Q, P)
        m._half_step(NB, R_i, ci, P, Q)

    t_ours = median_time(iteration, repeat)
    rows = [
        {
            "work": f"ImplicitALS iteration (CG, 3 steps), k={k}",
            "impl": f"minirec numba ({numba.get_num_threads()} threads)",
            "seconds": t_ours,
        }
    ]
    try:
        import implicit
        from scipy.sparse import csr_matrix

        X = csr_matrix(
            (np.ones(len(data), np.float32), (data.users, data.items)),
            shape=(data.n_users, data.n_items),
        )

        def fit(it):
            mm = implicit.cpu.als.AlternatingLeastSquares(
                factors=k,
                regularization=0.05,
                alpha=2.0,
                iterations=it,
                calculate_training_loss=False,
                random_state=0,
            )
            return first_call(lambda: mm.fit(X, show_progress=False))

        fit(1)
        t_imp = float(np.median([(fit(3) - fit(1)) / 2 for _ in range(2)]))
        rows.append(
            {
                "work": f"ImplicitALS iteration (CG, 3 steps), k={k}",
                "impl": "implicit AlternatingLeastSquares (CPU, all threads)",
                "seconds": t_imp,
            }
        )
        rows[0]["vs implicit"] = f"{t_ours / t_imp:.2f}x its time"
    except ImportError:
        pass
    return rows, jit


def bpr_rows(data, k: int, repeat: int) -> tuple[list[dict], dict]:
    n_items = data.n_items
    keys, bitmap = seen_index(data)
    g = np.random.default_rng(0)
    P = init_factors(g, data.n_users, k, 0.1)
    Q = init_factors(g, n_items, k, 0.1)
    bi = np.zeros(n_items, np.float32)
    rng = np.random.default_rng(1)
    n = len(data)
    t3 = sample_triples(rng, data.users, data.items, n_items, 100, keys, bitmap)
    jit = {
        "bpr_epoch": first_call(lambda: NB.bpr_epoch(*t3, P, Q, bi, 0.05, 0.01, 0.01)),
        "bpr_epoch_hogwild": first_call(
            lambda: NB.bpr_epoch_hogwild(*t3, P, Q, bi, 0.05, 0.01, 0.01)
        ),
    }

    def sampling():
        sample_triples(rng, data.users, data.items, n_items, n, keys, bitmap)

    def serial():
        t = sample_triples(rng, data.users, data.items, n_items, n, keys, bitmap)
        NB.bpr_epoch(*t, P, Q, bi, 0.05, 0.01, 0.01)

    def hog():
        t = sample_triples(rng, data.users, data.items, n_items, n, keys, bitmap)
        NB.bpr_epoch_hogwild(*t, P, Q, bi, 0.05, 0.01, 0.01)

    t_samp = median_time(sampling, repeat)
    rows = [
        {
            "work": f"BPR epoch ({n:,} samples), k={k}",
            "impl": "minirec numba serial (sampling included)",
            "seconds": median_time(serial, repeat),
        },
        {
            "work": f"BPR epoch ({n:,} samples), k={k}",
            "impl": f"minirec numba hogwild ({numba.get_num_threads()} threads, "
            "sampling included)",
            "seconds": median_time(hog, repeat),
        },
    ]
    try:
        import implicit
        from scipy.sparse import csr_matrix

        X = csr_matrix(
            (np.ones(len(data), np.float32), (data.users, data.items)),
            shape=(data.n_users, data.n_items),
        )

        def fit(it):
            mm = implicit.cpu.bpr.BayesianPersonalizedRanking(
                factors=k - 1, iterations=it, random_state=0
            )  # +1 for its bias
            return first_call(lambda: mm.fit(X, show_progress=False))

        fit(1)
        t_imp = float(np.median([(fit(3) - fit(1)) / 2 for _ in range(2)]))
        rows.append(
            {
                "work": f"BPR epoch ({n:,} samples), k={k}",
                "impl": "implicit BayesianPersonalizedRanking (CPU, all threads)",
                "seconds": t_imp,
            }
        )
        for row in rows[:2]:
            row["vs implicit"] = f"{t_imp / row['seconds']:.2f}x faster"
    except ImportError:
        pass
    rows.append(
        {
            "work": "  of which the NumPy sampling of the triples",
            "impl": "sample_triples",
            "seconds": t_samp,
        }
    )
    return rows, jit


_COMPILE = """
import json, time
import numpy as np
t = {}
t0 = time.perf_counter()
from minirec.backends import numba_ops as NB
t["import numba_ops"] = time.perf_counter() - t0
u = np.zeros(4, np.int32); r = np.ones(4, np.float32); o = np.arange(4)
P = np.zeros((2, 8), np.float32); Q = np.zeros((2, 8), np.float32)
b1 = np.zeros(2, np.float32); b2 = np.zeros(2, np.float32)
ip = np.array([0, 2, 4], np.int64); ind = np.array([0, 1, 0, 1], np.int32)
u2, r2 = u.copy(), r.copy()
calls = {
    "shuffle_ratings": lambda: NB.shuffle_ratings(u, u, r, 1, u2, u2.copy(), r2),
    "sgd_mf_epoch": lambda: NB.sgd_mf_epoch(u, u, r, o, P, Q, b1, b2, 3., .01, .01,
                                            .01, True),
    "sgd_mf_epoch_hogwild": lambda: NB.sgd_mf_epoch_hogwild(u, u, r, o, P, Q, b1, b2,
                                                            3., .01, .01, .01, True),
    "bpr_epoch": lambda: NB.bpr_epoch(u, u, u, P, Q, b2, .01, .01, .01),
    "bpr_epoch_hogwild": lambda: NB.bpr_epoch_hogwild(u, u, u, P, Q, b2, .01, .01, .01),
    "als_solve": lambda: NB.als_solve(ip, ind, r, Q, P, .1, True),
    "implicit_als_solve": lambda: NB.implicit_als_solve(ip, ind, r, Q, Q.T @ Q, P, .1),
    "implicit_als_cg": lambda: NB.implicit_als_cg(ip, ind, r, Q, Q.T @ Q, P, .1, 3),
    "topk_rows": lambda: NB.topk_rows(P, 1),
}
for name, fn in calls.items():
    t0 = time.perf_counter(); fn(); t[name] = time.perf_counter() - t0
print(json.dumps(t))
"""


def compile_times() -> dict:
    """First-call times in a fresh process with an empty Numba cache (a true JIT
    compile), and again in a second process that loads that cache."""
    import json
    import subprocess
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        for label in ("compile (empty cache)", "load from cache"):
            p = subprocess.run(
                [sys.executable, "-c", _COMPILE],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if p.returncode != 0:
                print(p.stderr[-2000:])
                continue
            for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items():
                out.setdefault(k, {})[label] = v
    return out


NOTES = """Reading the SGD-MF rows:

* **Noise.** This VM's speed drifts from minute to minute: within one run the
  per-round ratio Surprise time / serial time at k = 64 spans about 1.2x to 6.3x
  (column "per round" of the targets table), and Surprise's own epoch took 0.20
  to 0.27 s at k = 64 across the runs below.
* **Ten runs of 2026-12-02 at 05:54 and between 06:52 and 07:07 UTC**, with
  Hogwild over the grid (below), machine otherwise idle, this command with
  `--repeat 11 --blocks 8` (the table below is the tenth). Ratio Surprise time
  / minirec time at k = 64 (k = 128 in brackets), runs 1 to 10:
  - Hogwild over the 8 x 8 grid, 2 threads (`MF(hogwild=True, blocks=8)`):
    12.03, 11.72, 11.06, 10.69, 11.00, 8.88, 10.34, 11.02, 11.51, 8.82 [13.54,
    10.22, 12.07, 11.96, 12.78, 11.73, 9.33, 13.51, 11.39, 13.49]; goal 6:
    **met in all ten**;
  - Hogwild over one uniform order, 2 threads (`MF(hogwild=True)`): 3.34,
    4.46, 4.05, 3.96, 4.56, 3.89, 4.18, 3.91, 4.11, 4.10 [5.23, 4.85, 4.54,
    4.56, 4.98, 4.88, 4.05, 5.14, 4.77, 4.92]: missed in all ten;
  - uniform serial: 4.35, 4.84, 4.39, 4.21, 5.11, 4.59, 4.14, 4.57, 4.43, 4.57
    [5.35, 4.44, 4.53, 4.22, 4.96, 4.54, 4.13, 4.64, 5.52, 4.29]; goal 4: met
    in all ten at both k;
  - DSGD 8 x 8, 2 threads: 8.81-11.44 [9.67-13.17]; one block per thread:
    7.00-9.40 [7.77-10.51]; blocked serial: 5.17-8.03 [6.02-8.10];
    ImplicitALS CG iteration, minirec / implicit time: 0.45-0.69x [0.58-0.85x];
    BPR epoch: 0.45-0.78x [0.49-0.75x].
* **Ten runs of 2026-12-02 between 03:50 and 04:11 UTC**, after the kernel
  change below, machine otherwise idle, this command with `--repeat 11
  --blocks 8`, each followed by a run of bench_fm_knn.py (the table below is
  the tenth). Ratio Surprise time / minirec time at k = 64 (k = 128 in
  brackets), runs 1 to 10:
  - uniform serial (one new uniform order per epoch, what `MF()` does): 4.08,
    4.43, 4.21, 4.87, 4.61, 4.78, 4.47, 4.00, 4.94, 4.71 [4.92, 4.58, 5.23,
    3.79, 5.50, 5.25, 5.09, 4.75, 4.88, 4.68]; goal 4: **met in all ten** at
    k = 64, in nine at k = 128;
  - blocked serial (one thread, `MF(dsgd=True, blocks=8)`: the DSGD order,
    stratum by stratum, each block shuffled): 5.54, 5.50, 5.89, 6.48, 6.49,
    7.42, 6.72, 5.25, 6.78, 6.89 [8.17, 5.50, 7.85, 6.01, 7.07, 7.14, 7.09,
    6.73, 7.71, 6.45];
  - Hogwild (2 threads): 3.75, 3.63, 3.81, 4.12, 3.84, 3.94, 3.85, 3.29, 4.46,
    3.90 [4.85, 4.07, 4.78, 3.74, 4.81, 4.73, 4.58, 4.77, 4.64, 4.96]; goal 6:
    **missed** in all ten (see below);
  - DSGD, 2 threads, one block per thread (`MF(dsgd=True)`): 7.42, 7.27, 8.04,
    9.24, 6.87, 7.89, 7.49, 7.58, 9.60, 8.57 [9.62, 7.22, 8.87, 7.47, 8.75,
    8.85, 8.86, 9.19, 8.90, 10.03], ">= 6x" in all ten; DSGD, 2 threads, 8 x 8
    blocks (`MF(dsgd=True, blocks=8)`): 8.75, 10.01, 10.68, 11.86, 8.57, 9.93,
    12.51, 9.88, 12.83, 10.43 [12.45, 9.78, 11.22, 9.63, 11.49, 10.75, 12.26,
    12.07, 12.61, 11.98]: the race-free parallel variant;
  - ImplicitALS CG iteration, minirec / implicit time: 0.44-0.67x (k = 64),
    0.57-0.82x (k = 128); BPR epoch: 0.43-0.73x, 0.45-0.66x.
  The ten runs before the change (01:59-02:56 UTC, same command) gave 2.89-4.11
  for the uniform serial epoch (goal met in 1 of 10), 4.45-5.91 blocked serial,
  2.76-3.50 Hogwild, 5.58-7.20 and 6.70-9.49 DSGD (k = 64).
* **Kernel change of 2026-12-02, 03:40 UTC** (`minirec/backends/_codegen.py`):
  the serial loop is compiled with 512-bit vectors (LLVM prefers 256-bit ones on
  this AVX-512 CPU unless told otherwise per function) and once more for k = 32,
  64 and 128 with k a constant (no remainder loop, fewer runtime checks in front
  of the vectorised loops over k). The kernel alone takes 0.71-0.74x its previous
  time (one-off paired comparisons, script not kept; row "serial kernel alone"
  of the tenth run: 29.6 ms at k = 64, 62.3 ms at k = 128, against 35.2 and
  92.3 ms in the tenth run before the change). Same RMSE (0.8434 on ML-1M).
* **Rows on cache lines.** NumPy's allocator put P and Q 16 bytes past a cache
  line here, so at k = 64 each 256-byte row spanned 5 lines. `init_factors`
  now starts them on a line (`_utils.aligned_empty`; same values). The serial
  kernel alone, P and Q on lines vs 16 bytes off: 1.15x, 1.27x and 1.19x faster
  in three one-off paired comparisons (15 interleaved rounds each, k = 64,
  script not kept); the rows "serial kernel alone" of the last two runs before
  the kernel change give 0.88x and 1.24x at k = 64, 1.13x and 1.03x at k = 128:
  inside this VM's noise.
* **Why blocks help one thread.** At k = 64, P and Q take 2.5 MB (k = 128: 5 MB),
  more than the 2 MB of L2 per core here, and a uniform order touches all of it
  all the time. A block of the 8 x 8 grid touches an eighth of the users and an
  eighth of the items (~0.3 MB at k = 64), which stays in L2 (LIBMF, Zhuang et
  al. 2013, blocks its epochs for the same reason). Each epoch still visits every
  rating once in a new random order inside each block; the blocks of a stratum
  share no row, so the result is the same on any number of threads.
* **Shuffle.** The uniform reshuffle of the 12 MB of triples costs 20-31 ms of
  the serial epoch (row "of which the shuffle"); its scatter to 4096 buckets is
  bound by stores that miss L1. `shuffle_ratings` now sizes the bucket count to
  the data (about 256 triples per bucket, at most 4096): a DSGD block of ~15,600
  ratings uses 64 buckets, whose write streams stay in L1. That made the 8 x 8
  blocked shuffle 18.0 -> 12.7 ms (median of 21, one-off comparison on
  2026-12-02, script not kept); ML-1M's million ratings still use 4096 buckets
  (for them, 256 or 1024 buckets or a two-level scatter were not faster).
  In the tenth run after the kernel change the blocks' shuffle took 12.5 ms
  against 25.8 ms for the uniform one (rows "of which ...", k = 64).
* **Kernel change of 2026-12-01, 23:00 UTC.** When `order` is the identity (the
  models pass it after copying the triples shuffled), the kernel reads the
  triples directly with row views of P and Q instead of gathering them in blocks
  of 1,024 (about
  8 ms less per epoch at k = 64 in one-off paired comparisons with the previous
  kernel, scripts not kept; the reproducible figure is the serial row below). A
  software prefetch of the rows a few ratings ahead gave nothing measurable.
* **Hogwild does not scale here** (2 threads are no faster than 1, even at
  k = 16 where everything fits in L1/L2): the threads keep writing the same
  cache lines (popular items' rows of Q and, 16 items per line, the bias vector
  b_i), which then bounce between the two cores. The rows of Q are the main
  part. Speed relative to the biased serial kernel (15 interleaved rounds on
  2026-12-02, one-off script): unbiased serial 1.12x, unbiased Hogwild 1.19x
  (no bias vectors at all, still no scaling), Hogwild with every bias on its
  own cache line 1.03x. After the 03:40 kernel change, the kernel alone on the
  pre-shuffled triples, time relative to the serial kernel (15 interleaved
  rounds, one-off): uniform Hogwild 1.21x (k = 64) and 0.88x (k = 128); with
  the triples split so that each thread owns half of the users (only Q and b_i
  shared) 1.08x and 0.76x, half of the items (only P and b_u shared) 1.06x and
  0.74x. Sharing one factor matrix instead of two is not enough either.
  **DSGD** (`MF(dsgd=True)`,
  Gemulla et al. 2011) gives each thread contiguous user and item blocks that no
  other thread touches in the same sub-epoch: no races, bit-for-bit reproducible,
  and about 2x the serial kernel.
* **Hogwild over the grid** (`MF(hogwild=True, blocks=8)`, kernel
  `sgd_mf_epoch_hogwild_strata`, 2026-12-02 05:50 UTC): the same lock-free
  kernel, but each thread runs the ratings of its own user blocks of the DSGD
  grid, stratum after stratum, with **no barrier** between the strata. A thread
  never writes another thread's rows of P or b_u; the two threads write the same
  rows of Q only when one runs about a stratum ahead of the other. So each
  thread's rows stay in its own cache for a whole block, as in DSGD, and the
  threads never wait for each other. Races remain possible (when the threads
  drift apart), so it is not reproducible bit for bit on two threads; on one
  thread it is exactly the DSGD order. It runs as fast as DSGD on the same grid
  (8.82-12.03x Surprise's epoch at k = 64 in the ten runs above, against
  8.81-11.44x) and 2-2.8x the uniform serial epoch. In the literature this
  family is the asynchronous grid-based SGD (LIBMF's FPSGD, Zhuang et al.
  2013, hands out free blocks under a lock; LASGD, 2023, is lock-free), as
  opposed to Hogwild's uniform sampling; it is the
  Hogwild variant that meets the ">= 6x" goal here. The uniform-order Hogwild
  stays available (`MF(hogwild=True)`) and stays at about the serial speed.
* **Same accuracy.** `benchmarks/mf_schedules.py` (ML-1M random 90/10 split,
  seed 0, `MF()` defaults: k = 128, 60 epochs): RMSE 0.8434 for the uniform order
  and for `dsgd=True` with `blocks` = 2, 8 and 16, on one thread and on two. Fit
  seconds on 2026-12-02, machine idle, the same fits, before the 03:40 kernel
  change: one thread (`NUMBA_NUM_THREADS=1`) 6.4 (uniform), 6.0, 3.7, 3.3; two
  threads 6.1, 3.5, 2.8, 2.9; after it, one thread: 4.8, 4.0, 4.1, 3.7 (same
  RMSE; one run, machine idle). With the two Hogwild schedules added (run of
  2026-12-02 07:01 UTC, 2 threads): RMSE 0.8434 for all six schedules (uniform,
  DSGD blocks 2 / 8 / 16, Hogwild uniform, Hogwild over the 8 x 8 grid); fit
  seconds 3.9, 2.2, 1.7, 1.9, 4.2, 2.3 (one run each)."""


def _sec(rows: list[dict], work: str, impl: str) -> float | None:
    for r in rows:
        if r["work"].startswith(work) and r["impl"].startswith(impl):
            return r["seconds"]
    return None


def targets(rows: list[dict], ks: list[int]) -> list[dict]:
    """The issue's speed targets, checked against this run's own ratios."""
    out = []

    def add(what, ratio, goal, ok, rounds=""):
        if ratio is not None:
            out.append(
                {
                    "target": what,
                    "measured": f"{ratio:.2f}x",
                    "goal": goal,
                    "met": "yes" if ok(ratio) else "**no**",
                    "per-round ratios min / median / max": rounds,
                }
            )

    def rounds(work, impl):
        for r in rows:
            if r["work"].startswith(work) and r["impl"].startswith(impl):
                return r.get("per round", "")
        return ""

    for k in ks:
        w = f"SGD-MF epoch, k={k}"
        s, ser, hog = (
            _sec(rows, w, "Surprise"),
            _sec(rows, w, "minirec numba serial"),
            _sec(rows, w, "minirec numba hogwild"),
        )
        if s and ser:
            add(
                f"{w}: Surprise time / Numba serial time",
                s / ser,
                ">= 4x",
                lambda x: x >= 4,
                rounds(w, "minirec numba serial"),
            )
        if s and hog:
            add(
                f"{w}: Surprise time / Numba Hogwild time (one uniform order cut "
                "into a chunk per thread, `MF(hogwild=True)`)",
                s / hog,
                ">= 6x",
                lambda x: x >= 6,
                rounds(w, "minirec numba hogwild"),
            )
        hgrid = _sec(rows, w, "minirec numba Hogwild over")
        if s and hgrid:
            add(
                f"{w}: Surprise time / Numba Hogwild time over the DSGD grid (each "
                "thread its own user blocks, strata without barriers, "
                "`MF(hogwild=True, blocks=8)`)",
                s / hgrid,
                ">= 6x",
                lambda x: x >= 6,
                rounds(w, "minirec numba Hogwild over"),
            )
        blk = _sec(rows, w, "minirec numba blocked serial")
        if s and blk:
            add(
                f"{w}: Surprise time / Numba blocked serial time (one thread, the "
                "DSGD order: stratum by stratum, shuffled inside each)",
                s / blk,
                ">= 4x",
                lambda x: x >= 4,
                rounds(w, "minirec numba blocked serial"),
            )
        for impl, grid in (
            ("minirec numba DSGD (", "one block per thread"),
            ("minirec numba DSGD,", "more blocks than threads"),
        ):
            dsgd = _sec(rows, w, impl)
            if s and dsgd:
                add(
                    f"{w}: Surprise time / Numba DSGD time ({grid}; the parallel "
                    "variant without races, instead of Hogwild)",
                    s / dsgd,
                    ">= 6x",
                    lambda x: x >= 6,
                    rounds(w, impl),
                )
        w = f"ImplicitALS iteration (CG, 3 steps), k={k}"
        a, b = _sec(rows, w, "minirec"), _sec(rows, w, "implicit")
        if a and b:
            add(
                f"{w}: minirec time / implicit time",
                a / b,
                "<= 1.5x",
                lambda x: x <= 1.5,
            )
        w = "BPR epoch"
        bpr = [r for r in rows if r["work"].startswith(w) and f"k={k}" in r["work"]]
        a = next((r["seconds"] for r in bpr if "serial" in r["impl"]), None)
        h = next((r["seconds"] for r in bpr if "hogwild" in r["impl"]), None)
        b = next((r["seconds"] for r in bpr if r["impl"].startswith("implicit")), None)
        if b and (a or h):
            best = min(x for x in (a, h) if x)
            add(
                f"BPR epoch, k={k}: best minirec time / implicit time",
                best / b,
                "<= 1x",
                lambda x: x <= 1,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ks", type=int, nargs="+", default=[64, 128])
    ap.add_argument(
        "--blocks", type=int, default=8, help="user and item ranges of the blocked rows"
    )
    args = ap.parse_args()
    env = environment(("surprise", "implicit", "scipy"))
    env["numba threads"] = str(numba.get_num_threads())
    env["command"] = f"{CMD} --repeat {args.repeat} --blocks {args.blocks}"
    data = load_movielens("ml-1m")
    rows, jit = [], {}
    for k in args.ks:
        for fn in (mf_rows, ials_rows, bpr_rows):
            extra = (args.blocks,) if fn is mf_rows else ()
            r, j = fn(data, k, args.repeat, *extra)
            rows += r
            jit.update(j)
            print(markdown_table(r), flush=True)
    env["load average (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cols = ["work", "impl", "seconds", "ratings/s", "vs Surprise", "vs implicit"]
    ct = compile_times()
    jit_rows = [
        {"kernel": k, **{c: f"{x:.2f}" for c, x in v.items()}} for k, v in ct.items()
    ]
    tgt = targets(rows, args.ks)
    body = (
        "Targets of the issue, checked with this run's ratios (the load average "
        "below matters: the machine has 2 cores shared with other jobs):\n\n"
        + markdown_table(tgt)
        + "\n\n"
        + NOTES
        + "\n\n"
        "Seconds per epoch / iteration on all 1,000,209 ML-1M ratings (median of "
        f"{args.repeat}); the per-epoch shuffle and the BPR sampling are included in "
        "minirec's times. Ratios are from this one run.\n\n"
        + markdown_table(rows, cols)
        + "\n\nJIT compile time, apart: seconds of the first call of each kernel in "
        "a fresh process with an empty Numba cache, and in a second process that "
        "loads the cache (what every later run pays):\n\n"
        + markdown_table(jit_rows)
        + "\n\nFirst calls inside this benchmark (cache already warm; excluded from "
        "the timings above):\n\n"
        + markdown_table([{"kernel": k, "first call s": v} for k, v in jit.items()])
    )
    write_result("kernels", "Kernel benchmarks (ML-1M)", body, env)


if __name__ == "__main__":
    main()
