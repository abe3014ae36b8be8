"""The commands of ``minirec``; each takes the parsed arguments, prints its result
(text, or one JSON object with ``--json``) and returns the exit status."""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnknownIdError
from . import protocols as P
from ._io import CliError, check_known, emit, file_places, read_id_file, warn
from .params import (
    build_model,
    format_hyperparameters,
    hyperparameters,
    model_class,
    set_terms,
)


# ---------------------------------------------------------------------------- helpers
def _load_model(path: str):
    from ..models import Recommender

    return Recommender.load(path)


def _kernel_index_paths() -> list[Path]:
    """The Numba cache index file of every compiled-on-demand minirec kernel."""
    from numba.core.registry import CPUDispatcher

    from ..backends import numba_ops  # noqa: F401  (imports the other kernel modules)

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


def _titles(model, ids) -> list[str]:
    if getattr(model, "item_titles_", None) is None:
        return [str(i) for i in ids]
    return [str(t) for t in model.item_titles_[model.item_index(ids)]]


def _own_ids(model, raw: list, which: str) -> list:
    """Raw ids as the model stores them (the number 196, not the text "196"); an
    id the model lacks (a --cold-start user) stays as given."""
    index = model.user_index if which == "user" else model.item_index
    own = model.user_ids_ if which == "user" else model.item_ids_
    idx = index(np.asarray(raw, dtype=object), missing="ignore")
    return [own[k] if k >= 0 else r for k, r in zip(idx, raw)]


def _ranked(model, ids, scores) -> list[dict]:
    """Rank/item/title/score rows, best first; the -inf padding of a ranking with
    fewer than n items left (all filtered) is dropped."""
    keep = ~np.isneginf(scores)  # a NaN stays (and shows as null): a broken model
    ids, scores = ids[keep], scores[keep]
    titles = _titles(model, ids)
    return [
        {"rank": r + 1, "item": ids[r], "title": titles[r], "score": float(scores[r])}
        for r in range(len(ids))
    ]


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
    model = _load_model(args.model)
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


# ----------------------------------------------------------- recommend, similar, export
def _candidates(args: argparse.Namespace, model) -> dict:
    """``items=`` (candidate ids) from --items FILE, after naming unknown ones."""
    if not getattr(args, "items", None):
        return {}
    ids, lines = read_id_file(args.items, "--items")
    check_known(model, ids, "item", file_places(args.items, lines))
    return {"items": ids}


def _recommend_users(args: argparse.Namespace, model) -> list:
    users = list(args.user or [])
    places = ["--user"] * len(users)
    if args.users:
        more, lines = read_id_file(args.users, "--users")
        users += more
        places += file_places(args.users, lines)
    if args.history:
        if len(users) > 1:
            raise CliError(
                "--history FILE holds one user's items; give at most one --user (a "
                "label for that user)"
            )
        return users or ["(history)"]
    if not users:
        raise CliError("give --user ID (repeatable), --users FILE or --history FILE")
    if not args.cold_start:
        hint = (
            "; pass --cold-start to recommend popular items to unknown users, or "
            "--history FILE with the items of a new user"
        )
        check_known(model, users, "user", places, hint)
    return users


def _check_n(args: argparse.Namespace, limit: int, what: str) -> None:
    if args.n > limit:
        raise CliError(f"-n {args.n}: the model has only {limit:,} {what}")


