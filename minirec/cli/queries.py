"""The commands that query a saved model: ``recommend``, ``similar`` and
``export``; each prints text, or one JSON object with ``--json``."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from ..errors import UnknownIdError
from ._io import CliError, check_known, emit, file_places, read_id_file


# ---------------------------------------------------------------------------- helpers
def load_model(path: str):
    from ..models import Recommender

    return Recommender.load(path)


def _titles(model, ids) -> list[str]:
    if getattr(model, "item_titles_", None) is None:
        return [str(i) for i in ids]
    return [str(t) for t in model.item_titles_[model.item_index(ids)]]


def own_ids(model, raw: list, which: str) -> list:
    """Raw ids as the model stores them (the number 196, not the text "196"); an
    id the model lacks (a --cold-start user) stays as given."""
    index = model.user_index if which == "user" else model.item_index
    own = model.user_ids_ if which == "user" else model.item_ids_
    idx = index(np.asarray(raw, dtype=object), missing="ignore")
    return [own[k] if k >= 0 else r for k, r in zip(idx, raw)]


def ranked(model, ids, scores) -> list[dict]:
    """Rank/item/title/score rows, best first; the -inf padding of a ranking with
    fewer than n items left (all filtered) is dropped."""
    keep = ~np.isneginf(scores)  # a NaN stays (and shows as null): a broken model
    ids, scores = ids[keep], scores[keep]
    titles = _titles(model, ids)
    return [
        {"rank": r + 1, "item": ids[r], "title": titles[r], "score": float(scores[r])}
        for r in range(len(ids))
    ]


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
    model = load_model(args.model)
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
        shown_users = own_ids(model, users, "user")
    rows = [
        {"user": u, "items": ranked(model, ids[r], scores[r])}
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
    model = load_model(args.model)
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
    query = own_ids(model, query, which)
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
    model = load_model(args.model)
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
