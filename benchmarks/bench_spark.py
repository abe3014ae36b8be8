"""Spark MLlib's ALS next to minirec's, on the same matrix and objective.

Three parts, each a section of benchmarks/results/spark.md (``--part``; a run
replaces its own section and keeps the others):

``explicit``
    ML-1M, random 90/10 split, seed 0, explicit ratings. Both solve ALS-WR (λ times
    the row's number of ratings, Zhou et al. 2008) without biases: minirec's
    ``ALS(weighted=True, biased=False)`` on the numba backend, and
    ``minirec.spark.SparkALS`` (``pyspark.ml.recommendation.ALS``) on ``local[2]``,
    with the same rank, λ and number of iterations; the initialisations differ
    (Spark's rows start at unit norm). Reported: held-out RMSE (predictions clipped
    to 1..5), the ALS-WR training objective, fit seconds and seconds per iteration
    (Spark's include the JVM work of each half-iteration, not its start-up, which
    is measured apart).
``implicit``
    The NCF ML-1M files (every training rating a positive; each user's held-out
    item ranked among its 99 sampled negatives, HR@10 / NDCG@10). Spark's implicit
    ALS scales λ by the row's number of entries, in the implicit model too, so it is
    compared with ``ImplicitALS(weighted=True, solver="cholesky")`` (the same
    objective, exact solves); ``ImplicitALS`` with its default unscaled λ and the
    same ``reg`` is shown for contrast.
``scale``
    Seconds per iteration at the ML-20M / ML-25M shapes
    (``minirec.data.movielens_shaped``, seed 0, explicit ratings): minirec's
    ``ALS(weighted=True, biased=False)`` and Spark ``local[2]`` for ``--epochs``
    iterations each (the fit time over the iterations; Spark's includes reading
    the ratings from a CSV file and collecting the factors, both timed apart).

    MINIREC_DATA=../shared/data python benchmarks/bench_spark.py --part explicit
    MINIREC_DATA=../shared/data python benchmarks/bench_spark.py --part implicit
    python benchmarks/bench_spark.py --part scale --shapes ml-20m,ml-25m --epochs 2
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import RESULTS, env_block, environment, markdown_table  # noqa: E402

from minirec.data import Interactions, load_movielens, random_split  # noqa: E402
from minirec.evaluation import evaluate_ratings, evaluate_sampled  # noqa: E402
from minirec.models import ALS, ImplicitALS  # noqa: E402
from minirec.spark import SparkALS, get_spark  # noqa: E402

TITLE = "# Spark MLlib ALS\n"


def objective(m, data, reg: float) -> float:
    """ALS-WR's loss: squared errors + reg * (n_u |p_u|² + n_i |q_i|²)."""
    e = data.ratings - np.einsum("ij,ij->i", m.P_[data.users], m.Q_[data.items])
    n_u = np.bincount(data.users, minlength=data.n_users)
    n_i = np.bincount(data.items, minlength=data.n_items)
    pen = (n_u * (m.P_**2).sum(1)).sum() + (n_i * (m.Q_**2).sum(1)).sum()
    return float((e.astype(np.float64) ** 2).sum() + reg * pen)


def implicit_objective(m, data, reg: float, alpha: float) -> float:
    """Hu et al.'s loss over all m·n pairs with λ scaled by the row's entries:
    Σ c_ui (p_ui − s_ui)² + reg (Σ n_u |x_u|² + Σ n_i |y_i|²), the unobserved
    part by Σ_all s² = Σ (PᵀP ∘ QᵀQ)."""
    P, Q = m.P_.astype(np.float64), m.Q_.astype(np.float64)
    s = np.einsum("ij,ij->i", P[data.users], Q[data.items])
    c = 1.0 + alpha * data.ratings.astype(np.float64)
    loss = float(((P.T @ P) * (Q.T @ Q)).sum())  # every pair at p = 0, c = 1
    loss += float((c * (1.0 - s) ** 2 - s**2).sum())  # observed pairs corrected
    n_u = np.bincount(data.users, minlength=data.n_users)
    n_i = np.bincount(data.items, minlength=data.n_items)
    return loss + reg * float((n_u * (P**2).sum(1)).sum() + (n_i * (Q**2).sum(1)).sum())


def timed_fit(m, data) -> float:
    t = time.perf_counter()
    m.fit(data)
    return time.perf_counter() - t


