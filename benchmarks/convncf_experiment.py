"""ConvNCF from its MF-BPR start on the NCF test files: does it end above the start?

Protocol (the ``ncf`` table's): the NCF ml-1m test files (1 + 99 sampled,
leave-one-out); validation = one random training interaction per user (seed 1) +
99 items the user never rated (``minirec.cli.protocols.Holdout.validation``); both
the BPR start and ConvNCF train on the training part without the validation
interactions; ConvNCF's epoch is selected on validation HR@10 and the test cases
are scored once, by the selected model.

    python benchmarks/convncf_experiment.py ablation [--users 1000] [--epochs 2]
        every variant of VARIANTS on the first N users: validation HR@10 per epoch
        (epoch 0 = the BPR start)
    python benchmarks/convncf_experiment.py full --variant NAME [--epochs 8]
        one variant on all users: the BPR start's and ConvNCF's validation curve,
        the selected epoch and its test HR@10 / NDCG@10
    python benchmarks/convncf_experiment.py record FULL.json
        the ``minirec reproduce`` record of a ``full --json`` run, written to
        benchmarks/results/runs/ncf/convncf.json

Run with ``MINIREC_DATA`` pointing at the data folder; ``--json PATH`` writes the
figures.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
import time

from minirec.cli import protocols as P
from minirec.evaluation import evaluate_sampled
from minirec.experiments.runner import _binary, record_head, versions
from minirec.models.bpr import BPR
from minirec.models.convncf import ConvNCF

#: the BPR start (k = 32, the settings of the recorded ConvNCF row); a variant
#: with head_init="dot" starts from the paper's MF-BPR, a pure dot product
#: (item_bias=False), which its tower reproduces exactly
START = {"k": 32, "lr": 0.05, "reg": 0.01, "n_epochs": 60, "seed": 0}
#: ConvNCF settings shared by every variant (the recorded row's)
BASE = {"k": 32, "channels": 8, "lr": 0.002, "batch_size": 512, "seed": 0}
VARIANTS = {
    "recorded": {},
    "lr_embed=1e-4": {"lr_embed": 1e-4},
    "freeze 1": {"freeze_epochs": 1},
    "freeze 1, lr_embed=1e-4": {"freeze_epochs": 1, "lr_embed": 1e-4},
    "dot": {"tower": "conv", "head_init": "dot"},
    "dot, lr_embed=1e-4": {"tower": "conv", "head_init": "dot", "lr_embed": 1e-4},
    "dot, frozen tables": {"tower": "conv", "head_init": "dot", "freeze_epochs": 10**6},
    "dot, lr=0.01": {"tower": "conv", "head_init": "dot", "lr": 0.01},
    "dot, lr_embed=1e-4, lr=5e-4": {
        "tower": "conv",
        "head_init": "dot",
        "lr_embed": 1e-4,
        "lr": 5e-4,
    },
}


def holdouts(users: int | None):
    data = _binary(P.load_data("ml-1m"))
    h = P.Holdout(data, {"how": "ncf"})
    if users is not None:
        h.keep_users(users)
    return h, h.validation(seed=1)


def sampled(model, cases) -> dict:
    u, i, negs = cases
    m = evaluate_sampled(model, u, i, negs, ks=(10,)).metrics
    return {"HR@10": float(m["HR@10"]), "NDCG@10": float(m["NDCG@10"])}


def fit_start(val, item_bias: bool = True):
    t0 = time.perf_counter()
    bpr = BPR(**START, item_bias=item_bias).fit(val.train)
    return bpr, time.perf_counter() - t0


def dot(params: dict) -> bool:
    return params.get("head_init") == "dot"


def fit_convncf(val, bpr, params: dict, epochs: int, patience: int, fraction=1.0):
    curve: list[dict] = []

    def on_epoch(model, epoch, rec):
        curve.append({k: rec[k] for k in ("epoch", "loss", "valid", "seconds")})
        print(f"    epoch {epoch}: {curve[-1]}", flush=True)

    m = ConvNCF(
        **{**BASE, **params},
        n_epochs=epochs,
        patience=patience,
        sample_fraction=fraction,
        init_from=bpr,
    )
    t0 = time.perf_counter()
    m.fit(val.train, valid=val.cases, on_epoch=on_epoch)
    secs = time.perf_counter() - t0
    best = max((r for r in m.history_ if "valid" in r), key=lambda r: r["valid"])
    return m, curve, best["epoch"], secs


def ablation(args) -> dict:
    h, val = holdouts(args.users)
    starts = {b: fit_start(val, b)[0] for b in (True, False)}
    out = {"users": args.users, "epochs": args.epochs, "pairs": len(val.train)}
    print(f"{args.users} users, {len(val.train)} training pairs", flush=True)
    for b, bpr in starts.items():
        out[f"start_valid item_bias={b}"] = sampled(bpr, val.cases)
        print(f"BPR item_bias={b}: validation {out[f'start_valid item_bias={b}']}")
    names = args.only or list(VARIANTS)
    for name in names:
        print(f"  {name}", flush=True)
        params = VARIANTS[name]
        _, curve, best, secs = fit_convncf(
            val,
            starts[not dot(params)],
            params,
            args.epochs,
            args.epochs,
            args.fraction,
        )
        out[name] = {"curve": curve, "best_epoch": best, "seconds": secs}
    print("\n| variant | start | " + " | ".join(f"val HR@10 ep{e}" for e in
          range(1, args.epochs + 1)) + " |")  # fmt: skip
    for name in names:
        b = not dot(VARIANTS[name])
        s0 = out[f"start_valid item_bias={b}"]["HR@10"]
        vals = " | ".join(f"{r['valid']:.4f}" for r in out[name]["curve"])
        print(f"| {name} | {s0:.4f} | {vals} |")
    return out


def full(args) -> dict:
    h, val = holdouts(None)
    params = VARIANTS[args.variant]
    starts = {}
    for b in (True, False):
        bpr, bpr_s = fit_start(val, b)
        starts[b] = {"model": bpr, "valid": sampled(bpr, val.cases),
                     "test": sampled(bpr, h.cases), "seconds": bpr_s}  # fmt: skip
        v, t = starts[b]["valid"], starts[b]["test"]
        print(f"BPR item_bias={b} ({bpr_s:.1f} s): valid {v}, test {t}", flush=True)
    own = not dot(params)
    bpr, start_val, start_test = (starts[own][k] for k in ("model", "valid", "test"))
    m, curve, best, secs = fit_convncf(
        val, bpr, params, args.epochs, args.patience, args.fraction
    )
    test = sampled(m, h.cases)
    above = test["HR@10"] > start_test["HR@10"]
    print(f"ConvNCF {args.variant}: epoch {best} selected, test {test} ({secs:.0f} s)")
    print(f"above the start on test HR@10: {above}")
    return {
        "variant": args.variant,
        "params": {
            **BASE,
            **params,
            "n_epochs": args.epochs,
            "sample_fraction": args.fraction,
            "patience": args.patience,
        },
        "start": {
            "params": {**START, "item_bias": own},
            "valid": start_val,
            "test": start_test,
        },
        "starts": {
            f"item_bias={b}": {k: v for k, v in st.items() if k != "model"}
            for b, st in starts.items()
        },
        "curve": curve,
        "selected_epoch": best,
        "test": test,
        "seconds": secs,
        "above_start": above,
        "versions": versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/convncf_experiment.py "
        + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    }


def record(path: str) -> None:
    """The runner's record (minirec.experiments.runner.run) of a full run."""
    from pathlib import Path

    from minirec.experiments.config import config_dir, load
    from minirec.experiments.runner import write_json

    run = json.loads(Path(path).read_text())
    val_split = {"how": "validation", "rule": "1 per user + 99, seed 1",
                 "of": {"how": "ncf"}}  # fmt: skip
    cfg = load(config_dir() / "ncf" / "convncf.toml")
    mtime = _dt.datetime.fromtimestamp(Path(path).stat().st_mtime, _dt.timezone.utc)
    out = {
        **record_head(cfg, quick=False),
        "status": "measured",
        "protocol": P.protocol_label("sampled", {"how": "ncf"}),
        "metrics": {m: run["test"][m] for m in cfg.metrics},
        "seconds": run["seconds"],
        "params": {
            **run["params"],
            "init_from": {"model": "bpr", **run["start"]["params"]},
        },
        "valid": {
            "on": P.protocol_label("sampled", val_split),
            "metric": "HR@10",
            "epoch": run["selected_epoch"],
            "epochs_run": len(run["curve"]),
            "valid HR@10": max(r["valid"] for r in run["curve"]),
            "start valid HR@10": run["start"]["valid"]["HR@10"],
        },
        "start": run["start"],
        "starts": run["starts"],
        "curve": run["curve"],
        "summary": (
            f"start (MF-BPR) test HR@10 / NDCG@10 {run['start']['test']['HR@10']:.4f}"
            f" / {run['start']['test']['NDCG@10']:.4f}; ConvNCF epoch "
            f"{run['selected_epoch']} (validation HR@10 "
            f"{max(r['valid'] for r in run['curve']):.4f} vs the start's "
            f"{run['start']['valid']['HR@10']:.4f}) test HR@10 / NDCG@10 "
            f"{run['test']['HR@10']:.4f} / {run['test']['NDCG@10']:.4f}"
        ),
        "command": run.get("command", ""),
        "versions": run["versions"],
        "date": run.get("date", mtime.strftime("%Y-%m-%d %H:%M UTC")),
    }
    dest = Path(__file__).parent / "results" / "runs" / "ncf" / "convncf.json"
    write_json(dest, out)
    print(f"wrote {dest}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("ablation", "full", "record"))
    ap.add_argument("path", nargs="?", help="record: the JSON of a full run")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="sample_fraction: share of the positives an epoch visits",
    )
    ap.add_argument("--variant", choices=list(VARIANTS), default="recorded")
    ap.add_argument("--only", nargs="*", choices=list(VARIANTS))
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.mode == "record":
        return record(args.path)
    if "MINIREC_DATA" not in os.environ:
        ap.error("set MINIREC_DATA to the data folder (it holds ml-1m and ncf/)")
    out = ablation(args) if args.mode == "ablation" else full(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
