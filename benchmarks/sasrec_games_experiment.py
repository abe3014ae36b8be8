"""SASRec on Games (SASRec's Video.txt): the validation and test curve of one
configuration, every few epochs, under the paper's protocol. A research script:
the table rows are the configs ``sequential/sasrec-games*`` run by
``python -m minirec.experiments.sequential``; this prints what they select from.

The options are SASRec's: ``--layout paper`` (the block of the paper's code,
kang205/SASRec; pmixer/SASRec.pytorch) or ``pre-ln``; ``--dense`` (dense Adam as
the paper's TF1 AdamOptimizer) or lazy rows; ``--loss bce`` (one sampled negative
per position, the paper's) or ``ce`` (full-softmax cross-entropy, Klenitskiy &
Vasilev 2023); ``--clip`` (a large value: no clipping, as the paper's code).

Every ``--eval-every`` epochs: validation (seed 1) and test (seed 0) HR@10 /
NDCG@10 under ``sampled(1+100, sasrec-last-item)`` (negatives outside the user's
whole history), test again with negatives outside the training items only (the
paper's util.py ``rated``), and with ``--full`` validation and test under
``full(sasrec-last-item)`` (every item the user has not seen). The epoch is chosen
on validation HR@10 of the sampled protocol. One JSON line per epoch to stdout and
``--log``.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    MINIREC_DATA=/work/shared/data python benchmarks/sasrec_games_experiment.py \
        --layout paper --dense --clip 1e9 --lr 0.001 --n-epochs 200 --eval-every 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from minirec.data import load_sasrec, sasrec_split
from minirec.evaluation_seq import evaluate_sampled_next, sasrec_cases
from minirec.experiments.sequential import full_rank_unseen
from minirec.models.sasrec import LAYOUTS, LOSSES, SASRec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layout", choices=LAYOUTS, default="paper")
    ap.add_argument("--dense", action="store_true", help="dense Adam (lazy=False)")
    ap.add_argument("--loss", choices=LOSSES, default="bce")
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--n-epochs", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--full", action="store_true", help="also full ranking")
    ap.add_argument("--log", default="/tmp/sasrec_games.jsonl")
    args = ap.parse_args()
    root = os.environ.get("MINIREC_DATA")
    if not root or not (Path(root) / "sasrec" / "Video.txt").exists():
        sys.exit("set MINIREC_DATA to the folder holding sasrec/Video.txt")

    data = load_sasrec(Path(root) / "sasrec" / "Video.txt")
    c = sasrec_cases(data)
    train = sasrec_split(data)[0]
    params = dict(
        layout=args.layout,
        lazy=not args.dense,
        loss=args.loss,
        clip=args.clip,
        lr=args.lr,
        n_epochs=args.n_epochs,
        batch_size=args.batch_size,
        dropout=args.dropout,
        seed=0,
    )
    model = SASRec(**params)
    t0 = time.perf_counter()
    rows = []

    def on_epoch(m, epoch, rec):
        row = {"epoch": epoch, "loss": rec["loss"], "s": time.perf_counter() - t0}
        if epoch % args.eval_every == 0 or epoch == args.n_epochs:
            kw = {"ks": (10,)}
            runs = {
                "valid": (c.valid_prefix, c.valid, c.history, 1),
                "test": (c.test_prefix, c.test, c.history, 0),
                "test_trainneg": (c.test_prefix, c.test, c.valid_prefix, 0),
            }
            for tag, (pre, tgt, hist, seed) in runs.items():
                r = evaluate_sampled_next(m, pre, tgt, history=hist, seed=seed, **kw)
                row[f"{tag} HR@10"] = round(r.metrics["HR@10"], 4)
                row[f"{tag} NDCG@10"] = round(r.metrics["NDCG@10"], 4)
            if args.full:
                for tag, pre, tgt, seed in (
                    ("valid_full", c.valid_prefix, c.valid, 1),
                    ("test_full", c.test_prefix, c.test, 0),
                ):
                    r = full_rank_unseen(m, pre, tgt, seed=seed)
                    row[f"{tag} HR@10"] = round(r["HR@10"], 4)
                    row[f"{tag} NDCG@10"] = round(r["NDCG@10"], 4)
            rows.append(row)
        print(json.dumps(row), flush=True)
        with open(args.log, "a") as f:
            f.write(json.dumps({"params": params, **row}) + "\n")

    model.fit(train, on_epoch=on_epoch)
    best = max(rows, key=lambda r: r["valid HR@10"])
    print("best (chosen on valid HR@10):", json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
