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
from minirec.backends import numba_fast as NB  # noqa: E402  (what models train with)
from minirec.backends import numpy_ops as NP  # noqa: E402
from minirec.data.movielens import load_movielens  # noqa: E402
from minirec.models._sampling import pack_bits  # noqa: E402
from minirec.models.bpr import sample_triples  # noqa: E402
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
    # allocates them) or 16 bytes off (where NumPy's own allocator may put them)
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
    # what BPR.fit samples with: the users' CSR rows and their bit-packed bitmap
    seen = data.by_user
    bitmap = pack_bits(seen.indptr, seen.indices, n_items)
    g = np.random.default_rng(0)
    P = init_factors(g, data.n_users, k, 0.1)
    Q = init_factors(g, n_items, k, 0.1)
    bi = np.zeros(n_items, np.float32)
    rng = np.random.default_rng(1)
    n = len(data)
    t3 = sample_triples(rng, data.users, data.items, n_items, 100, seen, bitmap)
    jit = {
        "bpr_epoch": first_call(lambda: NB.bpr_epoch(*t3, P, Q, bi, 0.05, 0.01, 0.01)),
        "bpr_epoch_hogwild": first_call(
            lambda: NB.bpr_epoch_hogwild(*t3, P, Q, bi, 0.05, 0.01, 0.01)
        ),
    }

    def sampling():
        sample_triples(rng, data.users, data.items, n_items, n, seen, bitmap)

    def serial():
        t = sample_triples(rng, data.users, data.items, n_items, n, seen, bitmap)
        NB.bpr_epoch(*t, P, Q, bi, 0.05, 0.01, 0.01)

    def hog():
        t = sample_triples(rng, data.users, data.items, n_items, n, seen, bitmap)
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
from minirec.backends import numba_fast as NB
t["import numba_fast"] = time.perf_counter() - t0
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


#: the hand-written notes of benchmarks/results/kernels.md sit between these
#: markers and are kept as they are when the tables are regenerated (figures and
#: their history belong to the results file, not to this script)
NOTES_START, NOTES_END = "<!-- notes -->", "<!-- /notes -->"


def kept_notes() -> str:
    """The notes block of the current results file (empty markers if none)."""
    path = Path(__file__).resolve().parent / "results" / "kernels.md"
    text = path.read_text() if path.exists() else ""
    if NOTES_START in text and NOTES_END in text:
        return text[text.index(NOTES_START) : text.index(NOTES_END) + len(NOTES_END)]
    return f"{NOTES_START}\n{NOTES_END}"


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
        "Targets, checked with this run's ratios (the load average "
        "in the environment below matters: other jobs slow the runs unevenly):\n\n"
        + markdown_table(tgt)
        + "\n\n"
        + kept_notes()
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
