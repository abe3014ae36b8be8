"""The NCF evaluation protocol on MovieLens 1M (He et al., WWW 2017).

Files (``<root>/ncf/``, from ``hexiangnan/neural_collaborative_filtering``):

``ml-1m.test.rating``
    ``user<TAB>item<TAB>rating<TAB>timestamp``: each user's latest rating, the
    held-out test case (leave-one-out), 6,040 lines.
``ml-1m.test.negative``
    ``(user,item)<TAB>neg1<TAB>...<TAB>neg99``: 99 sampled items per user.
``ml-1m.item_index.tsv``
    header ``ncf_item_index<TAB>MovieID``: NCF item index -> MovieID (NCF numbered
    movies in order of first appearance in ratings.dat).

NCF ids are 0-based: ``UserID = user + 1``; ``MovieID = item_index[item]``.
:func:`load_ncf_test` returns raw MovieLens ids. :func:`ncf_protocol` maps them into
the internal ids of an :class:`~minirec.data.Interactions` and removes the test
ratings from it, giving the NCF training set ("all ml-1m ratings minus test.rating").

Known quirk, kept as published: in 156 rows of test.negative the held-out item itself
is among the 99 "negatives" (NCF's sampler excluded only training items). The
regenerated protocol (``regenerate=True``) never does that: it excludes every item
the user rated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError, DataNotFoundError
from .download import find_dataset
from .interactions import Interactions
from .movielens import read_table
from .sampling import sample_negatives
from .split import leave_last_out

__all__ = ["NCFTest", "load_ncf_test", "ncf_protocol", "N_NEGATIVES"]

N_NEGATIVES = 99
_FILES = ("ml-1m.test.rating", "ml-1m.test.negative", "ml-1m.item_index.tsv")


class NCFTest(NamedTuple):
    """The NCF test files in raw MovieLens ids (one row per test user)."""

    users: np.ndarray  # int64 UserID, shape (n,)
    items: np.ndarray  # int64 MovieID, shape (n,)
    ratings: np.ndarray  # float64, shape (n,)
    timestamps: np.ndarray  # int64, shape (n,)
    negatives: np.ndarray  # int64 MovieID, shape (n, 99)


def _ncf_folder(path: str | os.PathLike | None) -> Path:
    if path is not None:
        p = Path(path)
        for cand in (p, p / "ncf"):
            if (cand / _FILES[0]).is_file():
                return cand
        raise DataNotFoundError(
            f"path={str(path)!r} holds no {_FILES[0]} (nor does {p / 'ncf'}); pass "
            "the folder with the NCF files"
        )
    return find_dataset("ncf")


def load_ncf_test(path: str | os.PathLike | None = None) -> NCFTest:
    """Read ml-1m.test.rating / .test.negative / item_index.tsv as raw MovieLens ids.

    Parameters
    ----------
    path : path, optional
        The folder holding the three files (or its parent). Default:
        ``$MINIREC_DATA/ncf``.
    """
    folder = _ncf_folder(path)
    for f in _FILES:
        if not (folder / f).is_file():
            raise DataNotFoundError(f"{folder / f}: file not found (NCF protocol file)")
    idx, _ = read_table(
        folder / _FILES[2],
        "\t",
        ("ncf", "movie"),
        header=True,
        integer=("ncf", "movie"),
        example="0\t1193",
    )
    n_idx = len(idx["ncf"])
    if not np.array_equal(np.sort(idx["ncf"]), np.arange(n_idx)):
        raise DataError(f"{folder / _FILES[2]}: ncf_item_index is not 0..{n_idx - 1}")
    movie_of = np.empty(n_idx, dtype=np.int64)
    movie_of[idx["ncf"]] = idx["movie"]

    def to_movie(ncf_items: np.ndarray, f: str, lines: np.ndarray) -> np.ndarray:
        bad = np.flatnonzero((ncf_items < 0) | (ncf_items >= n_idx))
        if len(bad):
            k = (
                int(bad[0])
                if ncf_items.ndim == 1
                else int(bad[0] // ncf_items.shape[1])
            )
            raise DataError(
                f"{folder / f} line {lines[k]}: NCF item index outside 0..{n_idx - 1}"
            )
        return movie_of[ncf_items]

    test, lines = read_table(
        folder / _FILES[0],
        "\t",
        ("user", "item", "rating", "timestamp"),
        integer=("user", "item", "timestamp"),
        numeric=("rating",),
        example="0\t25\t5\t978824351",
    )
    # "(u,i)<TAB>n1<TAB>...": drop the parentheses, split at the comma -> 101 fields
    neg_path = folder / _FILES[1]
    raw = neg_path.read_bytes()
    if not raw.lstrip().startswith(b"("):
        raise DataError(
            f"{neg_path} line 1: expected '(user,item)<TAB>neg1<TAB>...<TAB>neg99'"
        )
    raw = raw.replace(b"(", b"").replace(b")", b"").replace(b",", b"\t")
    names = ("user", "item") + tuple(f"n{k}" for k in range(N_NEGATIVES))
    neg_cols, neg_lines = read_table(
        neg_path,
        "\t",
        names,
        integer=names,
        raw=raw,
        example="(0,25)<TAB>1064<TAB>174<TAB>... (99 negatives)",
    )
    users, pos = neg_cols["user"], neg_cols["item"]
    negs = np.stack([neg_cols[f"n{k}"] for k in range(N_NEGATIVES)], axis=1)
    if not (np.array_equal(users, test["user"]) and np.array_equal(pos, test["item"])):
        raise DataError(
            f"{folder / _FILES[1]} and {folder / _FILES[0]} disagree on the "
            "(user, item) pairs; use the two files from the same NCF release"
        )
    return NCFTest(
        users=test["user"] + 1,
        items=to_movie(test["item"], _FILES[0], lines),
        ratings=test["rating"],
        timestamps=test["timestamp"],
        negatives=to_movie(negs, _FILES[1], neg_lines),
    )


def _internal(ids: np.ndarray, catalog: np.ndarray, what: str, hint: str) -> np.ndarray:
    sorter = np.argsort(catalog, kind="stable")
    pos = np.clip(np.searchsorted(catalog, ids, sorter=sorter), 0, len(catalog) - 1)
    idx = sorter[pos]
    bad = catalog[idx] != ids
    if bad.any():
        k = int(np.flatnonzero(bad.ravel())[0])
        raise DataError(
            f"NCF test {what} id {ids.ravel()[k]} is not in the data's {what}s; {hint}"
        )
    return idx.astype(np.int32)


def ncf_protocol(
    data: Interactions,
    path: str | os.PathLike | None = None,
    regenerate: bool = False,
    seed: int = 0,
) -> tuple[Interactions, np.ndarray, np.ndarray, np.ndarray]:
    """The leave-one-out protocol with 99 sampled negatives per user.

    Parameters
    ----------
    data : Interactions
        MovieLens 1M (all ratings). Implicit models treat every rating as a positive.
    path : path, optional
        Folder of the NCF files (default ``$MINIREC_DATA/ncf``).
    regenerate : bool
        Build the protocol from `data` instead of the files: each user's latest
        interaction (by timestamp; needs timestamps) is the test item, and 99 items
        the user never rated are sampled uniformly with `seed`. Also used when the
        files are not found.
    seed : int
        Seed of the regenerated negatives.

    Returns
    -------
    train : Interactions
        `data` minus each test user's test interaction (same id maps).
    test_users, test_items : ndarray of int32, shape (n_test,)
        Internal indices (sorted by user).
    negatives : ndarray of int32, shape (n_test, 99)
        Internal item indices.
    """
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be an Interactions, got {type(data).__name__}")
    files = None
    if not regenerate:
        try:
            files = load_ncf_test(path)
        except DataNotFoundError:
            if path is not None:
                raise
    if files is None:
        if data.timestamps is None:
            raise DataError(
                f"ncf_protocol(regenerate=True) needs timestamps to find each user's "
                f"latest rating, but {data.name or 'the data'!r} has none (the shared "
                "ml-1m copy has no timestamp column); use the NCF files "
                "(MINIREC_DATA/ncf) instead"
            )
        train, test = leave_last_out(data, n=1)
        order = np.argsort(test.users, kind="stable")
        tu, ti = test.users[order], test.items[order]
        negs = sample_negatives(data, tu, N_NEGATIVES, seed=seed)
        return train, tu, ti, negs
    hint = "the NCF files belong to MovieLens 1M; load it with load_movielens('ml-1m')"
    tu = _internal(files.users, data.user_ids, "user", hint)
    ti = _internal(files.items, data.item_ids, "item", hint)
    negs = _internal(files.negatives, data.item_ids, "item", hint)
    key = data.users.astype(np.int64) * data.n_items + data.items
    test_key = tu.astype(np.int64) * data.n_items + ti
    is_test = np.isin(key, test_key)
    if is_test.sum() < len(test_key):
        missing = np.flatnonzero(~np.isin(test_key, key))
        k = int(missing[0]) if len(missing) else 0
        raise DataError(
            f"NCF test pair (UserID {files.users[k]}, MovieID {files.items[k]}) is "
            f"not a rating in {data.name or 'the data'!r}; {hint}"
        )
    train = data.subset(~is_test, name=f"{data.name or 'data'} NCF train")
    order = np.argsort(tu, kind="stable")
    return train, tu[order], ti[order], negs[order]
