"""Validation searches of MF, ALS, ImplicitALS and BPR, and RankingMF's runs.

The final test runs of MF, ALS (ML-1M 90/10, ML-100k folds), ImplicitALS and BPR (NCF
files) next to Surprise / ``implicit`` are configs now: ``minirec reproduce rating``
and ``minirec reproduce ncf`` (minirec/experiments/configs/). What stays here are
the validation searches behind those configs' hyperparameters and RankingMF:

* ``ranking-mf``: RankingMF (dot-product MF + biases, logistic loss, 8 uniform
  negatives per positive and epoch, SGD batch 1; Rendle et al. 2020) on the NCF
  files (NCF's leave-one-out test item against the file's 99 negatives).
  ``tune-ranking-mf``: the published ML-1M settings (Rendle et al.: lr 0.002,
  reg 0.005, 8 negatives, 256 epochs) with
  k = 192, 128, 64 on the NCF validation split below, validation metrics at epoch
  checkpoints; ``tune-ranking-mf-rest``: k = 128 and 64 alone. Single-threaded
  (serial kernel); run with NUMBA_NUM_THREADS=1.
* ``tune-ml1m`` / ``tune-ncf``: the hyperparameter searches behind the defaults, on a
  validation split carved from the *training* part only (ML-1M: random 10% of the
  90% train, seed 1; NCF: one random training interaction per user held out, seed 1,
  ranked against 99 negatives sampled from items the user never rated). The test
  parts are never looked at while tuning.

    MINIREC_DATA=../shared/data python benchmarks/accuracy_classic.py tune-ncf

Writes its section of benchmarks/results/accuracy_classic.md (between markers, so
other sections of that file are kept).
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

from minirec.data.interactions import Interactions  # noqa: E402
from minirec.data.movielens import load_ml100k_split, load_movielens  # noqa: E402
from minirec.data.ncf import ncf_protocol  # noqa: E402
from minirec.data.sampling import sample_negatives  # noqa: E402
from minirec.data.split import random_split  # noqa: E402
from minirec.evaluation import evaluate_ratings, evaluate_sampled  # noqa: E402
from minirec.models.als import ALS, ImplicitALS  # noqa: E402
from minirec.models.bpr import BPR  # noqa: E402
from minirec.models.mf import MF  # noqa: E402
from minirec.models.ranking_mf import RankingMF  # noqa: E402

CMD = "MINIREC_DATA=../shared/data python benchmarks/accuracy_classic.py"


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ----------------------------------------------------------------------------- data
def ml1m_split():
    data = load_movielens("ml-1m")
    return random_split(data, test_fraction=0.1, seed=0)


def ncf_data():
    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    implicit_train = Interactions(
        train.users,
        train.items,
        None,
        None,
        user_ids=train.user_ids,
        item_ids=train.item_ids,
        name="NCF ml-1m train (implicit)",
    )
    return data, implicit_train, tu, ti, negs


def ncf_validation(data, train, seed=1):
    """One random training interaction per user held out + 99 sampled negatives."""
    rng = np.random.default_rng(seed)
    R = train.by_user
    pick = R.indptr[:-1] + (rng.random(train.n_users) * R.lengths()).astype(np.int64)
    rows = R.rows[pick]
    keep = np.ones(len(train), bool)
    keep[rows] = False
    vu = train.users[rows]
    vi = train.items[rows]
    negs = sample_negatives(data, vu, 99, seed=seed)
    return train.subset(keep), vu, vi, negs


# ----------------------------------------------------------------------------- runs
def run_tune_ml1m() -> list[dict]:
    train, _ = ml1m_split()
    tr, val = random_split(train, 0.1, seed=1)
    grid = [
        (
            "mf",
            dict(k=128, lr=0.007, reg=0.05, n_epochs=40, lr_decay=0.95, init_std=0.05),
        ),
        (
            "mf",
            dict(k=128, lr=0.007, reg=0.035, n_epochs=40, lr_decay=0.95, init_std=0.05),
        ),
        (
            "mf",
            dict(k=128, lr=0.004, reg=0.035, n_epochs=80, lr_decay=0.98, init_std=0.05),
        ),
        (
            "mf",
            dict(k=256, lr=0.005, reg=0.04, n_epochs=60, lr_decay=0.97, init_std=0.05),
        ),
        (
            "mf",
            dict(k=128, lr=0.005, reg=0.03, n_epochs=60, lr_decay=0.97, init_std=0.02),
        ),
        ("als", dict(k=64, reg=0.05)),
        ("als", dict(k=64, reg=0.08)),
        ("als", dict(k=64, reg=0.12)),
        ("als", dict(k=32, reg=0.05)),
        ("als", dict(k=128, reg=0.08)),
    ]
    rows = []
    for kind, p in grid:
        cls = MF if kind == "mf" else ALS
        m = cls(backend="numba", **p)
        _, secs = _timed(lambda m=m: m.fit(tr))
        rows.append(
            {
                "protocol": "ML-1M validation (10% of the seed-0 90% train, seed 1)",
                "model": f"{cls.__name__} {p}",
                "metric": "val RMSE",
                "value": evaluate_ratings(m, val).metrics["RMSE"],
                "fit s": secs,
            }
        )
        print(rows[-1], flush=True)
    return rows


def run_tune_ml100k() -> list[dict]:
    grid = [
        dict(k=128, lr=0.005, reg=0.03, n_epochs=60, lr_decay=0.97, init_std=0.02),
        dict(k=32, lr=0.007, reg=0.06, n_epochs=60, lr_decay=0.97, init_std=0.05),
        dict(k=64, lr=0.01, reg=0.1, n_epochs=80, lr_decay=0.97, init_std=0.05),
        dict(k=100, lr=0.01, reg=0.1, n_epochs=100, lr_decay=0.98, init_std=0.05),
        dict(k=100, lr=0.01, reg=0.12, n_epochs=150, lr_decay=0.985, init_std=0.05),
        dict(k=100, lr=0.01, reg=0.15, n_epochs=150, lr_decay=0.985, init_std=0.05),
    ]
    rows = []
    for p in grid:
        vals, secs = [], 0.0
        for fold in ("u1", "u2"):
            train, _ = load_ml100k_split(fold)
            tr, val = random_split(train, 0.1, seed=1)
            m = MF(backend="numba", **p)
            _, s = _timed(lambda m=m, d=tr: m.fit(d))
            secs += s
            vals.append(evaluate_ratings(m, val).metrics["RMSE"])
        rows.append(
            {
                "protocol": "ML-100k u1, u2 .base: random 10% validation "
                "(seed 1), mean",
                "model": f"MF {p}",
                "metric": "val RMSE",
                "value": float(np.mean(vals)),
                "fit s": secs,
            }
        )
        print(rows[-1], flush=True)
    return rows


def run_tune_ncf(grid_names: list[str] | None = None, skip: int = 0) -> list[dict]:
    data, train, _, _, _ = ncf_data()
    tr, vu, vi, vneg = ncf_validation(data, train)
    grid = [
        ("ials", dict(k=64, reg=0.05, alpha=2.0, n_iters=15)),
        ("ials", dict(k=64, reg=0.05, alpha=1.0, n_iters=15)),
        ("ials", dict(k=128, reg=0.1, alpha=2.0, n_iters=15)),
        ("ials", dict(k=64, reg=0.5, alpha=4.0, n_iters=15)),
        ("ials", dict(k=128, reg=1.0, alpha=4.0, n_iters=15)),
        ("ials", dict(k=64, reg=2.0, alpha=8.0, n_iters=15)),
        ("ials", dict(k=64, reg=5.0, alpha=16.0, n_iters=15)),
        ("ials", dict(k=64, reg=1.0, alpha=8.0, n_iters=15)),
        ("ials", dict(k=32, reg=1.0, alpha=8.0, n_iters=15)),
        ("ials", dict(k=96, reg=3.0, alpha=8.0, n_iters=15)),
        ("bpr", dict(k=64, lr=0.05, reg=0.005, n_epochs=30)),
        ("bpr", dict(k=64, lr=0.05, reg=0.01, n_epochs=60)),
        ("bpr", dict(k=128, lr=0.05, reg=0.005, n_epochs=60)),
        ("bpr", dict(k=128, lr=0.05, reg=0.005, n_epochs=150)),
        ("bpr", dict(k=128, lr=0.03, reg=0.0025, n_epochs=150)),
        ("ials", dict(k=64, reg=0.5, alpha=4.0, n_iters=30)),
        ("ials", dict(k=48, reg=0.5, alpha=4.0, n_iters=15)),
    ]
    rows = []
    for kind, p in grid[skip:]:
        if grid_names and kind not in grid_names:
            continue
        cls = ImplicitALS if kind == "ials" else BPR
        m = cls(backend="numba", **p)
        _, secs = _timed(lambda m=m: m.fit(tr))
        res = evaluate_sampled(m, vu, vi, vneg, ks=(10,))
        rows.append(
            {
                "protocol": "NCF train, 1 held-out interaction/user (seed 1) "
                "+ 99 sampled negatives",
                "model": f"{cls.__name__} {p}",
                "metric": "val HR@10 / NDCG@10",
                "value": f"{res.metrics['HR@10']:.4f} / {res.metrics['NDCG@10']:.4f}",
                "fit s": secs,
            }
        )
        print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------------- RankingMF
RANKING_MF_GRID = [  # published ML-1M settings (lr 0.002, reg 0.005, 8 neg.), 3 dims
    dict(k=192, lr=0.002, reg=0.005, n_epochs=256),
    dict(k=128, lr=0.002, reg=0.005, n_epochs=256),
    dict(k=64, lr=0.002, reg=0.005, n_epochs=256),
]
CHECKPOINTS = (16, 32, 64, 96, 128, 160, 192, 224, 256, 320, 384)


def _tune_ranking_mf(grid: list[dict]) -> list[dict]:
    """Validation HR@10 / NDCG@10 of each configuration after several epoch counts
    (one run per configuration, measured at the checkpoints on the way)."""
    data, train, _, _, _ = ncf_data()
    tr, vu, vi, vneg = ncf_validation(data, train)
    rows = []
    for p in grid:
        clock = {"train": 0.0, "t0": time.perf_counter()}

        def on_epoch(model, epoch, rec, p=p, clock=clock):
            clock["train"] += time.perf_counter() - clock["t0"]
            if epoch in CHECKPOINTS or epoch == model.n_epochs:
                res = evaluate_sampled(model, vu, vi, vneg, ks=(10,))
                m = res.metrics
                rows.append(
                    {
                        "protocol": "NCF train, 1 held-out interaction/user "
                        "(seed 1) + 99 sampled negatives",
                        "model": f"RankingMF {p} after {epoch} epochs",
                        "metric": "val HR@10 / NDCG@10",
                        "value": f"{m['HR@10']:.4f} / {m['NDCG@10']:.4f}",
                        "fit s": clock["train"],
                        "s/epoch": clock["train"] / epoch,
                        "train log-loss": rec["log_loss"],
                    }
                )
                print(rows[-1], flush=True)
            clock["t0"] = time.perf_counter()

        RankingMF(backend="numba", seed=0, **p).fit(tr, on_epoch=on_epoch)
    return rows


def run_tune_ranking_mf() -> list[dict]:
    return _tune_ranking_mf(RANKING_MF_GRID)


def run_tune_ranking_mf_rest() -> list[dict]:
    """The configurations of RANKING_MF_GRID after the first (k=128, k=64): the
    first run of ``tune-ranking-mf`` was stopped during k=192 for lack of CPU
    time, these ran after the final test run (so they chose nothing)."""
    return _tune_ranking_mf(RANKING_MF_GRID[1:])


def run_ranking_mf() -> list[dict]:
    """The final test run: RankingMF with its defaults (the tuned values)."""
    data, train, tu, ti, negs = ncf_data()
    model = RankingMF(backend="numba")
    cpu0 = time.process_time()

    def log(model, epoch, rec):  # progress only: the test part is not looked at
        if epoch % 16 == 0:
            cpu = time.process_time() - cpu0
            print(f"epoch {epoch}: log-loss {rec['log_loss']:.5f}, CPU {cpu:.0f} s")

    _, secs = _timed(lambda: model.fit(train, on_epoch=log))
    cpu = time.process_time() - cpu0  # wall time counts any pause of the process
    res = evaluate_sampled(model, tu, ti, negs, ks=(10,))
    proto = "NCF ml-1m files, sampled(1+99), leave-one-out"
    rows = [
        {
            "protocol": proto,
            "model": f"minirec {model!r}",
            "metric": metric,
            "value": res.metrics[metric],
            "fit s": secs,
            "s/epoch": secs / model.n_epochs,
            "CPU s/epoch": cpu / model.n_epochs,
            "train log-loss": model.history_[-1]["log_loss"],
        }
        for metric in ("HR@10", "NDCG@10")
    ]
    print(rows, flush=True)
    return rows


RUNS = {
    "tune-ml1m": run_tune_ml1m,
    "tune-ml100k": run_tune_ml100k,
    "tune-ncf": run_tune_ncf,
    "ranking-mf": run_ranking_mf,
    "tune-ranking-mf": run_tune_ranking_mf,
    "tune-ranking-mf-rest": run_tune_ranking_mf_rest,
}
EXTRA_COLUMNS = {  # sections whose table has more columns than the default five
    "ranking-mf": ["s/epoch", "CPU s/epoch", "train log-loss"],
    "tune-ranking-mf": ["s/epoch", "train log-loss"],
    "tune-ranking-mf-rest": ["s/epoch", "train log-loss"],
}
COLUMNS = ["protocol", "model", "metric", "value", "fit s"]
BEGIN = "<!-- accuracy_classic.py {name}: begin -->"
END = "<!-- accuracy_classic.py {name}: end -->"


def save(name: str, rows: list[dict], env: dict) -> None:
    """Replace this run's section of benchmarks/results/accuracy_classic.md."""
    path = RESULTS / "accuracy_classic.md"
    text = path.read_text() if path.exists() else "# Accuracy of the classic models\n"
    section = (
        f"{BEGIN.format(name=name)}\n## `{name}`\n\nCommand: `{CMD} {name}`\n\n"
        f"{markdown_table(rows, COLUMNS + EXTRA_COLUMNS.get(name, []))}"
        f"\n\n{env_block(env)}\n{END.format(name=name)}\n"
    )
    pat = re.compile(
        re.escape(BEGIN.format(name=name))
        + ".*?"
        + re.escape(END.format(name=name))
        + "\n",
        re.S,
    )
    text = (
        pat.sub(lambda _: section, text)
        if pat.search(text)
        else text.rstrip("\n") + "\n\n" + section
    )
    RESULTS.mkdir(exist_ok=True)
    path.write_text(text)
    print(section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", choices=sorted(RUNS))
    args = ap.parse_args()
    for name in args.runs:
        env = environment(("surprise", "implicit"))
        env["command"] = f"{CMD} {name}"
        rows = RUNS[name]()
        env["load average (end)"] = " ".join(
            f"{x:.2f}" for x in __import__("os").getloadavg()
        )
        save(name, rows, env)


if __name__ == "__main__":
    main()