def part_explicit(a) -> tuple[str, str]:
    train, test = random_split(load_movielens("ml-1m"), test_fraction=0.1, seed=0)
    kw = {"k": a.k, "reg": a.reg}
    ALS(**kw, n_epochs=1, weighted=True, biased=False, backend="numba").fit(train)
    rows = []
    for n in a.epochs:
        models = {
            "minirec ALS (numba)": ALS(
                **kw, n_epochs=n, weighted=True, biased=False, backend="numba"
            ),
            "Spark ALS (local[2])": SparkALS(**kw, n_epochs=n, n_blocks=4),
        }
        for name, m in models.items():
            secs = timed_fit(m, train)
            rows.append(
                {"engine": name, "iterations": n,
                 "test RMSE": evaluate_ratings(m, test).metrics["RMSE"],
                 "objective": objective(m, train, a.reg),
                 "fit s": secs, "s / iteration": secs / n}
            )  # fmt: skip
            print(rows[-1], flush=True)
    notes = []
    for n in a.epochs:
        ours, spark = (r for r in rows if r["iterations"] == n)
        notes.append(
            f"- {n} iterations: RMSE difference "
            f"{abs(ours['test RMSE'] - spark['test RMSE']):.4f}, objective ratio "
            f"{spark['objective'] / ours['objective']:.4f}, Spark / minirec fit time "
            f"{spark['fit s'] / ours['fit s']:.1f}x"
        )
    notes.append(
        "- Spark's fit time has a large fixed part (building the DataFrame, planning "
        "the jobs, collecting the factors): compare the two iteration counts."
    )
    title = "Spark MLlib ALS vs minirec ALS (ML-1M, random 90/10, seed 0)"
    return title, f"{markdown_table(rows)}\n\n### Notes\n\n" + "\n".join(notes)


def part_implicit(a) -> tuple[str, str]:
    from minirec.data.ncf import ncf_protocol

    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    train = Interactions(
        train.users, train.items, None, None,
        user_ids=train.user_ids, item_ids=train.item_ids, name="NCF ml-1m train",
    )  # fmt: skip
    kw = {"k": a.k, "reg": a.reg, "alpha": a.alpha}
    ImplicitALS(**kw, n_epochs=1, weighted=True, backend="numba").fit(train)
    rows = []
    for n in a.epochs:
        models = {
            "minirec ImplicitALS(weighted=True) (numba)": ImplicitALS(
                **kw, n_epochs=n, weighted=True, solver="cholesky", backend="numba"
            ),
            "Spark ALS(implicitPrefs) (local[2])": SparkALS(
                **kw, n_epochs=n, implicit=True, n_blocks=4
            ),
            "minirec ImplicitALS (unscaled λ, for contrast)": ImplicitALS(
                **kw, n_epochs=n, solver="cholesky", backend="numba"
            ),
        }
        for name, m in models.items():
            secs = timed_fit(m, train)
            r = evaluate_sampled(m, tu, ti, negs, ks=(10,)).metrics
            rows.append(
                {"engine": name, "iterations": n, "HR@10": r["HR@10"],
                 "NDCG@10": r["NDCG@10"],
                 "objective (λ scaled)": implicit_objective(m, train, a.reg, a.alpha),
                 "fit s": secs, "s / iteration": secs / n}
            )  # fmt: skip
            print(rows[-1], flush=True)
    notes = []
    for n in a.epochs:
        ours, spark, plain = (r for r in rows if r["iterations"] == n)
        notes.append(
            f"- {n} iterations: HR@10 difference "
            f"{abs(ours['HR@10'] - spark['HR@10']):.4f} (NDCG@10 "
            f"{abs(ours['NDCG@10'] - spark['NDCG@10']):.4f}), objective ratio "
            f"{spark['objective (λ scaled)'] / ours['objective (λ scaled)']:.4f}, "
            f"Spark / minirec fit time {spark['fit s'] / ours['fit s']:.1f}x; the "
            f"unscaled λ: HR@10 {plain['HR@10']:.4f}"
        )
    notes.append(
        "- Spark's implicit ALS (`ALS.computeFactors`) counts the positive entries "
        "of the row and solves with `numExplicits * regParam`, as in its explicit "
        "model: with the same `reg`, minirec's default ImplicitALS penalises a user "
        "with 100 items 100x less. `weighted=True` applies the same scaling (one "
        "kernel call per run of rows of equal length, each with its own λ)."
    )
    title = (
        "Implicit: Spark ALS(implicitPrefs) vs minirec ImplicitALS (NCF ML-1M, "
        f"1 + 99 sampled, k={a.k}, reg={a.reg}, alpha={a.alpha})"
    )
    return title, f"{markdown_table(rows)}\n\n### Notes\n\n" + "\n".join(notes)


def _spark_scale_row(a, shape, data, n) -> dict:
    s = SparkALS(k=a.k, reg=a.reg, n_epochs=n, n_blocks=a.n_blocks)
    t = time.perf_counter()
    try:
        s.fit(data)
    except Exception as e:  # noqa: BLE001 - recorded, the run goes on
        return {"s / iteration": float("nan"), "fit s": time.perf_counter() - t,
                "notes": f"failed: {type(e).__name__}: {str(e)[:120]}"}  # fmt: skip
    secs, info = time.perf_counter() - t, s.fit_timings_
    return {
        "s / iteration": info["als"] / n,
        "fit s": secs,
        "notes": f"ratings to Spark {info['to_spark']:.1f} s, factors back "
        f"{info['collect']:.1f} s; {a.n_blocks} blocks, driver memory "
        f"{a.driver_memory}",
    }


