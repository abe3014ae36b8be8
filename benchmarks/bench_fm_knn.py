"""Speed of the FM and KNN kernels: NumPy spec vs Numba, FM vs the MF epoch, and
Surprise's KNNBaseline, all measured in the same run.

* FM epoch on ML-1M (all 1,000,209 ratings), k = 64 and 128, the per-epoch shuffle
  counted in every timing (``shuffle_ratings`` of the (user, item, y) rows, then
  the kernel reads them in sequence: what ``FM.fit`` and ``MF.fit`` do):
  - Numba FM with side features (user id, item id, gender, age, occupation,
    genres: nnz ≈ 6.7 per rating), the block kernel the model trains with
    (``numba_fast``, what ``get_kernels("numba")`` returns);
  - Numba FM with ids only (nnz = 2, the same kernel);
  - Numba ``sgd_mf_epoch`` (biased MF, serial) of the same table: the target is FM
    with side features <= 3x this epoch;
  - the NumPy spec on the first ``--numpy-rows`` ratings, scaled to the full
    epoch (it is a per-rating Python loop; the scaled figure is marked).
  Variants are interleaved and repeated (``--repeats``); the table shows the
  median and min, and the ratio of medians. JIT compile time is measured apart
  (the first call on 10 ratings with an empty Numba cache is not guaranteed:
  ``cache=True`` may load a compiled kernel, so the figure is "first call").
* KNN similarities (pearson_baseline residuals, shrink 100, every positive
  neighbour kept) of ItemKNN / UserKNN on ML-100k: NumPy dense spec vs Numba
  sparse co-occurrence, and Surprise's KNNBaseline ``fit`` (which computes the
  same similarity matrix, plus the baselines) in the same run; ItemKNN on ML-1M
  with Numba.

    MINIREC_DATA=../shared/data python benchmarks/bench_fm_knn.py

Writes the ``speed`` section of benchmarks/results/fm_knn.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table  # noqa: E402
from accuracy_fm import write_section  # noqa: E402

from minirec._utils import aligned_empty  # noqa: E402
from minirec.backends import numba_fast as NF  # noqa: E402  (what models train with)
from minirec.backends import numpy_ops as NP  # noqa: E402
from minirec.data import load_ml100k_split, load_movielens  # noqa: E402
from minirec.data.features import build_fm_fields  # noqa: E402
from minirec.models import BiasedBaseline  # noqa: E402

CMD = "MINIREC_DATA=../shared/data python benchmarks/bench_fm_knn.py"


def _fm_speed_k(data, side, ids, mf, k, repeats, numpy_rows, rows, compile_rows):
    """FM/MF epoch timings at one k, appended to rows / compile_rows."""
    y = data.ratings
    n = len(y)
    rng = np.random.default_rng(0)

    def aligned(shape):  # as the models allocate V, P and Q: rows on cache lines
        out = aligned_empty(shape, np.float32)
        out[...] = 0.05 * rng.standard_normal(shape)
        return out

    def fm_state(fields):
        return (
            np.array([y.mean()], np.float32),
            np.zeros(fields.n_features, np.float32),
            aligned((fields.n_features, k)),
        )

    st_side, st_ids = fm_state(side), fm_state(ids)
    P = aligned((data.n_users, k))
    Q = aligned((data.n_items, k))
    bu = np.zeros(data.n_users, np.float32)
    bi = np.zeros(data.n_items, np.float32)
    mu = float(y.mean())

    su, si, sy = np.empty_like(data.users), np.empty_like(data.items), np.empty_like(y)
    ident = np.arange(n)

    def shuffled():
        NF.shuffle_ratings(
            data.users, data.items, y, int(rng.integers(2**63)), su, si, sy
        )
        return su, si, sy

    def fm_epoch(fields, st, kernel):
        kernel(
            *shuffled(),
            ident,
            fields.user_idx,
            fields.user_val,
            fields.item_idx,
            fields.item_val,
            *st,
            0.005,
            0.01,
            0.03,
            False,
        )

    variants = {
        "Numba FM, side features": lambda: fm_epoch(
            side, st_side, NF.sgd_fm_blocks_epoch
        ),
        "Numba FM, ids only": lambda: fm_epoch(ids, st_ids, NF.sgd_fm_blocks_epoch),
    }
    if mf is not None:
        variants["Numba sgd_mf_epoch (MF's kernel)"] = lambda: mf(
            *shuffled(),
            ident,
            P,
            Q,
            bu,
            bi,
            mu,
            0.005,
            0.03,
            0.03,
            True,
        )
    # compile time apart: first call on 10 ratings
    for name, kern in [("sgd_fm_blocks_epoch (numba)", NF.sgd_fm_blocks_epoch)]:
        t0 = time.perf_counter()
        kern(
            data.users,
            data.items,
            y,
            np.arange(10),
            side.user_idx,
            side.user_val,
            side.item_idx,
            side.item_val,
            *fm_state(side),
            0.005,
            0.01,
            0.03,
            False,
        )
        compile_rows.append(
            {"kernel": f"{name} (k={k})", "first call s": time.perf_counter() - t0}
        )
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    # the NumPy spec on a prefix, scaled to the full epoch
    t0 = time.perf_counter()
    st_np = fm_state(side)
    order = rng.permutation(numpy_rows)
    NP.sgd_fm_blocks_epoch(
        data.users,
        data.items,
        y,
        order,
        side.user_idx,
        side.user_val,
        side.item_idx,
        side.item_val,
        *st_np,
        0.005,
        0.01,
        0.03,
        False,
    )
    np_epoch = (time.perf_counter() - t0) * n / numpy_rows
    ref_times = times.get(
        "Numba sgd_mf_epoch (MF's kernel)", times["Numba FM, ids only"]
    )
    ref = statistics.median(ref_times)
    for name, ts in times.items():
        med = statistics.median(ts)
        # the same ratio per round (variants run back to back), then the median:
        # less exposed to the machine's drift than the ratio of medians
        paired = statistics.median(a / b for a, b in zip(ts, ref_times))
        rows.append(
            {
                "k": k,
                "variant": name,
                "median s/epoch": med,
                "min s": min(ts),
                "ratings/s (M)": n / med / 1e6,
                "x MF epoch": med / ref,
                "x MF, paired": paired,
            }
        )
    rows.append(
        {
            "k": k,
            "variant": f"NumPy spec, side features (scaled from "
            f"{numpy_rows:,} ratings)",
            "median s/epoch": np_epoch,
            "min s": np_epoch,
            "ratings/s (M)": n / np_epoch / 1e6,
            "x MF epoch": np_epoch / ref,
            "x MF, paired": "-",
        }
    )
    print(rows[-4:], flush=True)


def fm_speed(repeats: int, numpy_rows: int, ks=(64, 128)) -> tuple[list, list]:
    data = load_movielens("ml-1m")
    side = build_fm_fields(data)
    ids = build_fm_fields(data, None, None)
    mf = NF.sgd_mf_epoch
    rows, compile_rows = [], []
    for k in ks:
        _fm_speed_k(data, side, ids, mf, k, repeats, numpy_rows, rows, compile_rows)
    return rows, compile_rows


def _surprise_fit(train, user_based: bool) -> float:
    from surprise import Dataset, KNNBaseline, Reader

    df = train.to_dataframe()[["user", "item", "rating"]]
    ts = Dataset.load_from_df(df, Reader(rating_scale=(1, 5))).build_full_trainset()
    opts = {"name": "pearson_baseline", "user_based": user_based, "shrinkage": 100}
    t0 = time.perf_counter()
    KNNBaseline(k=40, sim_options=opts, verbose=False).fit(ts)
    return time.perf_counter() - t0


def _residual_csrs(train, item_based: bool):
    b = BiasedBaseline(clip=False).fit(train)
    resid = train.ratings - (b.mu_ + b.bu_[train.users] + b.bi_[train.items])
    X = train.by_item if item_based else train.by_user
    T = train.by_user if item_based else train.by_item
    return (
        X.indptr,
        X.indices,
        np.ascontiguousarray(resid[X.rows]),
        T.indptr,
        T.indices,
        np.ascontiguousarray(resid[T.rows]),
    )


def knn_speed(repeats: int) -> list:
    rows = []
    train, _ = load_ml100k_split("u1")
    for label, item_based in [("ItemKNN", True), ("UserKNN", False)]:
        csr = _residual_csrs(train, item_based)
        NF.knn_similarity(*csr, True, 100.0, 0)  # compile / load
        t = {"NumPy dense spec": [], "Numba sparse": [], "Surprise KNNBaseline.fit": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            NP.knn_similarity(*csr, True, 100.0, 0)
            t["NumPy dense spec"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            NF.knn_similarity(*csr, True, 100.0, 0)
            t["Numba sparse"].append(time.perf_counter() - t0)
            try:
                t["Surprise KNNBaseline.fit"].append(
                    _surprise_fit(train, not item_based)
                )
            except ImportError:
                pass
        ref = statistics.median(t["Numba sparse"])
        for name, ts in t.items():
            if ts:
                rows.append(
                    {
                        "data": "ML-100k u1.base",
                        "model": label,
                        "variant": name,
                        "median s": statistics.median(ts),
                        "x Numba": statistics.median(ts) / ref,
                    }
                )
    data = load_movielens("ml-1m")
    csr = _residual_csrs(data, True)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        NF.knn_similarity(*csr, True, 100.0, 0)
        ts.append(time.perf_counter() - t0)
    rows.append(
        {
            "data": "ML-1M (all)",
            "model": "ItemKNN",
            "variant": "Numba sparse",
            "median s": statistics.median(ts),
            "x Numba": 1.0,
        }
    )
    print(rows, flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--numpy-rows", type=int, default=20_000)
    ap.add_argument(
        "--section", default="speed", help="results section to (re)write (repeats)"
    )
    args = ap.parse_args(argv)
    import numba

    env = environment(extra=("surprise",))
    env["numba threads"] = str(numba.get_num_threads())
    fm_rows, compile_rows = fm_speed(args.repeats, args.numpy_rows)
    knn_rows = knn_speed(max(1, args.repeats // 2))
    env["load average (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    body = (
        "### FM epoch on ML-1M (1,000,209 ratings, shuffle included)\n\n"
        "Same run, variants interleaved; `x MF epoch` = median / median of the "
        "biased-MF Numba epoch at the same k; `x MF, paired` = median over the "
        "rounds of (this epoch / the MF epoch of the same round). Target: FM with "
        "side features <= 3x "
        "the MF epoch. Timings on a shared 2-core machine: see the load average.\n\n"
        + markdown_table(fm_rows)
        + "\n\nFirst call (JIT compile, or load from Numba's cache):\n\n"
        + markdown_table(compile_rows)
        + "\n\n### KNN similarities (pearson_baseline, shrink 100, all positive "
        "neighbours)\n\nSurprise's fit computes the same similarity matrix plus its "
        "baselines (ours: BiasedBaseline, ~0.05 s, not included).\n\n"
        + markdown_table(knn_rows)
    )
    cmd = f"{CMD} --repeats {args.repeats}"
    if args.section != "speed":
        cmd += f" --section {args.section}"
    write_section(args.section, body, env, command=cmd)


if __name__ == "__main__":
    main()
