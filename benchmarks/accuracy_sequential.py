"""Accuracy of the sequential models against the session baselines, in one run.

Protocols (each number in the output carries its label):

* ``rsc15``: YOOCHOOSE 100k sample of session-rec (``sessions/rsc15-100k``), train on
  ``train_full``, test on ``test`` (a time split); session-rec next-item evaluation
  with full ranking over all 2,933 training items, every position of every test
  session (10,152 events), Recall@20 and MRR@20, pessimistic ties
  (:func:`minirec.evaluation_seq.evaluate_next_item`). GRU4Rec with each of its four
  losses (same hyperparameters, no tuning on the test set) against SessionPop,
  first-order Markov and session item-KNN.
* ``games``: SASRec's "Games" (``sasrec/Video.txt``), SASRec's protocol: last item
  test, second-to-last validation, the test item ranked against 100 uniformly
  sampled items the user never interacted with, at most 10,000 users (seed 0),
  HR@10 and NDCG@10 (:func:`minirec.evaluation_seq.evaluate_sampled_next`).
* ``ml100k``: the same SASRec protocol on ML-100k user histories sorted by
  timestamp (943 users). ML-1M in ../shared/data has no timestamps, so it has no
  sequences and is not used.

    MINIREC_DATA=../shared/data python benchmarks/accuracy_sequential.py \
        [rsc15|games|ml100k ...] [--epochs-gru N] [--epochs-sasrec N]

Writes its section of benchmarks/results/sequential.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import env_block, environment, markdown_table  # noqa: E402

from minirec.data import (  # noqa: E402
    load_movielens,
    load_sasrec,
    load_session_split,
    sasrec_split,
)
from minirec.evaluation_seq import (  # noqa: E402
    evaluate_next_item,
    evaluate_sampled_next,
    sasrec_cases,
)
from minirec.models.gru4rec import GRU4Rec  # noqa: E402
from minirec.models.sasrec import SASRec  # noqa: E402
from minirec.models.session_baselines import (  # noqa: E402
    MarkovChain,
    SessionItemKNN,
    SessionPop,
)

RESULT = Path(__file__).resolve().parent / "results" / "sequential.md"
PAPER_GAMES = {"HR@10": 0.7410, "NDCG@10": 0.5360}


def data_root() -> Path:
    root = os.environ.get("MINIREC_DATA")
    if not root or not Path(root).is_dir():
        sys.exit("set MINIREC_DATA to the folder holding sessions/ and sasrec/")
    return Path(root)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def write_section(name: str, text: str) -> None:
    """Replace the block between <!-- name --> markers of sequential.md."""
    RESULT.parent.mkdir(exist_ok=True)
    old = RESULT.read_text() if RESULT.exists() else "# Sequential models\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.strip()}\n{end}"
    if start in old and end in old:
        a, b = old.index(start), old.index(end) + len(end)
        new = old[:a] + block + old[b:]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    RESULT.write_text(new)
    log(f"section {name} written to {RESULT}")


def run_rsc15(root: Path, epochs: int) -> str:
    train, test = load_session_split(
        "rsc15-100k", path=root / "sessions" / "rsc15-100k"
    )
    rows = []
    models = [SessionPop(), MarkovChain(), SessionItemKNN()]
    models += [
        GRU4Rec(loss=loss, n_epochs=epochs, seed=0)
        for loss in ("top1", "bpr", "bpr-max", "cross-entropy")
    ]
    for m in models:
        t0 = time.perf_counter()
        m.fit(train)
        fit_s = time.perf_counter() - t0
        r = evaluate_next_item(m, test, k=20, dataset="rsc15-100k")
        label = type(m).__name__ + (f" ({m.loss})" if isinstance(m, GRU4Rec) else "")
        rows.append(
            {
                "model": label,
                "Recall@20": r.metrics["Recall@20"],
                "MRR@20": r.metrics["MRR@20"],
                "fit s": fit_s,
                "last epoch loss": (
                    m.history_[-1]["loss"] if hasattr(m, "history_") else ""
                ),
            }
        )
        log(f"rsc15 {rows[-1]}")
    g = GRU4Rec()
    hp = {k: v for k, v in g.get_params().items() if k not in ("loss", "n_epochs")}
    return (
        "## rsc15-100k: session-rec next-item, full ranking\n\n"
        "Protocol `session-next-item(full)`: train_full -> test (time split), every "
        f"position of every test session ({r.n_test:,} events, {r.n_users:,} "
        "sessions), rank of the next item among all 2,933 training items, "
        "pessimistic ties. GRU4Rec: "
        f"{epochs} epochs, other hyperparameters the defaults `{hp}`, seed 0.\n\n"
        + markdown_table(rows)
    )


def _sasrec_rows(
    name, data, sasrec: SASRec, whole_catalog: bool = False
) -> tuple[list[dict], dict]:
    """Baselines and `sasrec` under SASRec's protocol. With `whole_catalog` every
    item of the data set is ranked (fit on the training Interactions, whose catalog
    is the data set's); otherwise the items of the training sequences."""
    c = sasrec_cases(data)
    train = sasrec_split(data)[0] if whole_catalog else c.train
    rows = []
    for m in (SessionPop(), MarkovChain(), sasrec):
        t0 = time.perf_counter()
        m.fit(train)
        fit_s = time.perf_counter() - t0
        rv = evaluate_sampled_next(
            m, c.valid_prefix, c.valid, history=c.history, seed=1
        )
        rt = evaluate_sampled_next(m, c.test_prefix, c.test, history=c.history, seed=0)
        rows.append(
            {
                "model": type(m).__name__,
                "valid HR@10": rv.metrics["HR@10"],
                "valid NDCG@10": rv.metrics["NDCG@10"],
                "test HR@10": rt.metrics["HR@10"],
                "test NDCG@10": rt.metrics["NDCG@10"],
                "users": rt.n_test,
                "fit s": fit_s,
                "last epoch loss": (
                    m.history_[-1]["loss"] if hasattr(m, "history_") else ""
                ),
            }
        )
        log(f"{name} {rows[-1]}")
    info = {"n_users": data.n_users, "n_eval": len(c.users)}
    return rows, info


def run_games(root: Path, epochs: int, lr: float = 0.001) -> str:
    data = load_sasrec(root / "sasrec" / "Video.txt")
    s = SASRec(n_epochs=epochs, lr=lr, seed=0)
    rows, info = _sasrec_rows("games", data, s, whole_catalog=True)
    return (
        "## Games (Amazon Video Games): SASRec's protocol\n\n"
        "Protocol `sasrec-sampled(1+100)`: last item test, second-to-last "
        "validation, 100 negatives drawn uniformly from items the user never "
        "interacted with, 10,000 users sampled (seed 0; SASRec's code does the "
        f"same), {info['n_users']:,} users. SASRec `{s.get_params()}`.\n\n"
        + markdown_table(rows)
        + "\n\nThe SASRec paper (Kang & McAuley, ICDM 2018, Table III, Games row): "
        f"HR@10 = {PAPER_GAMES['HR@10']}, NDCG@10 = {PAPER_GAMES['NDCG@10']} "
        "(as quoted by paperswithcode.com/paper/180809781, 'Results from the "
        "Paper'). Target: within 0.03 HR@10."
    )


def run_ml100k(root: Path, epochs: int) -> str:
    data = load_movielens("ml-100k", path=root)
    s = SASRec(n_epochs=epochs, maxlen=200, dropout=0.2, seed=0)
    rows, info = _sasrec_rows("ml100k", data, s)
    return (
        "## ML-100k user histories (by timestamp): SASRec's protocol\n\n"
        "Protocol `sasrec-sampled(1+100)` as for Games, all "
        f"{info['n_eval']} users, histories sorted by timestamp (ML-1M here has "
        f"no timestamps, so it is not used). SASRec `{s.get_params()}`.\n\n"
        + markdown_table(rows)
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", nargs="*", default=["rsc15", "games", "ml100k"])
    ap.add_argument("--epochs-gru", type=int, default=5)
    ap.add_argument("--epochs-sasrec", type=int, default=20)
    ap.add_argument("--epochs-ml100k", type=int, default=40)
    ap.add_argument(
        "--lr-sasrec",
        type=float,
        default=0.001,
        help="Games learning rate (the paper's 0.001); another value or another "
        "epoch count writes its own section",
    )
    args = ap.parse_args()
    root = data_root()
    env = environment()
    for part in args.parts:
        log(f"{part}: start (load {os.getloadavg()[0]:.2f})")
        t0 = time.perf_counter()
        if part == "rsc15":
            text = run_rsc15(root, args.epochs_gru)
        elif part == "games":
            text = run_games(root, args.epochs_sasrec, args.lr_sasrec)
        elif part == "ml100k":
            text = run_ml100k(root, args.epochs_ml100k)
        else:
            sys.exit(f"unknown part {part!r}: choose rsc15, games, ml100k")
        text += f"\n\nWall time {time.perf_counter() - t0:.0f} s.\n\n" + env_block(env)
        print(text)
        name = f"accuracy-{part}"
        if part == "games" and (args.lr_sasrec != 0.001 or args.epochs_sasrec != 20):
            name += f"-lr{args.lr_sasrec:g}-e{args.epochs_sasrec}"
        write_section(name, text)


if __name__ == "__main__":
    main()
