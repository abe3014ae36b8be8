"""The ``minirec`` command line.

    minirec datasets                         what data is found where
    minirec train MODEL --data ml-100k --out model.npz [--set k=64 --set lr=0.01]
    minirec evaluate model.npz --data ml-100k [--protocol rating|full|sampled]
    minirec recommend --model model.npz --user 196 -n 10
    minirec demo                             train + evaluate + recommend in one go

Every command that reports numbers takes ``--json`` and then prints exactly one JSON
object (dataset, protocol, model, parameters, metrics, seconds) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MinirecError

DATASETS = ("synthetic", "ml-100k", "ml-1m", "ml-latest-small", "ml-20m", "ml-25m")


# ---------------------------------------------------------------------------- data
def load_data(name: str, seed: int = 0, download: bool = False):
    """An Interactions for a dataset name ("synthetic", "ml-100k", ...) or a folder."""
    from . import data as mdata

    if name == "synthetic":
        return mdata.synthetic_ratings(seed=seed)
    if name in DATASETS:
        return mdata.load_movielens(name, download=download)
    p = Path(name)
    if p.exists():
        return mdata.load_movielens(p.name, path=p)
    raise SystemExit(
        f"minirec: unknown dataset {name!r}; use one of {', '.join(DATASETS)} or a "
        "path to a MovieLens folder"
    )


def default_dataset() -> str:
    """ml-100k when MINIREC_DATA (or the cache) has it, else the synthetic default."""
    from . import data as mdata

    try:
        mdata.find_dataset("ml-100k")
        return "ml-100k"
    except MinirecError:
        return "synthetic"


def split_data(data, how: str, test_fraction: float, seed: int):
    from .data import split

    if how == "random":
        return split.random_split(data, test_fraction=test_fraction, seed=seed)
    if how == "per-user":
        return split.per_user_split(data, test_fraction=test_fraction, seed=seed)
    if how == "leave-last-out":
        return split.leave_last_out(data)
    if how == "temporal":
        return split.temporal_split(data, test_fraction=test_fraction)
    raise SystemExit(f"minirec: unknown split {how!r}")


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``["k=64", "lr=0.01", "backend=numba"]`` -> {"k": 64, "lr": 0.01, ...}."""
    out: dict[str, Any] = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"minirec: --set expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _emit(args: argparse.Namespace, obj: dict, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(obj, default=_json_default))
    else:
        print(text)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ---------------------------------------------------------------------------- commands
def cmd_datasets(args: argparse.Namespace) -> int:
    from . import data as mdata

    rows = mdata.datasets()
    if args.json:
        print(json.dumps({"datasets": rows}, default=_json_default))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = r.get("where") or "-"
        state = "found" if r.get("found") else "missing"
        print(f"{r['name']:<{width}}  {state:<7}  {where}")
    if not any(r.get("found") for r in rows if r["name"] != "synthetic"):
        print(
            "\nNo MovieLens data found. Set MINIREC_DATA to a folder holding ml-100k/, "
            "or run: minirec train baseline --data ml-100k --download"
        )
    return 0


def _fit(args, data_name, model_name, params, split, test_fraction, seed):
    from .evaluation import evaluate_ratings
    from .models import get_model_class

    data = load_data(data_name, seed=seed, download=getattr(args, "download", False))
    train, test = split_data(data, split, test_fraction, seed)
    cls = get_model_class(model_name)
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - t0
    result = evaluate_ratings(model, test) if cls.predicts_ratings else None
    return data, train, test, model, fit_seconds, result


def cmd_train(args: argparse.Namespace) -> int:
    params = parse_sets(args.set)
    data, train, test, model, secs, result = _fit(
        args, args.data, args.model, params, args.split, args.test_fraction, args.seed
    )
    path = model.save(args.out) if args.out else None
    obj = {
        "command": "train",
        "dataset": data.name or args.data,
        "protocol": f"{args.split} holdout {1 - args.test_fraction:.0%}/"
        f"{args.test_fraction:.0%}, seed {args.seed}",
        "model": type(model).__name__,
        "parameters": model.get_params(),
        "metrics": result.metrics if result is not None else {},
        "seconds": secs,
        "out": str(path) if path else None,
    }
    lines = [f"trained {model!r} on {data!r} in {secs:.2f} s"]
    if result is not None:
        lines.append(str(result))
    if path:
        lines.append(f"saved to {path}")
    _emit(args, obj, "\n".join(lines))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import evaluation as ev
    from .models import Recommender

    model = Recommender.load(args.model)
    data = load_data(args.data, seed=args.seed, download=args.download)
    train, test = split_data(data, args.split, args.test_fraction, args.seed)
    if not np.array_equal(
        np.asarray(model.item_ids_).astype(str), np.asarray(data.item_ids).astype(str)
    ):
        raise SystemExit(
            f"minirec: {args.model} was trained on another item catalog than "
            f"{args.data}; evaluate on the dataset the model was trained on"
        )
    t0 = time.perf_counter()
    if args.protocol == "rating":
        res = ev.evaluate_ratings(model, test)
    elif args.protocol == "full":
        res = ev.evaluate_full(model, test, train=train, ks=(10, 20))
    else:
        from .data import sample_negatives

        users = test.users
        pos = test.items
        neg = sample_negatives(data, users, args.negatives, seed=args.seed)
        res = ev.evaluate_sampled(model, users, pos, neg, ks=(10,))
    secs = time.perf_counter() - t0
    obj = {
        "command": "evaluate",
        "dataset": data.name or args.data,
        "protocol": res.protocol,
        "split": f"{args.split}, test_fraction {args.test_fraction}, seed {args.seed}",
        "model": type(model).__name__,
        "parameters": model.get_params(),
        "metrics": res.metrics,
        "seconds": secs,
    }
    _emit(args, obj, str(res))
    return 0


