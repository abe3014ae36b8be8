"""Spark MLlib's ALS next to minirec's, on the same matrix and objective.

ML-1M, random 90/10 split, seed 0, explicit ratings. Both solve ALS-WR (λ times the
row's number of ratings, Zhou et al. 2008) without biases: minirec's
``ALS(weighted=True, biased=False)`` on the numba backend, and
``minirec.spark.SparkALS`` (``pyspark.ml.recommendation.ALS``) on ``local[2]``, with
the same rank, λ and number of iterations; the initialisations differ (Spark's rows
start at unit norm). Reported: held-out RMSE (predictions clipped to 1..5), the
ALS-WR training objective, fit seconds and seconds per iteration (Spark's include
the JVM work of each half-iteration, not its start-up, which is measured apart).

    MINIREC_DATA=../shared/data python benchmarks/bench_spark.py [--k 10] [--reg 0.05]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table, write_result  # noqa: E402

from minirec.data import load_movielens, random_split  # noqa: E402
from minirec.evaluation import evaluate_ratings  # noqa: E402
from minirec.models import ALS  # noqa: E402
from minirec.spark import SparkALS, get_spark  # noqa: E402


def objective(m, data, reg: float) -> float:
    """ALS-WR's loss: squared errors + reg * (n_u |p_u|² + n_i |q_i|²)."""
    e = data.ratings - np.einsum("ij,ij->i", m.P_[data.users], m.Q_[data.items])
    n_u = np.bincount(data.users, minlength=data.n_users)
    n_i = np.bincount(data.items, minlength=data.n_items)
    pen = (n_u * (m.P_**2).sum(1)).sum() + (n_i * (m.Q_**2).sum(1)).sum()
    return float((e.astype(np.float64) ** 2).sum() + reg * pen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reg", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, nargs="+", default=[10, 25])
    a = ap.parse_args()
    t0 = time.perf_counter()
    get_spark("local[2]")
    startup = time.perf_counter() - t0
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
            t = time.perf_counter()
            m.fit(train)
            secs = time.perf_counter() - t
            rows.append(
                {"engine": name, "iterations": n,
                 "test RMSE": evaluate_ratings(m, test).metrics["RMSE"],
                 "objective": objective(m, train, a.reg),
                 "fit s": secs, "s / iteration": secs / n}
            )  # fmt: skip
            print(rows[-1], flush=True)
    cmd = (
        "MINIREC_DATA=../shared/data python benchmarks/bench_spark.py "
        f"--k {a.k} --reg {a.reg} --epochs {' '.join(map(str, a.epochs))}"
    )
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
    body = f"""## Spark MLlib ALS vs minirec ALS (ML-1M, random 90/10, seed 0)

{__doc__.split(chr(10) + chr(10), 1)[1].split("    MINIREC_DATA")[0].strip()}

Command: `{cmd}`. Spark session start-up (JVM): {startup:.1f} s, not in the fits.

{markdown_table(rows)}

### Notes

{chr(10).join(notes)}
"""
    write_result("spark", "Spark MLlib ALS", body, environment())


if __name__ == "__main__":
    main()
