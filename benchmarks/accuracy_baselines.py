"""Accuracy of the baselines on MovieLens, next to Surprise's BaselineOnly in one run.

Protocols (write them next to every number):
* ML-1M: random 90/10 holdout of all 1,000,209 ratings, seed 0 (`random_split`).
* ML-100k: the five GroupLens folds u1..u5 (u{k}.base / u{k}.test), mean RMSE.

    MINIREC_DATA=../shared/data python benchmarks/accuracy_baselines.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import environment, markdown_table, write_result  # noqa: E402

from minirec.data import load_ml100k_split, load_movielens, random_split  # noqa: E402
from minirec.evaluation import evaluate_ratings  # noqa: E402
from minirec.models import BiasedBaseline, GlobalMean  # noqa: E402


def surprise_rmse(train, test) -> float | None:
    """Surprise BaselineOnly (default ALS: reg_i=10, reg_u=15, 10 epochs)."""
    try:
        import pandas as pd
        from surprise import BaselineOnly, Dataset, Reader, accuracy
    except ImportError:
        return None
    df = train.to_dataframe()[["user", "item", "rating"]]
    ts = Dataset.load_from_df(df, Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = BaselineOnly(verbose=False).fit(ts)
    tdf = test.to_dataframe()
    pairs = list(zip(tdf.user, tdf.item, tdf.rating))
    del pd
    return accuracy.rmse(algo.test(pairs), verbose=False)


def main() -> None:
    rows = []
    data = load_movielens("ml-1m")
    train, test = random_split(data, test_fraction=0.1, seed=0)
    for model in (GlobalMean(), BiasedBaseline()):
        t0 = time.perf_counter()
        model.fit(train)
        secs = time.perf_counter() - t0
        rmse = evaluate_ratings(model, test).metrics["RMSE"]
        rows.append(
            {
                "dataset": "ML-1M",
                "protocol": "random 90/10, seed 0",
                "model": f"minirec {type(model).__name__}",
                "RMSE": rmse,
                "fit s": secs,
            }
        )
    s = surprise_rmse(train, test)
    if s is not None:
        rows.append(
            {
                "dataset": "ML-1M",
                "protocol": "random 90/10, seed 0",
                "model": "Surprise BaselineOnly",
                "RMSE": s,
                "fit s": "",
            }
        )

    for cls in (GlobalMean, BiasedBaseline):
        scores, sur, secs = [], [], 0.0
        for k in range(1, 6):
            tr, te = load_ml100k_split(f"u{k}")
            t0 = time.perf_counter()
            model = cls().fit(tr)
            secs += time.perf_counter() - t0
            scores.append(evaluate_ratings(model, te).metrics["RMSE"])
            if cls is BiasedBaseline:
                sur.append(surprise_rmse(tr, te))
        rows.append(
            {
                "dataset": "ML-100k",
                "protocol": "u1-u5 mean (± std)",
                "model": f"minirec {cls.__name__}",
                "RMSE": f"{np.mean(scores):.4f} ± {np.std(scores, ddof=1):.4f}",
                "fit s": secs / 5,
            }
        )
        if cls is BiasedBaseline and sur[0] is not None:
            rows.append(
                {
                    "dataset": "ML-100k",
                    "protocol": "u1-u5 mean (± std)",
                    "model": "Surprise BaselineOnly",
                    "RMSE": f"{np.mean(sur):.4f} ± {np.std(sur, ddof=1):.4f}",
                    "fit s": "",
                }
            )
    body = (
        "Reference figures from Surprise's documentation: BaselineOnly RMSE 0.944 on "
        "ML-100k (5-fold), 0.909 on ML-1M. Both libraries are also run here on the "
        "same splits.\n\n" + markdown_table(rows)
    )
    write_result(
        "accuracy_baselines",
        "Baselines: rating accuracy",
        body,
        environment(("surprise",)),
    )


if __name__ == "__main__":
    main()