def _titles(model, ids: np.ndarray) -> list[str]:
    if model.item_titles_ is None:
        return [str(i) for i in ids]
    idx = model.item_index(ids)
    return [str(t) for t in model.item_titles_[idx]]


def cmd_recommend(args: argparse.Namespace) -> int:
    from .models import Recommender

    model = Recommender.load(args.model)
    t0 = time.perf_counter()
    ids, scores = model.recommend(
        [args.user],
        n=args.n,
        filter_seen=not args.all,
        unknown="popular" if args.cold_start else "raise",
    )
    secs = time.perf_counter() - t0
    titles = _titles(model, ids[0])
    items = [
        {
            "rank": r + 1,
            "item": ids[0, r],
            "title": titles[r],
            "score": float(scores[0, r]),
        }
        for r in range(len(titles))
    ]
    obj = {
        "command": "recommend",
        "model": type(model).__name__,
        "user": args.user,
        "n": args.n,
        "items": items,
        "seconds": secs,
    }
    lines = [f"top-{args.n} for user {args.user} ({type(model).__name__}):"]
    lines += [f"{it['rank']:>3}. {it['title']}  ({it['score']:.3f})" for it in items]
    _emit(args, obj, "\n".join(lines))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train on ML-100K (when found) or the synthetic default; print RMSE, top-10."""
    from .models import BiasedBaseline

    data_name = args.data or default_dataset()
    params = parse_sets(args.set)
    data, train, test, model, secs, result = _fit(
        args, data_name, args.model, params, "random", 0.1, args.seed
    )
    base = BiasedBaseline().fit(train)
    from .evaluation import evaluate_ratings

    base_res = evaluate_ratings(base, test)
    user = data.user_ids[0] if args.user is None else args.user
    ids, scores = model.recommend([user], n=10)
    titles = _titles(model, ids[0])
    obj = {
        "command": "demo",
        "dataset": data.name or data_name,
        "protocol": f"random holdout 90/10, seed {args.seed}",
        "model": type(model).__name__,
        "parameters": model.get_params(),
        "metrics": result.metrics if result else {},
        "baseline_metrics": base_res.metrics,
        "seconds": secs,
        "user": user,
        "top10": [
            {"item": i, "title": t, "score": float(s)}
            for i, t, s in zip(ids[0], titles, scores[0])
        ],
    }
    note = ""
    if data_name == "synthetic":
        note = (
            "  (synthetic data with planted structure; set MINIREC_DATA to a folder "
            "with ml-100k/ to use MovieLens)\n"
        )
    name = type(model).__name__
    lines = [
        f"minirec demo on {data!r}",
        note + f"trained {model!r} in {secs:.2f} s",
        f"held-out RMSE [{base_res.protocol}, random 90/10, seed {args.seed}]:",
    ]
    if result is not None:
        lines.append(f"  {name:<16} {result.metrics['RMSE']:.4f}")
    lines.append(f"  {'BiasedBaseline':<16} {base_res.metrics['RMSE']:.4f}")
    lines += ["", f"top-10 for user {user} (items they rated are left out):"]
    lines += [
        f"{r + 1:>3}. {t}  ({s:.2f})" for r, (t, s) in enumerate(zip(titles, scores[0]))
    ]
    _emit(args, obj, "\n".join(lines))
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minirec", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, data_default: str | None = "ml-100k"):
        sp.add_argument(
            "--data",
            default=data_default,
            help="synthetic, ml-100k, ml-1m, ... or a folder",
        )
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument(
            "--download",
            action="store_true",
            help="download the MovieLens zip from GroupLens if not found",
        )

    def splitting(sp):
        sp.add_argument(
            "--split",
            default="random",
            choices=["random", "per-user", "leave-last-out", "temporal"],
        )
        sp.add_argument("--test-fraction", type=float, default=0.1)

    sp = sub.add_parser("datasets", help="what data is found where")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_datasets)

    sp = sub.add_parser("train", help="train a model and save it")
    sp.add_argument("model", help="model name (minirec.models.REGISTRY)")
    sp.add_argument("--out", help="where to save the model (.npz)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a hyperparameter, e.g. --set k=64 --set lr=0.01",
    )
    common(sp)
    splitting(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("evaluate", help="evaluate a saved model")
    sp.add_argument("model", help="a model file written by `minirec train`")
    sp.add_argument(
        "--protocol", default="rating", choices=["rating", "full", "sampled"]
    )
    sp.add_argument("--negatives", type=int, default=99)
    common(sp)
    splitting(sp)
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("recommend", help="top-n items for a user")
    sp.add_argument("--model", required=True, help="a model file")
    sp.add_argument("--user", required=True, help="raw user id (as in the data)")
    sp.add_argument("-n", type=int, default=10)
    sp.add_argument("--all", action="store_true", help="do not filter seen items")
    sp.add_argument(
        "--cold-start",
        action="store_true",
        help="recommend popular items to an unknown user instead of failing",
    )
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_recommend)

    sp = sub.add_parser("demo", help="train, evaluate and recommend in one go")
    sp.add_argument("--model", default="mf")
    sp.add_argument("--set", action="append", metavar="NAME=VALUE")
    sp.add_argument("--user", default=None)
    common(sp, data_default=None)
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return args.func(args)
    except MinirecError as e:
        print(f"minirec: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as e:
        print(f"minirec: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