def cmd_recommend(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    _check_n(args, model.n_items, "items")
    users = _recommend_users(args, model)
    kwargs = _candidates(args, model)
    t0 = time.perf_counter()
    if args.history:
        users, shown = _fold_in_history(args, model, users[0])
        kwargs["history"] = shown
    try:
        ids, scores = model.recommend(
            users,
            n=args.n,
            filter_seen=not args.all,
            unknown="popular" if args.cold_start else "raise",
            items=kwargs.get("items"),
        )
    except UnknownIdError as e:
        raise CliError(str(e)) from None
    secs = time.perf_counter() - t0
    if "history" in kwargs:
        shown_users = [kwargs["history"]["user"]]
    else:
        shown_users = _own_ids(model, users, "user")
    rows = [
        {"user": u, "items": _ranked(model, ids[r], scores[r])}
        for r, u in enumerate(shown_users)
    ]
    obj = {
        "command": "recommend",
        "model": type(model).__name__,
        "n": args.n,
        "filter_seen": not args.all,
        "candidates": len(kwargs["items"]) if "items" in kwargs else None,
        "history": kwargs.get("history"),
        "users": rows,
        "seconds": secs,
    }
    lines = []
    for row in rows:
        lines.append(f"top-{args.n} for user {row['user']} ({type(model).__name__}):")
        lines += [
            f"{it['rank']:>3}. {it['title']}  ({it['score']:.3f})"
            for it in row["items"]
        ]
        if len(row["items"]) < args.n:
            lines.append(f"     (only {len(row['items'])} items left after filtering)")
    emit(args, obj, "\n".join(lines))
    return 0


def _fold_in_history(args: argparse.Namespace, model, label: str) -> tuple[list, dict]:
    """Fold the user of --history FILE into `model` (the loaded copy; the file is
    not changed): the user list to recommend for and what the output says."""
    ids, ratings, lines = read_id_file(args.history, "--history", with_values=True)
    check_known(model, ids, "item", file_places(args.history, lines))
    rated = [r is not None for r in ratings]
    if any(rated) and not all(rated):
        k = rated.index(not rated[0])
        raise CliError(
            f"{args.history}:{lines[k]}: give a rating on every line (item,rating) "
            "or on none"
        )
    if label == "(history)":  # no --user: an id the model does not have
        known = np.asarray(model.user_ids_)
        user = int(known.max()) + 1 if np.issubdtype(known.dtype, np.number) else label
    else:
        user = label
        try:
            np.asarray([user]).astype(model.user_ids_.dtype)
        except ValueError:
            raise CliError(
                f"--user {label}: the model's user ids are {model.user_ids_.dtype} "
                "numbers; give a number as the label of the --history user, or none"
            ) from None
    try:
        model.fold_in(
            [user] * len(ids),
            ids,
            None if not any(rated) else [float(r) for r in ratings],
        )
    except NotImplementedError as e:
        raise CliError(f"--history: {e}") from None
    shown = {"user": label, "items": len(ids), "ratings": any(rated)}
    return [user], shown


def cmd_similar(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    if bool(args.item) == bool(args.user):
        raise CliError("give either --item ID (repeatable) or --user ID (repeatable)")
    which = "item" if args.item else "user"
    _check_n(
        args,
        (model.n_items if which == "item" else model.n_users) - 1,
        f"other {which}s",
    )
    query = list(args.item or args.user)
    check_known(model, query, which, [f"--{which}"] * len(query))
    query = _own_ids(model, query, which)
    if args.items and which == "user":
        raise CliError("--items FILE is a set of candidate items: use it with --item")
    kwargs = _candidates(args, model)
    method = model.similar_items if which == "item" else model.similar_users
    try:
        ids, scores = method(query, n=args.n, **kwargs)
    except NotImplementedError as e:
        raise CliError(str(e)) from None
    rows = []
    for r, q in enumerate(query):
        keep = ~np.isneginf(scores[r])
        found, s = ids[r][keep], scores[r][keep]
        names = _titles(model, found) if which == "item" else None
        similar = []
        for k in range(len(found)):
            row = {"rank": k + 1, which: found[k], "score": float(s[k])}
            if names is not None:
                row["title"] = names[k]
            similar.append(row)
        rows.append({which: q, "similar": similar})
    obj = {
        "command": "similar",
        "model": type(model).__name__,
        "n": args.n,
        "of": which,
        "results": rows,
    }
    lines = []
    for row in rows:
        head = _titles(model, [row[which]])[0] if which == "item" else row[which]
        lines.append(f"{which}s most similar to {head} (cosine):")
        lines += [
            f"{it['rank']:>3}. {it.get('title', it[which])}  ({it['score']:.3f})"
            for it in row["similar"]
        ]
    emit(args, obj, "\n".join(lines))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    try:
        emb = model.embeddings()
    except NotImplementedError as e:
        raise CliError(str(e)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(
            f"--out {out}: cannot create the folder ({e.strerror})"
        ) from None
    written = []
    for key, arr in emb.items():
        arr = np.asarray(arr)
        ids = {"user": model.user_ids_, "item": model.item_ids_}.get(key.split("_")[0])
        if ids is not None and len(ids) != len(arr):
            ids = None
        if args.format == "npy":
            files = [out / f"{key}.npy"]
            np.save(files[0], arr)
            if ids is not None:
                files.append(out / f"{key}_ids.npy")
                np.save(
                    files[1],
                    np.asarray(ids).astype(str) if ids.dtype == object else ids,
                )
        else:
            files = [out / f"{key}.csv"]
            _write_csv(files[0], arr, ids)
        written.append(
            {"name": key, "shape": list(arr.shape), "files": [str(f) for f in files]}
        )
    obj = {
        "command": "export",
        "model": type(model).__name__,
        "format": args.format,
        "out": str(out),
        "arrays": written,
    }
    lines = [
        f"{w['name']}: {' x '.join(map(str, w['shape']))} -> {', '.join(w['files'])}"
        for w in written
    ]
    emit(args, obj, "\n".join(lines))
    return 0


def _write_csv(path: Path, arr: np.ndarray, ids) -> None:
    """One row per entity: ``id,f0,f1,...`` (no id column without an id map)."""
    mat = arr.reshape(len(arr), -1)
    header = [f"f{j}" for j in range(mat.shape[1])]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow((["id"] if ids is not None else []) + header)
        for r in range(len(mat)):
            vals = [repr(float(v)) for v in mat[r]]
            out.writerow(([ids[r]] if ids is not None else []) + vals)


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
    user = _own_ids(model, [user], "user")[0]
    ids, scores = model.recommend([user], n=10)
    top = _ranked(model, ids[0], scores[0])
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
