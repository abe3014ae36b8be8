"""MovieLens-25M-sized work on one machine: time and peak RSS per
step on ML-1M-, ML-20M- and ML-25M-shaped data (``minirec.data.movielens_shaped``,
seed 0).

Every step runs in its own subprocess, so its peak RSS is that process's
``ru_maxrss`` (data loading included; ``data MB`` is the RSS once the data is
loaded). Kernels are compiled (or loaded from Numba's cache) on a tiny matrix first,
so no JIT time is counted. Steps:

* ``generate``: ``movielens_shaped(shape, 0)`` (with timestamps); stores the
  (user, item, rating) arrays in ``--cache`` for the other steps;
* ``mf`` / ``mf-hogwild-grid`` / ``mf-dsgd-blocked``: ``MF(k=64, n_epochs=2)``
  serial, ``hogwild=True, blocks=<threads>`` (Hogwild over the DSGD grid), and
  ``dsgd=True`` with enough blocks that the factor rows of one block take about
  1 MiB (cache-blocked DSGD on all threads); the time of epoch 2 (between the two
  ``on_epoch`` calls: shuffle + SGD);
* ``ials`` / ``implicit-als``: ``ImplicitALS(k=64, reg=0.5, alpha=4, cg_steps=3)``
  against ``implicit``'s ``AlternatingLeastSquares`` with the same settings (its CG,
  3 steps) on the same 0/1 matrix; the time of iteration 2 (users + items);
* ``bpr`` / ``implicit-bpr``: ``BPR(k=64, hogwild=True)`` epoch 2 (|R| samples)
  against ``implicit``'s ``BayesianPersonalizedRanking(factors=64)`` iteration 2;
* ``itemknn``: ``ItemKNN(task="ranking")`` fit (cosine, 20 neighbours per item);
* ``recommend-<model>``: the saved mf / ials / itemknn model loaded, top-10 unseen
  items for every user by ``minirec.models._serving.recommend_all`` (blocks of
  16 MiB of scores; factor models scored on NUMBA_NUM_THREADS threads with one
  BLAS thread each; seen items masked and top-10 taken in one Numba pass per
  row); ``recommend-mf-base``: the same users through ``MF.recommend`` (raw ids,
  the same ``_serving.rank``); ``cpu s`` is the CPU time of all threads;
* ``ease-pruned``: ``EASE(reg=500, n_top_items=--ease-items)`` fit (the item-pruned
  variant: the full 59k-item Gram matrix is 28 GB in float64);
* ``evaluate``: ``per_user_split(0.2)`` and ImplicitALS fitted on train (``split
  s`` and ``fit s``), then ``evaluate_full(model, test, train, ks=(10,))`` over
  every test user: ``seconds`` is the evaluation alone;
* ``profile-mf`` / ``profile-bpr`` / ``profile-itemknn`` / ``profile-recommend``:
  the misses taken apart (:func:`_profile`; not in the default ``--steps``).

A step that runs past ``--cap`` seconds is killed and recorded as capped. Rows go to
``--rows`` (JSON, one entry per shape and step); ``--write`` renders all stored
rows into scale.md and the log-log plot scale.png in ``--out`` (default
benchmarks/results). Progress bars (MINIREC_PROGRESS=1) show on the terminal for
the steps, the models' epochs and the ranking / evaluation blocks.

    NUMBA_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_scale.py \\
        --shapes ml-1m,ml-20m,ml-25m --write
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _env import env_block, environment, markdown_table  # noqa: E402

PROFILE_CMD = (
    "NUMBA_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_scale.py "
    "--shapes ml-1m,ml-25m --steps "
    "profile-mf,profile-bpr,profile-itemknn,profile-recommend --write"
)
CMD = (
    "NUMBA_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_scale.py "
    "--shapes ml-1m,ml-20m,ml-25m --cap 900 --ease-items 5000 --write"
)
SHAPES = ("ml-1m", "ml-20m", "ml-25m")
STEPS = (
    "generate",
    "mf",
    "mf-hogwild-grid",
    "mf-dsgd-blocked",
    "ials",
    "implicit-als",
    "bpr",
    "implicit-bpr",
    "itemknn",
    "recommend-mf",
    "recommend-ials",
    "recommend-itemknn",
    "recommend-mf-base",
    "ease-pruned",
    "evaluate",
)
PEERS = {"ials": "implicit-als", "bpr": "implicit-bpr"}  # the same work in implicit
K = 64
SEED = 0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ----------------------------------------------------------------------- workers
def _load(cache: Path):
    from minirec.data import Interactions

    u, i, r = (np.load(cache / f"{c}.npy") for c in ("users", "items", "ratings"))
    n_users, n_items = (int(x) for x in np.load(cache / "shape.npy"))
    return Interactions(
        u,
        i,
        r,
        None,
        user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1),
        name=cache.name,
    )


def _tiny():
    from minirec.data import movielens_shaped

    return movielens_shaped((200, 150, 6000), seed=1, timestamps=False)


def _epoch_times():
    """An ``on_epoch`` callback and the perf_counter readings it collects."""
    ticks: list[float] = []
    return (lambda *a, **kw: ticks.append(time.perf_counter())), ticks


def _fit_factor(model_cls, cache: Path, save: str | None, epochs: str, **params):
    """Fit `model_cls` for 2 epochs (``epochs`` names the parameter); the time of
    the second, and the model saved as ``save`` in the cache."""
    model_cls(k=8, **{epochs: 1}, **params).fit(_tiny())  # compile the kernels
    data = _load(cache)
    out = {"data MB": _rss_mb()}
    hook, ticks = _epoch_times()
    t = time.perf_counter()
    m = model_cls(k=K, **{epochs: 2}, **params)
    m.fit(data, on_epoch=hook)
    out["seconds"] = ticks[1] - ticks[0]
    out["first epoch s (with set-up)"] = ticks[0] - t
    out["peak MB"] = _peak_mb()
    if save:
        m.save(cache / save)
    return out


def _implicit(which: str, cache: Path) -> dict:
    import implicit
    from threadpoolctl import threadpool_limits

    data = _load(cache)
    X = data.to_csr()
    X.data[:] = 1.0
    out = {"data MB": _rss_mb()}
    if which == "als":
        m = implicit.cpu.als.AlternatingLeastSquares(
            factors=K, regularization=0.5, alpha=4.0, iterations=2, random_state=SEED
        )
    else:
        m = implicit.cpu.bpr.BayesianPersonalizedRanking(
            factors=K, learning_rate=0.05, regularization=0.005, iterations=2,
            random_state=SEED,
        )  # fmt: skip
    ticks: list[float] = []
    t = time.perf_counter()
    with threadpool_limits(1, "blas"):
        if which == "als":
            m.fit(
                X,
                show_progress=True,
                callback=lambda *a: ticks.append(time.perf_counter()),
            )
            out["seconds"] = ticks[1] - ticks[0]
        else:  # implicit's BPR has no callback: fit 1 and 2 iterations
            m.iterations = 1
            m.fit(X, show_progress=True)
            t1 = time.perf_counter() - t
            m.iterations = 2
            t = time.perf_counter()
            m.fit(X, show_progress=True)
            out["seconds"] = (time.perf_counter() - t) - t1
    out["implicit"] = implicit.__version__
    out["peak MB"] = _peak_mb()
    return out


def worker(step: str, shape: str, cache: Path) -> dict:
    import numba

    from minirec.models import BPR, MF, ImplicitALS, ItemKNN

    T = numba.get_num_threads()
    if step == "generate":
        from minirec.data import movielens_shaped

        movielens_shaped((200, 150, 6000), seed=1)  # compile the kernels
        base = _rss_mb()
        t = time.perf_counter()
        d = movielens_shaped(shape, SEED, show_progress=True)
        out = {"seconds": time.perf_counter() - t, "peak MB": _peak_mb()}
        arrays = d.users.nbytes + d.items.nbytes + d.ratings.nbytes
        out["Interactions MB"] = (arrays + d.timestamps.nbytes) / 2**20
        out["Interactions MB without timestamps"] = arrays / 2**20
        out["generation RSS growth MB"] = _rss_mb() - base
        cache.mkdir(parents=True, exist_ok=True)
        for c in ("users", "items", "ratings"):
            np.save(cache / f"{c}.npy", getattr(d, c))
        np.save(cache / "shape.npy", np.array(d.shape))
        return out
    if step == "mf":
        return _fit_factor(MF, cache, "mf.npz", "n_epochs", seed=SEED)
    if step == "mf-hogwild-grid":
        return _fit_factor(
            MF, cache, None, "n_epochs", seed=SEED, hogwild=True, blocks=T
        )
    if step == "mf-dsgd-blocked":
        n_users, n_items = (int(x) for x in np.load(cache / "shape.npy"))
        blocks = max(T, -(-(n_users + n_items) * K * 4 // 2**20))
        out = _fit_factor(
            MF, cache, None, "n_epochs", seed=SEED, dsgd=True, blocks=blocks
        )
        out["blocks"] = blocks
        return out
    if step == "ials":
        return _fit_factor(
            ImplicitALS, cache, "ials.npz", "n_epochs", seed=SEED, cg_steps=3
        )
    if step == "bpr":
        return _fit_factor(BPR, cache, None, "n_epochs", seed=SEED, hogwild=True)
    if step in ("implicit-als", "implicit-bpr"):
        return _implicit(step.split("-")[1], cache)
    if step == "itemknn":
        ItemKNN(task="ranking", backend="numba").fit(_tiny())
        data = _load(cache)
        out = {"data MB": _rss_mb()}
        t = time.perf_counter()
        m = ItemKNN(task="ranking", backend="numba").fit(data)
        out["seconds"] = time.perf_counter() - t
        out["peak MB"] = _peak_mb()
        m.save(cache / "itemknn.npz")
        return out
    if step.startswith("recommend-"):
        from minirec.models._serving import recommend_all
        from minirec.models.base import Recommender

        name = step.split("-")[1]
        path = cache / f"{name}.npz"
        if not path.is_file():
            raise SystemExit(f"{path}: not found; its fit step did not finish")
        m = Recommender.load(path)
        users = np.asarray(m.user_ids_)
        m.recommend(users[:2], 10)  # compile the kernels
        recommend_all(m, np.arange(2), 10)
        out = {"data MB": _rss_mb()}
        c, t = _cpu_s(), time.perf_counter()
        if step.endswith("-base"):
            ids, _ = m.recommend(users, 10)
        else:
            ids, _ = recommend_all(m, None, 10, show_progress=True)
        out["seconds"] = time.perf_counter() - t
        out["cpu s"] = _cpu_s() - c
        out["peak MB"] = _peak_mb()
        out["users"] = int(len(ids))
        return out
    if step == "evaluate":
        from minirec.data.split import per_user_split
        from minirec.evaluation import evaluate_full

        tiny = _tiny()
        evaluate_full(ImplicitALS(k=4, n_epochs=1).fit(tiny), tiny, ks=(10,))
        data = _load(cache)
        out = {"data MB": _rss_mb()}
        t = time.perf_counter()
        train, test = per_user_split(data, 0.2, seed=SEED)
        out["split s"] = time.perf_counter() - t
        t = time.perf_counter()
        m = ImplicitALS(k=K, n_epochs=2, seed=SEED).fit(train)
        out["fit s"] = time.perf_counter() - t
        del data
        c, t = _cpu_s(), time.perf_counter()
        res = evaluate_full(m, test, train, ks=(10,), show_progress=True)
        out["seconds"] = time.perf_counter() - t
        out["cpu s"] = _cpu_s() - c
        out["peak MB"] = _peak_mb()
        out["NDCG@10"] = float(res.metrics["NDCG@10"])
        out["users"] = int(res.n_users)
        return out
    if step.startswith("profile-"):
        return _profile(step.split("-", 1)[1], cache)
    if step == "ease-pruned":
        from minirec.models.linear import EASE

        n_top = int(os.environ.get("BENCH_EASE_ITEMS", "10000"))
        EASE(reg=500.0, n_top_items=50).fit(_tiny())
        data = _load(cache)
        out = {"data MB": _rss_mb()}
        t = time.perf_counter()
        m = EASE(reg=500.0, n_top_items=n_top).fit(data)
        out["seconds"] = time.perf_counter() - t
        out["peak MB"] = _peak_mb()
        kept = np.zeros(data.n_items, bool)
        kept[m.kept_] = True
        out["n_top_items"] = int(len(m.kept_))
        out["ratings on kept items"] = float(kept[data.items].mean())
        return out
    raise SystemExit(f"unknown step {step!r}; choose one of {', '.join(STEPS)}")


def _profile(which: str, cache: Path) -> dict:
    """The misses of the table, taken apart (``--profile``; Numba kernels are
    opaque to cProfile, so the experiments change one thing at a time).

    * ``mf``: the serial MF epoch (the fastest of epochs 2-4, as the machine is
      shared) on the shape's ratings, and on the same ratings
      with the ids folded onto ML-1M's 6,040 x 3,706 rows (u mod 6040, i mod
      3706): the same kernel, order and number of updates, only the factor rows'
      working set shrinks (41 + 15 MB -> 1.5 + 0.9 MB at k=64 and ML-25M);
    * ``bpr``: cProfile of one BPR epoch: the seconds in the Python-side sampler
      (``sample_triples``) and in the kernel, and whether the seen-pair test is
      the bitmap or a binary search over the sorted keys;
    * ``itemknn``: the work of ItemKNN's similarity kernel, counted: the
      co-occurrence walk sum_u d_u^2, and the candidates it sorts, sum_i m_i log2
      m_i with m_i the items co-rated with i (two full sorts per item), estimated
      from 300 seeded items;
    * ``recommend``: CPU seconds of the parts of recommend-all
      (:func:`_profile_recommend`)."""
    from minirec.data import Interactions
    from minirec.models import BPR, MF

    data = _load(cache)
    if which == "mf":
        MF(k=8, n_epochs=1).fit(_tiny())
        folded = Interactions(
            data.users % 6040, data.items % 3706, data.ratings, None,
            user_ids=np.arange(6040), item_ids=np.arange(3706),
        )  # fmt: skip
        out = {}
        for name, d in (("own rows", data), ("folded rows", folded)):
            hook, ticks = _epoch_times()
            MF(k=K, n_epochs=4, seed=SEED).fit(d, on_epoch=hook)
            out[f"{name} s"] = float(np.diff(ticks).min())  # the least disturbed
        out["seconds"] = out["own rows s"]
        out["folded / own"] = out["folded rows s"] / out["own rows s"]
        return out
    if which == "bpr":
        import cProfile
        import pstats

        from minirec.models import bpr as bpr_mod

        BPR(k=8, n_epochs=1, hogwild=True).fit(_tiny())
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.runcall(BPR(k=K, n_epochs=1, hogwild=True, seed=SEED).fit, data)
        total = time.perf_counter() - t
        stats = pstats.Stats(prof).stats
        cum = {f[2]: v[3] for f, v in stats.items()}
        return {
            "seconds": total,
            "sample_triples s": cum.get("sample_triples", float("nan")),
            "bitmap": data.n_users * data.n_items <= bpr_mod._BITMAP_MAX,
        }
    if which == "itemknn":
        R, C = data.by_item, data.by_user
        d_u = np.diff(C.indptr).astype(np.float64)
        rng = np.random.default_rng(SEED)
        sample = rng.choice(data.n_items, 300, replace=False)
        m = []
        for i in sample:
            us = R.indices[R.indptr[i] : R.indptr[i + 1]]
            rows = [C.indices[C.indptr[u] : C.indptr[u + 1]] for u in us]
            m.append(len(np.unique(np.concatenate(rows))) - 1 if rows else 0)
        m = np.maximum(np.array(m, dtype=np.float64), 1.0)
        return {
            "seconds": float("nan"),
            "walk sum_u d_u^2": float((d_u**2).sum()),
            "sorted sum_i m_i log2 m_i": float(
                data.n_items * (m * np.log2(m + 1)).mean()
            ),
            "mean m_i": float(m.mean()),
        }
    if which == "recommend":
        return _profile_recommend(cache)
    raise SystemExit(f"unknown profile {which!r}")


def _profile_recommend(cache: Path, n_users: int = 8192) -> dict:
    """CPU seconds of the parts of recommend-all for the saved MF model (one
    thread, so the figures do not depend on how the cores are shared), on the
    first `n_users` users in the serving path's blocks, extrapolated to all
    users: the factor product, the model's bias terms added to it, and the
    Numba pass (seen items masked, top-10, masked scores put back); the rest of
    ``recommend_all``'s time is Python and the threads' hand-offs."""
    from threadpoolctl import threadpool_limits

    from minirec.models import _serving
    from minirec.models.base import Recommender

    m = Recommender.load(cache / "mf.npz")
    _serving.recommend_all(m, np.arange(2), 10)  # compile the kernels
    seen = m._seen
    u = np.arange(min(n_users, m.n_users))
    step = max(1, _serving.CHUNK_CELLS // m.n_items)
    max_seen = int(np.diff(seen.indptr).max())
    parts = dict.fromkeys(("product", "biases", "mask + top-10"), 0.0)
    none = np.zeros(0, np.int64)
    s = m.score_items(u[:2])  # compile the serial kernel
    saved = np.empty((2, max_seen), np.float32)
    i2, o2 = np.empty((2, 10), np.int64), np.empty((2, 10), np.float32)
    _serving._rank_rows(s, 10, u[:2], seen.indptr, seen.indices, True, none, saved,
                        i2, o2)  # fmt: skip
    with threadpool_limits(1, "blas"):
        for a in range(0, len(u), step):
            uu = u[a : a + step]
            c = time.process_time()
            s = m.P_[uu] @ m.Q_.T
            parts["product"] += time.process_time() - c
            c = time.process_time()
            user, item = m._offsets(uu)
            if user is not None:
                s += user[:, None] + item[None, :]  # as FactorModel._score
            parts["biases"] += time.process_time() - c
            idx = np.empty((len(uu), 10), np.int64)
            out = np.empty((len(uu), 10), np.float32)
            saved = np.empty((len(uu), max_seen), np.float32)
            c = time.process_time()
            _serving._rank_rows(s, 10, uu, seen.indptr, seen.indices, True, none,
                                saved, idx, out)  # fmt: skip
            parts["mask + top-10"] += time.process_time() - c
    f = m.n_users / len(u)
    out = {f"{k} cpu s": v * f for k, v in parts.items()}
    out["flops"] = 2.0 * m.n_users * m.n_items * m.P_.shape[1]
    out["seconds"] = sum(out[f"{k} cpu s"] for k in parts)
    return out


# ----------------------------------------------------------------------- driver
def run_step(step: str, shape: str, cache: Path, cap: float) -> dict:
    res = cache / f"{step}.json"
    res.unlink(missing_ok=True)
    env = dict(os.environ, MINIREC_PROGRESS="1")
    cmd = [sys.executable, __file__, "--worker", step, "--shape", shape]
    cmd += ["--cache", str(cache)]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, timeout=cap)
    except subprocess.TimeoutExpired:
        return {"capped": f"killed after {cap:.0f} s"}
    if not res.is_file():
        return {"failed": f"exit {p.returncode} without a result"}
    out = json.loads(res.read_text())
    out["wall s"] = time.perf_counter() - t
    return out


def render_targets(rows: dict, shape: str = "ml-25m") -> str:
    """The targets of this benchmark, read from the rows of `shape`."""
    from minirec.data.scale import SHAPES as SIZES

    r, base = rows.get(shape, {}), rows.get("ml-1m", {})
    growth = SIZES[shape][2] / SIZES["ml-1m"][2]

    def sec(step, key="seconds"):
        return r.get(step, {}).get(key)

    def linear(step):
        s, b = sec(step), base.get(step, {}).get("seconds")
        return None if s is None or not b else s / b / growth

    def ratio(step, peer):
        s, p = sec(step), sec(peer)
        return None if s is None or not p else s / p

    def fmt(x, spec):
        return "not measured" if x is None else format(x, spec)

    def met(ok):
        return "not measured" if ok is None else ("yes" if ok else "no")

    mf = {k: linear(k) for k in ("mf", "mf-hogwild-grid", "mf-dsgd-blocked")}
    rec = {k: sec(f"recommend-{k}") for k in ("mf", "ials", "itemknn")}
    # the serial and Hogwild epochs carry the target; the blocked order is shown
    mf_ok = None if None in mf.values() else max(mf["mf"], mf["mf-hogwild-grid"]) <= 1.3
    ials, bpr = ratio("ials", "implicit-als"), ratio("bpr", "implicit-bpr")
    knn, knn_mb = sec("itemknn"), sec("itemknn", "peak MB")
    gen, gen_mb = sec("generate"), sec("generate", "Interactions MB")
    ev, ev_mb = sec("evaluate"), sec("evaluate", "peak MB")
    ease, ease_mb = sec("ease-pruned"), sec("ease-pruned", "peak MB")
    rows_out = [
        ("generation < 1 min, Interactions < 1 GB",
         f"{fmt(gen, '.1f')} s, {fmt(gen_mb, '.1f')} MB",
         met(None if gen is None else gen < 60 and gen_mb < 1024)),
        ("MF epoch <= 1.3x linear",
         ", ".join(f"{k} {fmt(v, '.2f')}x" for k, v in mf.items()),
         met(mf_ok)),
        ("ImplicitALS iteration <= 1.0x implicit's", f"{fmt(ials, '.2f')}x",
         met(None if ials is None else ials <= 1.0)),
        ("BPR epoch <= 1.0x implicit's", f"{fmt(bpr, '.2f')}x",
         met(None if bpr is None else bpr <= 1.0)),
        ("ItemKNN fit <= 180 s, <= 4 GB peak",
         f"{fmt(knn, '.1f')} s, {fmt(knn_mb, ',.0f')} MB",
         met(None if knn is None else knn <= 180 and knn_mb <= 4096)),
        ("recommend top-10 for all users <= 30 s",
         ", ".join(f"{k} {fmt(v, '.1f')} s" for k, v in rec.items()),
         met(None if None in rec.values() else max(rec.values()) <= 30)),
        ("full-ranking evaluation, bounded memory (time reported)",
         f"{fmt(ev, '.1f')} s, peak {fmt(ev_mb, ',.0f')} MB", "reported"),
        ("EASE: dense Gram matrix too big, pruned variant measured",
         f"{fmt(ease, '.1f')} s, peak {fmt(ease_mb, ',.0f')} MB", "reported"),
    ]  # fmt: skip
    table = [{"target": t, f"{shape} shape": m, "met": ok} for t, m, ok in rows_out]
    return f"Targets at the {shape} shape:\n\n{markdown_table(table)}"


def render(rows: dict, env: dict) -> str:
    from minirec.data.scale import SHAPES as SIZES

    table = []
    base = rows.get("ml-1m", {})
    for step in STEPS:
        for shape in SHAPES:
            if shape not in rows:
                continue
            r = rows[shape].get(step, {"failed": "not run (out of time)"})
            row = {"step": step, "shape": shape, "ratings": f"{SIZES[shape][2]:,}"}
            if "seconds" in r:
                row["seconds"] = r["seconds"]
                b = base.get(step, {}).get("seconds")
                if b and shape != "ml-1m":
                    ratio = SIZES[shape][2] / SIZES["ml-1m"][2]
                    x = r["seconds"] / b
                    row["/ ML-1M"] = f"{x:.1f}x ({x / ratio:.2f}x linear)"
            else:
                row["seconds"] = r.get("capped") or r.get("failed", "")
            row["peak MB"] = r.get("peak MB", "")
            row["data MB"] = r.get("data MB", "")
            imp = rows.get(shape, {}).get(PEERS.get(step, ""))
            if imp and "seconds" in imp and "seconds" in r:
                row["vs implicit"] = f"{r['seconds'] / imp['seconds']:.2f}x its time"
            extra = {
                k: v
                for k, v in r.items()
                if k
                in (
                    "Interactions MB",
                    "NDCG@10",
                    "users",
                    "blocks",
                    "n_top_items",
                    "ratings on kept items",
                    "cpu s",
                    "split s",
                    "fit s",
                )
            }
            row["notes"] = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in extra.items()
            )
            table.append(row)
    cols = [
        "step",
        "shape",
        "ratings",
        "seconds",
        "/ ML-1M",
        "vs implicit",
        "peak MB",
        "data MB",
        "notes",
    ]
    return markdown_table(table, cols)


def render_profiles(rows: dict) -> str:
    """The ``profile-*`` rows: one line per shape and profile, its figures."""
    lines = []
    for shape in SHAPES:
        for step, r in rows.get(shape, {}).items():
            if step.startswith("profile-"):
                figs = ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in r.items()
                    if k not in ("wall s", "seconds", "searchsorted s")
                    or step == "profile-bpr"
                    and k == "seconds"
                )
                lines.append(f"| {step} | {shape} | {figs} |")
    if not lines:
        return ""
    return "| profile | shape | figures |\n|---|---|---|\n" + "\n".join(lines)


#: the plot's panels: one per model, its steps
PANELS = {
    "MF": ("mf", "mf-hogwild-grid", "mf-dsgd-blocked", "recommend-mf",
           "recommend-mf-base"),
    "ImplicitALS": ("ials", "implicit-als", "recommend-ials", "evaluate"),
    "BPR": ("bpr", "implicit-bpr"),
    "ItemKNN": ("itemknn", "recommend-itemknn"),
    "EASE / data": ("ease-pruned", "generate"),
}  # fmt: skip


def plot(rows: dict, path: Path) -> None:
    """Log-log seconds against ratings, one panel per model (PANELS), a line per
    step with at least two shapes, and the linear slope through 1 s at 1M."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minirec.data.scale import SHAPES as SIZES

    fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharex=True)
    x = np.array([1e6, 2.5e7])
    for ax, (model, steps) in zip(axes.flat, PANELS.items()):
        for step in steps:
            pts = [
                (SIZES[s][2], rows[s][step]["seconds"])
                for s in SHAPES
                if s in rows and "seconds" in rows[s].get(step, {})
            ]
            if len(pts) >= 2:
                ax.plot(*zip(*pts), "o-", label=step)
        ax.plot(x, x / 1e6, "k:", label="linear (1 s at 1M)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(model)
        ax.set_xlabel("ratings")
        ax.set_ylabel("seconds")
        ax.legend(fontsize=7)
    axes.flat[-1].axis("off")
    shown = " / ".join(s.upper() for s in SHAPES if s in rows)
    fig.suptitle(f"minirec at the {shown} shapes (2 shared cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


NOTES = """\
Notes:
- One run per shape, on 2 cores with no other job running; the load average in
  the environment block is the profile run's. Absolute times vary from machine to
  machine; compare the ratios within this run. `cpu s` is the CPU time of all of
  a step's threads.
- "/ ML-1M" compares with the ratings ratio (25x at ML-25M). recommend-* and
  evaluate score every (user, item) cell, so their work grows with users x items:
  429x from ML-1M to ML-25M (162,541 x 59,047 against 6,040 x 3,706), not 25x.
- Data: `movielens_shaped` (ML-1M's user-activity and item-popularity quantiles,
  planted rank-10 ordinal ratings; docstring of `minirec/data/scale.py`), not the
  real ML-20M / ML-25M; the CSV loaders read those when a user has them.
- Peak MB is the step's whole process (Python, NumPy, Numba, the data); data MB is
  its RSS once the data was loaded.
- recommend-*: `minirec.models._serving.rank`, the path of `Recommender.recommend`
  too, in blocks of 2^22 scores (16 MiB of float32) per thread: the memory does
  not grow with the number of users beyond the (users, 10) result. Factor models
  are scored on the Numba threads, each with one BLAS thread and its own blocks
  (a block stays in the cache from the product to the top-10 pass); OpenBLAS's
  own threads are not used, as they spin after each call and take the cores from
  the Numba pass that follows. ItemKNN's scores come from its own kernel
  (`knn_vote_scores`: the users' rows times the sparse top-n similarity matrix).
- evaluate: `evaluate_full` in blocks of 2^24 scores (64 MiB of float32, 284
  users at the ML-25M shape): one block of scores, the block's relevant and
  training items and the per-pair ranks are held, whatever the number of users.
  `split s` and `fit s` (per-user 80/20 split, ImplicitALS) are timed apart.
- EASE: the full Gram matrix at ML-25M is 59,047^2 float64 = 27.9 GB (its inverse
  overwrites it), beyond this 24 GB machine; `ease-pruned` learns B over the
  `--ease-items` most popular items (their share of the ratings in the notes), and
  the other items rank last. Memory grows as 8 n_top_items^2 (10,000: 0.8 GB;
  20,000: 3.2 GB), time as n_top_items^3 plus the Gram product over the kept
  ratings. The 5,000 most popular items of the ML-25M shape hold only 40% of its
  ratings (its popularity tail is long), so pruning that hard drops most of the
  catalogue from the ranking.
"""


PROFILE_NOTES = """\
What the profiles show:
- **MF epoch (the miss).** `profile-mf` runs the same 25M updates in the same
  order twice: on the model's own factor rows, and with the ids folded onto
  ML-1M's 6,040 x 3,706 rows. Folded, the epoch takes 0.28x the time: 1.63 s,
  0.065 s per million ratings against ML-1M's 0.060 s (1.08x linear). The
  superlinear part is therefore the factor rows' cache misses: P and Q are
  41 + 15 MB at k=64 against 2.5 MB at ML-1M, which fits in the cache, so the
  ML-1M epoch is a cache-resident baseline that no order reaches at 25M. The
  cache-blocked DSGD order (`mf-dsgd-blocked`, blocks of about 1 MiB of factor
  rows) recovers most of it: 0.98x linear at ML-20M, 1.60x at ML-25M, whose
  59,047 items make the item side of a block larger. (No hardware counters in
  this VM, so the working set is varied instead.)
- **BPR epoch.** The negatives are tested in a bit-packed users x items bitmap
  (9.6e9 bits, 1.2 GB at ML-25M; a binary search in the user's sorted row where
  the bitmap would exceed 2^34 cells): the sampler is 2.8 s of an 11.0 s epoch
  with its set-up. About half of the kernel's time is cache misses on the rows of
  Q, as negatives are uniform over 59k items.
- **ItemKNN fit.** The similarity kernel walks every co-occurrence (sum_u d_u^2 =
  8.9e9 at ML-25M, 23x ML-1M's) and keeps each item's top `n_neighbors` in a
  bounded heap; `sorted sum_i m_i log2 m_i` is the work two full sorts of the
  m_i candidates per item would add (2.2e10 comparisons: an item has about
  24,700 co-rated items at ML-25M, 2,900 at ML-1M). The walk is now the fit.
- **recommend top-10 for all users.** `profile-recommend` splits MF's CPU time
  on one thread: the product is 2 x 162,541 x 59,047 x 64 = 1.2e12 flops
  (float32 BLAS), the bias terms one more pass over the scores
  (`FactorModel._score` adds a (users, items) temporary), and the Numba pass
  one read of the scores. On 2 threads `recommend-mf` takes about half the sum.
- **evaluate.** Per user the kernel copies the row with the training items as
  NaN, takes the top-10 for coverage, and counts the scores at or above each
  relevant item's in one vectorized pass each (n_items x n_relevant compares, 32
  relevant items per user on average at ML-25M), so it costs about 32 reads of
  each row on top of the product; users with more than 64 relevant items sort
  their row instead. Its scoring runs on one thread.
"""

SPARK = "## Spark MLlib ALS\n"
SPARK_TEXT = (
    "\nSpark `local[2]` next to minirec: `benchmarks/results/spark.md` "
    "(`benchmarks/bench_spark.py`): on ML-1M, the NCF files (implicit) and at the "
    "ML-20M / ML-25M shapes (171.3 vs 7.9 s per ALS iteration at 20M, 262.0 vs "
    "21.5 s at 25M, k=10).\n"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated, of: {', '.join(STEPS)}, profile-mf, profile-bpr, "
        "profile-itemknn, profile-recommend",
    )
    ap.add_argument("--cache", default="/tmp/minirec_scale")
    ap.add_argument("--rows", default=None, help="JSON rows (default: in --cache)")
    ap.add_argument("--cap", type=float, default=300.0, help="seconds per step")
    ap.add_argument("--write", action="store_true")
    ap.add_argument(
        "--out", default=str(HERE / "results"), help="folder of scale.md / scale.png"
    )
    ap.add_argument("--ease-items", type=int, default=10_000)
    ap.add_argument("--worker", default=None)
    ap.add_argument("--shape", default=None)
    a = ap.parse_args()
    if a.worker:
        try:
            out = worker(a.worker, a.shape, Path(a.cache))
        except (Exception, SystemExit) as e:  # the row says why, the driver goes on
            out = {"failed": f"{type(e).__name__}: {e}"}
        (Path(a.cache) / f"{a.worker}.json").write_text(json.dumps(out))
        sys.exit(1 if "failed" in out else 0)
    from minirec._utils import progress

    os.environ["BENCH_EASE_ITEMS"] = str(a.ease_items)

    root = Path(a.cache)
    rows_path = Path(a.rows) if a.rows else root / "rows.json"
    rows = json.loads(rows_path.read_text()) if rows_path.is_file() else {}
    todo = [
        (shape, step)
        for shape in a.shapes.split(",")
        if shape
        for step in a.steps.split(",")
        if step
    ]
    for shape, step in progress(todo, "bench_scale", len(todo), True, "step"):
        r = run_step(step, shape, root / f"{shape}-seed{SEED}", a.cap)
        rows.setdefault(shape, {})[step] = r
        root.mkdir(parents=True, exist_ok=True)
        rows_path.write_text(json.dumps(rows, indent=1))
        print(f"{shape} {step}: {r}", file=sys.stderr)
    if a.write:
        env = environment(("scipy", "implicit"))
        env["command"] = CMD
        env["threads"] = (
            f"NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, "
            f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; implicit on "
            "all cores"
        )
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        plot(rows, out / "scale.png")
        body = (
            f"Command: `{CMD}`\n\n{render(rows, env)}\n\n{render_targets(rows)}"
            "\n\n![time vs ratings](scale.png)"
            f"\n\n{NOTES}\n\n## Profiles of the misses\n\nCommand: `{PROFILE_CMD}`"
            f"\n\n{render_profiles(rows)}\n\n{PROFILE_NOTES}"
        )
        title = "MovieLens-25M-sized work on one machine"
        text = f"# {title}\n\n{body}\n\n## Environment\n\n{env_block(env)}\n"
        (out / "scale.md").write_text(f"{text}\n{SPARK}{SPARK_TEXT}")
        print(f"written to {out / 'scale.md'}")


if __name__ == "__main__":
    main()
