"""Accuracy of FM (with side features) and Item/UserKNN on real data, next to Surprise.

Protocols (each number in the results file carries its protocol and this command):

* ``tune-fm``: FM hyperparameters chosen on a validation split carved from the
  ML-1M *training* part only: ``train, test = random_split(ml1m, 0.1, seed=0)``,
  then ``fit, val = random_split(train, 0.1, seed=1)``; validation RMSE. The test
  part is never looked at while tuning.
* The test runs of FM with side features (ML-1M 90/10) and of Item/UserKNN
  (ML-100k u1-u5, next to Surprise's KNNBaseline) are configs now:
  ``minirec reproduce rating --only ml1m-fm`` (``ml100k-itemknn``, ``ml100k-userknn``).
* ``ncf``: NCF files (He et al. 2017): each user's held-out latest item ranked
  against the file's 99 sampled negatives (sampled(1+99)); HR@10 and NDCG@10,
  pessimistic ties. Train = all ML-1M ratings minus the test ratings, as 0/1
  interactions. KNN k chosen on a validation split of the training part (one random
  training interaction per user held out, seed 1, against 99 negatives sampled
  from items the user never rated). ItemKNN's tuned row is the config
  ``ncf/itemknn`` now; UserKNN has no config yet.

    MINIREC_DATA=../shared/data python benchmarks/accuracy_fm.py tune-fm ncf

Writes its sections of benchmarks/results/fm_knn.md (between markers, so the speed
section written by bench_fm_knn.py is kept).
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

from minirec.data import (  # noqa: E402
    Interactions,
    load_movielens,
    random_split,
)
from minirec.data.ncf import ncf_protocol  # noqa: E402
from minirec.data.sampling import sample_negatives  # noqa: E402
from minirec.evaluation import evaluate_ratings, evaluate_sampled  # noqa: E402
from minirec.models.fm import FM  # noqa: E402
from minirec.models.knn import ItemKNN, UserKNN  # noqa: E402

CMD = "MINIREC_DATA=../shared/data python benchmarks/accuracy_fm.py"
SIDE = {
    "user_fields": ["gender", "age", "occupation", "zip1"],
    "item_fields": ["genres", "decade"],
}
#: the validation grid of tune-fm (FM on ML-1M); the best one, FM_GRID[1], is the
#: config minirec/experiments/configs/rating/ml1m-fm.toml
FM_GRID = [
    dict(k=128, lr=0.005, reg_w=0.01, reg_V=0.03, n_epochs=60, lr_decay=0.97),
    dict(k=128, lr=0.007, reg_w=0.01, reg_V=0.035, n_epochs=50, lr_decay=0.95, **SIDE),
    dict(k=128, lr=0.007, reg_w=0.02, reg_V=0.045, n_epochs=50, lr_decay=0.95, **SIDE),
]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _short(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


# ----------------------------------------------------------------------------- FM
def tune_fm() -> str:
    data = load_movielens("ml-1m")
    train, _ = random_split(data, 0.1, seed=0)
    fit, val = random_split(train, 0.1, seed=1)
    rows = []
    for params in FM_GRID:
        m, secs = _timed(lambda p=params: FM(backend="numba", **p).fit(fit))
        rmse = evaluate_ratings(m, val).metrics["RMSE"]
        rows.append({"FM params": _short(params), "val RMSE": rmse, "fit s": secs})
        print(rows[-1], flush=True)
    return (
        "Protocol: ML-1M, `random_split(data, 0.1, seed=0)` -> train; "
        "`random_split(train, 0.1, seed=1)` -> fit / validation. "
        "Fields: `auto` = gender, age, occupation | genres; the SIDE set adds "
        "zip1 (first zip digit) | decade.\n\n" + markdown_table(rows)
    )


def _implicit(data: Interactions, name: str) -> Interactions:
    return Interactions(
        data.users,
        data.items,
        None,
        None,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        name=name,
    )


def _val_split(train: Interactions, seed: int = 1):
    """One random training interaction per user held out + 99 unrated negatives."""
    rng = np.random.default_rng(seed)
    csr = train.by_user
    lens = csr.lengths()
    pick = csr.indptr[:-1] + (rng.random(train.n_users) * lens).astype(np.int64)
    users = np.flatnonzero(lens > 1)
    held = csr.rows[pick[users]]
    mask = np.zeros(len(train), bool)
    mask[held] = True
    fit = train.subset(~mask)
    negs = sample_negatives(train, train.users[held], 99, seed=seed)
    return fit, train.users[held], train.items[held], negs


def ncf() -> str:
    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    train = _implicit(train, "NCF ml-1m train (implicit)")
    fit, vu, vi, vneg = _val_split(train)
    rows = []
    for cls in (ItemKNN, UserKNN):
        best = None
        for k in (20, 50, 100, 200):
            m = cls(k=k, task="ranking", shrink=0.0, backend="numba").fit(fit)
            hr = evaluate_sampled(m, vu, vi, vneg, ks=(10,)).metrics["HR@10"]
            print(cls.__name__, k, "val HR@10", round(hr, 4), flush=True)
            if best is None or hr > best[0]:
                best = (hr, k)
        model = cls(k=best[1], task="ranking", shrink=0.0, backend="numba")
        m, secs = _timed(lambda model=model: model.fit(train))
        res = evaluate_sampled(m, tu, ti, negs, ks=(10,))
        rows.append(
            {
                "model": f"minirec {cls.__name__}(k={best[1]}, cosine, task='ranking')",
                "val HR@10": best[0],
                "HR@10": res.metrics["HR@10"],
                "NDCG@10": res.metrics["NDCG@10"],
                "fit s": secs,
            }
        )
        print(rows[-1], flush=True)
    return (
        "Protocol: NCF ml-1m files, leave-one-out, the file's 99 negatives "
        "(sampled(1+99)), pessimistic ties; train = all ratings minus the test "
        "ratings as 0/1 interactions. k chosen from {20, 50, 100, 200} by HR@10 on "
        "a validation split of the training part (one random interaction per "
        "user, seed 1, 99 sampled unrated negatives).\n\n" + markdown_table(rows)
    )


# ----------------------------------------------------------------------------- main
SECTIONS = {"tune-fm": tune_fm, "ncf": ncf}
TITLES = {
    "speed": "Speed: FM and KNN kernels (bench_fm_knn.py)",
    "speed-run2": "Speed, repeated run (bench_fm_knn.py --section speed-run2)",
    "tune-fm": "FM validation search (ML-1M)",
    "ncf": "Item/UserKNN on the NCF files (HR@10, NDCG@10)",
}


def write_section(key: str, body: str, env: dict, command: str | None = None) -> Path:
    """Replace (or append) the section `key` of results/fm_knn.md."""
    path = RESULTS / "fm_knn.md"
    RESULTS.mkdir(exist_ok=True)
    text = path.read_text() if path.exists() else "# FM and KNN: accuracy and speed\n"
    block = (
        f"<!-- {key} -->\n## {TITLES.get(key, key)}\n\n{body}\n\n"
        f"Command: `{command or f'{CMD} {key}'}`\n\n{env_block(env)}\n<!-- /{key} -->"
    )
    pat = re.compile(rf"<!-- {re.escape(key)} -->.*?<!-- /{re.escape(key)} -->", re.S)
    text = (
        pat.sub(lambda _: block, text)
        if pat.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    path.write_text(text)
    print(block)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="+", choices=list(SECTIONS))
    args = ap.parse_args(argv)
    for key in args.what:
        env = environment(extra=("surprise",))
        body = SECTIONS[key]()
        env["load average (end)"] = " ".join(
            f"{x:.2f}" for x in __import__("os").getloadavg()
        )
        write_section(key, body, env)


if __name__ == "__main__":
    main()
