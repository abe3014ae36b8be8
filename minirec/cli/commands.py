"""The commands of ``minirec`` that list, train and evaluate (the ones that query a
saved model are in :mod:`.queries`); each takes the parsed arguments, prints its
result (text, or one JSON object with ``--json``) and returns the exit status."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import protocols as P
from ._io import CliError, check_known, emit, warn
from .params import (
    build_model,
    format_hyperparameters,
    hyperparameters,
    model_class,
    set_terms,
)
from .queries import load_model, own_ids, ranked


# ---------------------------------------------------------------------------- helpers
def _kernel_index_paths() -> list[Path]:
    """The Numba cache index file of every compiled-on-demand minirec kernel."""
    from numba.core.registry import CPUDispatcher

    from ..backends import numba_fast  # noqa: F401  (imports every Numba kernel module)

    return [
        Path(d._cache._cache_file._index_path)
        for name, mod in list(sys.modules.items())
        if name.startswith("minirec.backends.")
        for d in vars(mod).values()
        if isinstance(d, CPUDispatcher)
    ]


_NOTICED: list[bool] = []  # the JIT notice is printed once per process


def _jit_notice(model) -> None:
    """One stderr line when the model will compile Numba kernels that no cache holds
    (the first training on a machine, or with a new NUMBA_CACHE_DIR)."""
    params = model.get_params()
    if _NOTICED or "backend" not in params:
        return
    try:
        from ..backends import resolve_backend

        if resolve_backend(params["backend"]) != "numba":
            return
        paths = _kernel_index_paths()
    except Exception:  # noqa: BLE001  (a notice must never stop a command)
        return
    if paths and not any(p.exists() for p in paths):
        _NOTICED.append(True)
        print(
            "minirec: compiling the Numba kernels for their first use here "
            "(cached for later runs; this takes a minute once)",
            file=sys.stderr,
        )


def _key_metrics(res) -> str:
    """The metrics that fit the protocol: RMSE/MAE, else HR@10/NDCG@10."""
    names = ["RMSE", "MAE"] if "RMSE" in res.metrics else ["HR@10", "NDCG@10"]
    return ", ".join(f"{k} {res.metrics[k]:.4f}" for k in names if k in res.metrics)


def _headline(res) -> str:
    """The key metrics and their protocol."""
    return f"{_key_metrics(res)}  [{res.protocol}]"


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Text rows with every column but the last padded to its widest cell."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    padded = [[f"{cell:<{w}}" for cell, w in zip(r, widths)] + [r[-1]] for r in rows]
    return ["  ".join(cells) for cells in padded]


def _result_obj(command: str, data_name: str, model, res, **extra: Any) -> dict:
    obj = {
        "command": command,
        "dataset": data_name,
        "protocol": res.protocol if res is not None else None,
        "model": type(model).__name__,
        "parameters": model.get_params(),
        "metrics": res.metrics if res is not None else {},
    }
    obj.update(extra)
    return obj


# ------------------------------------------------------------- datasets, models, params
def cmd_datasets(args: argparse.Namespace) -> int:
    from .. import data as mdata

    rows = mdata.datasets()
    lines = _columns(
        [
            (r["name"], "found" if r.get("found") else "missing", r.get("where") or "-")
            for r in rows
        ]
    )
    if not any(r.get("found") for r in rows if r["name"] != "synthetic"):
        lines.append(
            "\nNo MovieLens data found. Set MINIREC_DATA to a folder holding ml-100k/, "
            "or run: minirec train baseline --data ml-100k --download"
        )
    emit(args, {"command": "datasets", "datasets": rows}, "\n".join(lines))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ..models import REGISTRY, get_model_class

    rows = []
    for name in REGISTRY:
        try:
            cls = get_model_class(name)
        except ValueError as e:  # a model whose optional dependency is missing
            rows.append({"name": name, "available": False, "summary": str(e)})
            continue
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        rows.append(
            {
                "name": name,
                "available": True,
                "class": cls.__name__,
                "task": "rating" if cls.predicts_ratings else "ranking",
                "summary": " ".join(doc.split()),
            }
        )
    lines = _columns(
        [(r["name"], r.get("task", "-"), _short(r["summary"])) for r in rows]
    )
    lines.append(
        "\n`minirec params MODEL` lists a model's hyperparameters; rating models are "
        "scored by RMSE, ranking models by HR@10 / NDCG@10."
    )
    emit(args, {"command": "models", "models": rows}, "\n".join(lines))
    return 0


def _short(text: str, width: int = 72) -> str:
    """The first sentence of `text`, cut to `width` characters."""
    first = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0]
    return first if len(first) <= width else first[: width - 1].rstrip() + "…"


def cmd_params(args: argparse.Namespace) -> int:
    cls = model_class(args.model)
    obj = {
        "command": "params",
        "model": cls.__name__,
        "task": "rating" if cls.predicts_ratings else "ranking",
        "parameters": hyperparameters(cls),
    }
    emit(args, obj, format_hyperparameters(args.model))
    return 0


# ---------------------------------------------------------------------- train, evaluate
def _fit(model, holdout) -> float:
    """P.fit, with a hyperparameter named in an error written as its --set flag."""
    try:
        return P.fit(model, holdout)
    except ValueError as e:
        e.args = (set_terms(str(e), type(model)),)
        raise


def _train_split(args: argparse.Namespace) -> dict | None:
    if args.all_data:
        given = [
            f
            for f, v in (
                ("--split", args.split),
                ("--test-fraction", args.test_fraction),
            )
            if v is not None
        ]
        if given:
            raise CliError(
                f"--all-data trains on every rating, so {' and '.join(given)} "
                "would be ignored; drop one or the other"
            )
        return None
    return P.make_split(
        args.split or "random",
        0.1 if args.test_fraction is None else args.test_fraction,
        args.seed,
    )


def cmd_train(args: argparse.Namespace) -> int:
    model = build_model(args.model, args.set)
    split = _train_split(args)
    data = P.load_data(args.data, download=args.download)
    holdout = P.Holdout(data, split)
    _jit_notice(model)
    secs = _fit(model, holdout)
    model.fit_info_ = P.fit_info(args.data, data, split)
    res = None
    if split is not None:
        res = holdout.evaluate(model, holdout.default_protocol(model), seed=args.seed)
    path = model.save(args.out) if args.out else None
    obj = _result_obj(
        "train",
        data.name or args.data,
        model,
        res,
        split=split,
        n_train=len(holdout.train),
        seconds=secs,
        out=str(path) if path else None,
    )
    obj["warnings"] = getattr(args, "warnings", [])
    lines = [f"trained {model!r} on {len(holdout.train):,} of {data!r} in {secs:.2f} s"]
    if res is not None:
        lines.append(f"held out: {_headline(res)}")
    else:
        lines.append("--all-data: nothing held out, so no metric (and no `evaluate`)")
    lines.append(
        f"saved to {path}" if path else "not saved (pass --out FILE.npz to keep it)"
    )
    emit(args, obj, "\n".join(lines))
    return 0


def _evaluate_target(args: argparse.Namespace, model) -> tuple[str, dict]:
    """The dataset and split to evaluate on: the ones the model file records (and
    a flag that asks for others is refused), else the flags with a warning."""
    info = getattr(model, "fit_info_", None) or {}
    flags = {
        "--split": (args.split, "how"),
        "--test-fraction": (args.test_fraction, "test_fraction"),
        "--seed": (args.seed, "seed"),
    }
    if "split" in info:
        split = info["split"]
        dataset = info.get("dataset", "")
        if split is None:
            raise CliError(
                f"{args.model} was trained with --all-data on all of {dataset}: no "
                "rating was held out, so every test rating would be one it learned "
                "from; to measure it, train without --all-data"
            )
        asked = []
        if args.data is not None and not P.same_dataset(args.data, dataset):
            asked.append(f"--data {args.data}")
        for flag, (given, key) in flags.items():
            if given is not None and split.get(key) != given:
                asked.append(f"{flag} {given}")
        if asked:
            raise CliError(
                f"{args.model} was trained on the {P.split_label(split)} split of "
                f"{dataset}; evaluating with {', '.join(asked)} would score ratings "
                "it was trained on. Drop those flags (evaluate rebuilds the model's "
                "own split), or train a model with them"
            )
        return dataset, split
    dataset = args.data or "ml-100k"
    split = P.make_split(
        args.split or "random",
        0.1 if args.test_fraction is None else args.test_fraction,
        0 if args.seed is None else args.seed,
    )
    warn(
        args,
        f"{args.model} does not record the data and split it was trained on (it "
        f"was not written by `minirec train`); evaluating on the "
        f"{P.split_label(split)} split of {dataset}: if the model was fitted on any "
        "of those test ratings, the metrics are too good",
    )
    return dataset, split


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    dataset, split = _evaluate_target(args, model)
    if args.protocol is not None:  # before the data is read: fail fast
        P.check_protocol(model, args.protocol, split)
    data = P.load_data(dataset, download=args.download)
    info = getattr(model, "fit_info_", None) or {}
    n_fit = info.get("n_interactions")
    same_items = np.array_equal(
        np.asarray(model.item_ids_).astype(str), np.asarray(data.item_ids).astype(str)
    )
    if n_fit is not None and n_fit != len(data):
        raise CliError(
            f"{args.model} was trained on {n_fit:,} ratings of {dataset}, which now "
            f"holds {len(data):,}; evaluate on the data the model was trained on"
        )
    if not same_items:
        raise CliError(
            f"{args.model} was trained on another item catalog ({model.n_items:,} "
            f"items) than {dataset} has ({data.n_items:,}); evaluate on the data "
            "the model was trained on"
        )
    holdout = P.Holdout(data, split)
    protocol = args.protocol or holdout.default_protocol(model)
    t0 = time.perf_counter()
    res = holdout.evaluate(model, protocol, args.negatives, seed=split.get("seed", 0))
    obj = _result_obj(
        "evaluate",
        data.name or dataset,
        model,
        res,
        split=split,
        seconds=time.perf_counter() - t0,
        warnings=getattr(args, "warnings", []),
    )
    emit(args, obj, str(res))
    return 0


# ---------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    """Train on ML-100K (when found) or the synthetic data; print the held-out
    metric next to a baseline's, and one user's top 10."""
    from ..models import BiasedBaseline, Popularity

    data_name = args.data or _default_dataset()
    model = build_model(args.model, args.set)
    data = P.load_data(data_name, download=args.download)
    split = P.make_split("random", 0.1, args.seed)
    holdout = P.Holdout(data, split)
    _jit_notice(model)
    secs = _fit(model, holdout)
    protocol = holdout.default_protocol(model)
    res = holdout.evaluate(model, protocol, seed=args.seed)
    base = (BiasedBaseline() if protocol == "rating" else Popularity()).fit(
        holdout.train
    )
    base_res = holdout.evaluate(base, protocol, seed=args.seed)
    user = data.user_ids[0] if args.user is None else args.user
    check_known(model, [user], "user", ["--user"])
    user = own_ids(model, [user], "user")[0]
    ids, scores = model.recommend([user], n=10)
    top = ranked(model, ids[0], scores[0])
    obj = _result_obj(
        "demo",
        data.name or data_name,
        model,
        res,
        baseline=type(base).__name__,
        baseline_metrics=base_res.metrics,
        seconds=secs,
        user=user,
        top10=top,
    )
    note = ""
    if data_name == "synthetic":
        note = (
            "  (synthetic data with planted structure; set MINIREC_DATA to a folder "
            "with ml-100k/ to use MovieLens)\n"
        )
    lines = [
        f"minirec demo on {data!r}",
        note + f"trained {model!r} in {secs:.2f} s",
        f"held out [{res.protocol}]:",
        f"  {type(model).__name__:<16} {_key_metrics(res)}",
        f"  {type(base).__name__:<16} {_key_metrics(base_res)}",
        "",
        f"top-10 for user {user} (items they rated are left out):",
    ]
    lines += [f"{it['rank']:>3}. {it['title']}  ({it['score']:.2f})" for it in top]
    emit(args, obj, "\n".join(lines))
    return 0


def _default_dataset() -> str:
    """ml-100k when MINIREC_DATA (or the cache) has it, else the synthetic data."""
    from .. import data as mdata
    from ..errors import MinirecError

    try:
        mdata.find_dataset("ml-100k")
        return "ml-100k"
    except MinirecError:
        return "synthetic"