def _minirec_scale_row(a, shape, data, n) -> dict:
    t = time.perf_counter()
    data.by_user, data.by_item  # noqa: B018 - the CSRs, built once, timed apart
    csr = time.perf_counter() - t
    m = ALS(k=a.k, reg=a.reg, n_epochs=n, weighted=True, biased=False)
    secs = timed_fit(m, data)
    return {"s / iteration": secs / n, "fit s": secs + csr,
            "notes": f"CSRs by user and by item {csr:.1f} s"}  # fmt: skip


def part_scale(a) -> tuple[str, str]:
    """Rows are stored in spark_scale.json (one per shape and engine), so a run
    of one engine (``--engines``) keeps the other's."""
    import json

    from minirec.data.scale import movielens_shaped

    store = RESULTS / "spark_scale.json"
    rows = json.loads(store.read_text()) if store.exists() else {}
    engines = {
        "minirec": ("minirec ALS (numba, 2 threads)", _minirec_scale_row),
        "spark": ("Spark ALS (local[2])", _spark_scale_row),
    }
    tiny = movielens_shaped((200, 100, 5_000), seed=0, show_progress=False)
    ALS(k=a.k, n_epochs=1, weighted=True, biased=False).fit(tiny)  # compile
    for shape in a.shapes.split(","):
        data = movielens_shaped(shape, seed=0, timestamps=False)
        for e in a.engines.split(","):
            name, run = engines[e]
            row = {"shape": shape, "ratings": f"{len(data):,}", "engine": name,
                   "iterations": a.epochs[0]}  # fmt: skip
            row.update(run(a, shape, data, a.epochs[0]))
            rows[f"{shape} {e}"] = row
            print(row, flush=True)
            store.write_text(json.dumps(rows, indent=1))
        del data
    table = [rows[key] for key in sorted(rows)]
    for shape in sorted({r["shape"] for r in table}):
        ours, theirs = rows.get(f"{shape} minirec"), rows.get(f"{shape} spark")
        if ours and theirs:
            theirs["notes"] += (
                f"; {theirs['s / iteration'] / ours['s / iteration']:.1f}x minirec's "
                "time per iteration"
            )
    title = f"Spark local[2] vs minirec at the ML-20M / ML-25M shapes (k={a.k})"
    notes = (
        "- Seconds per iteration: minirec's fit over its iterations once the CSRs "
        "are built; Spark's `ALS.fit` over its iterations (its blocking of the "
        "ratings included), without moving the ratings in (a CSV file Spark reads: "
        "without pyarrow a pandas frame would be pickled row by row) or collecting "
        "the factors (both in the fit time and the notes).\n"
        "- Both run on the same 2 shared cores (other jobs ran too: see the load "
        "average)."
    )
    return title, f"{markdown_table(table)}\n\n### Notes\n\n{notes}"


PARTS = ("explicit", "implicit", "scale")


def pattern_of(part: str) -> re.Pattern:
    begin, end = f"<!-- part {part} -->", f"<!-- end part {part} -->"
    return re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)


def write_section(part: str, title: str, body: str, startup: float) -> None:
    """Replace this part's section of spark.md, keeping the other parts."""
    path = RESULTS / "spark.md"
    old = path.read_text() if path.exists() else ""
    sections = {p: m.group(0) for p in PARTS if (m := pattern_of(p).search(old))}
    env = environment(("pyspark",))
    sections[part] = (
        f"<!-- part {part} -->\n## {title}\n\nCommand: `{env['command']}`. Spark "
        f"session start-up (JVM): {startup:.1f} s, not in the fits.\n\n{body}\n\n"
        f"Environment:\n\n{env_block(env)}\n<!-- end part {part} -->"
    )
    intro = __doc__.split("\n\n", 1)[1].split("    MINIREC_DATA")[0].strip()
    text = f"{TITLE}\n{intro}\n\n" + "\n\n".join(
        sections[p] for p in PARTS if p in sections
    )
    path.write_text(text + "\n")
    print(text)
    print(f"written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--part", choices=("explicit", "implicit", "scale"), default="explicit"
    )
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--reg", type=float, default=None)
    ap.add_argument("--alpha", type=float, default=4.0)
    ap.add_argument("--epochs", type=int, nargs="+", default=None)
    ap.add_argument("--shapes", default="ml-20m,ml-25m")
    ap.add_argument("--engines", default="minirec,spark")
    ap.add_argument("--n-blocks", type=int, default=4)
    ap.add_argument("--driver-memory", default="6g")
    a = ap.parse_args()
    defaults = {
        "explicit": (10, 0.05, [10, 25]),
        "implicit": (32, 0.05, [10]),
        "scale": (10, 0.05, [2]),
    }[a.part]
    a.k = a.k or defaults[0]
    a.reg = defaults[1] if a.reg is None else a.reg
    a.epochs = a.epochs or defaults[2]
    t0 = time.perf_counter()
    get_spark("local[2]", driver_memory=a.driver_memory)
    startup = time.perf_counter() - t0
    title, body = {"explicit": part_explicit, "implicit": part_implicit,
                   "scale": part_scale}[a.part](a)  # fmt: skip
    write_section(a.part, title, body, startup)


if __name__ == "__main__":
    main()
