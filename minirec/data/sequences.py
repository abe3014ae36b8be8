"""Sequence data: SASRec user histories and session-rec click sessions.

SASRec (Kang & McAuley, ICDM 2018) -- :func:`load_sasrec`
    ``user item`` per line (space-separated), grouped by user, each user's lines in
    chronological order (``sasrec/Video.txt``: 31,013 users, 23,715 items, 287,107
    lines). There are no timestamps: the loader sets ``timestamps`` to the line's
    position in the file (0, 1, 2, ...), so "later" means "later in the file" and
    :func:`user_sequences`, :func:`~minirec.data.leave_last_out` and
    :func:`sasrec_split` see the true order. Implicit feedback (ratings all 1);
    repeated (user, item) lines are kept (an event log).
    :func:`sasrec_split` is the paper's split: per user, the last item is the test
    item, the one before it the validation item, the rest training; users with fewer
    than 3 items stay in training only. :func:`sasrec_negatives` draws the 100
    negatives per user of the paper's sampled evaluation (items the user never had).

Sessions (session-rec / GRU4Rec format) -- :func:`load_sessions`
    Tab-separated with the header ``SessionId ItemId Time`` (epoch seconds, may be
    fractional). A :class:`Sessions` holds the events sorted by session id, then time
    (ties: file order), with ``offsets`` (CSR-like: session ``s`` is
    ``items[offsets[s]:offsets[s+1]]``), internal item indices and the raw item
    catalog ``item_ids``.

    Policies:

    * **Length-1 sessions** have no next item to predict. ``load_sessions`` keeps them
      by default (``min_length=1``); pass ``min_length=2`` to drop them (as GRU4Rec
      preprocessing does). :func:`load_session_split` drops them from the *test* part
      (``test_min_length=2``) and keeps them in training.
    * **Test items not in the training catalog are dropped** (a model cannot score an
      item it never saw), then test sessions shorter than ``test_min_length`` --
      including sessions left empty -- are removed. The counts of dropped events and
      sessions are stored in ``Sessions.dropped``.
    * **Empty sessions** cannot come from a file (a session exists through its rows);
      a ``Sessions`` never holds one: filtering removes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import check_positive_int
from ..errors import DataError, DataNotFoundError
from .download import find_dataset
from .interactions import Interactions
from .movielens import read_table
from .sampling import sample_negatives

__all__ = [
    "Sessions",
    "load_sasrec",
    "user_sequences",
    "sasrec_split",
    "sasrec_negatives",
    "load_sessions",
    "load_session_split",
]


# ----------------------------------------------------------------------- SASRec
def load_sasrec(path: str | os.PathLike, name: str | None = None) -> Interactions:
    """Load a SASRec ``user item`` file (see the module docstring).

    Parameters
    ----------
    path : path
        The file (e.g. ``$MINIREC_DATA/sasrec/Video.txt``) or a folder holding
        ``Video.txt``.
    name : str, optional
        Dataset name (default: the file name without extension).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "Video.txt"
    cols, _ = read_table(
        p, " ", ("user", "item"), integer=("user", "item"), example="1 6393"
    )
    n = len(cols["user"])
    return Interactions.from_arrays(
        cols["user"],
        cols["item"],
        None,
        np.arange(n, dtype=np.int64),
        duplicates="keep",
        name=name or p.stem,
        source=str(p),
    )


def user_sequences(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Each user's items in time order (ties: row order), CSR-like.

    Returns ``(indptr, items)``: user ``u``'s sequence is
    ``items[indptr[u]:indptr[u+1]]`` (int64 indptr, int32 internal items). Without
    timestamps the row order of `data` is used.
    """
    rows = np.arange(len(data))
    t = rows if data.timestamps is None else data.timestamps
    order = np.lexsort((rows, t, data.users))
    indptr = np.zeros(data.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(data.users, minlength=data.n_users), out=indptr[1:])
    return indptr, data.items[order]


def sasrec_split(data: Interactions) -> tuple[Interactions, Interactions, Interactions]:
    """SASRec's split: per user the last item is test, the second to last valid.

    Order is by timestamp (position in file for :func:`load_sasrec`), ties by row.
    Users with fewer than 3 interactions keep all of them in train. Returns
    ``(train, valid, test)`` sharing the id maps of `data`.
    """
    rows = np.arange(len(data))
    t = rows if data.timestamps is None else data.timestamps
    order = np.lexsort((-rows, -t, data.users))  # latest first within each user
    su = data.users[order]
    counts = np.bincount(data.users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(order)) - starts[su]  # 0 = latest
    eligible = counts[su] >= 3
    part = np.zeros(len(data), dtype=np.int8)  # 0 train, 1 valid, 2 test
    part[order[eligible & (rank == 0)]] = 2
    part[order[eligible & (rank == 1)]] = 1
    base = data.name or "data"
    return (
        data.subset(part == 0, name=f"{base} train"),
        data.subset(part == 1, name=f"{base} valid"),
        data.subset(part == 2, name=f"{base} test"),
    )


def sasrec_negatives(
    data: Interactions, users: np.ndarray, n: int = 100, seed: int = 0
) -> np.ndarray:
    """`n` (default 100) distinct items each user never interacted with, uniformly,
    for the sampled evaluation of the SASRec paper. Pass the *whole* `data` so that
    neither training, validation nor test items are drawn."""
    return sample_negatives(data, users, n, seed=seed)


# ----------------------------------------------------------------------- sessions
@dataclass
class Sessions:
    """Click sessions sorted by session, then time (see the module docstring).

    Attributes
    ----------
    session_ids : ndarray, shape (n_sessions,)
        Raw session ids, ascending.
    offsets : ndarray of int64, shape (n_sessions + 1,)
        Session ``s`` is ``items[offsets[s]:offsets[s+1]]``.
    items : ndarray of int32, shape (n_events,)
        Internal item indices into ``item_ids``.
    times : ndarray of float64, shape (n_events,)
        Event times (epoch seconds).
    item_ids : ndarray, shape (n_items,)
        Raw item catalog (sorted).
    name : str
    dropped : dict
        What filtering removed: ``events_unknown_item``, ``sessions_short``.
    """

    session_ids: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    times: np.ndarray
    item_ids: np.ndarray
    name: str = ""
    dropped: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.session_ids)

    @property
    def n_sessions(self) -> int:
        return len(self.session_ids)

    @property
    def n_events(self) -> int:
        return len(self.items)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def session(self, s: int) -> np.ndarray:
        """Internal items of the `s`-th session, in time order."""
        return self.items[self.offsets[s] : self.offsets[s + 1]]

    def session_index(self) -> np.ndarray:
        """For every event, the position of its session (0..n_sessions-1)."""
        return np.repeat(np.arange(self.n_sessions), self.lengths())

    def __repr__(self) -> str:
        nm = f"{self.name}: " if self.name else ""
        return (
            f"<Sessions {nm}{self.n_sessions:,} sessions, {self.n_events:,} events, "
            f"{self.n_items:,} items>"
        )

    def filter_events(self, keep: np.ndarray, min_length: int = 1) -> Sessions:
        """Keep the events where `keep` is True, then drop sessions shorter than
        `min_length` (sessions left empty always go)."""
        keep = np.asarray(keep, dtype=bool)
        sess = self.session_index()[keep]
        counts = np.bincount(sess, minlength=self.n_sessions)
        ok_sess = counts >= max(1, min_length)
        ev = ok_sess[sess]
        new_counts = counts[ok_sess]
        offsets = np.zeros(len(new_counts) + 1, dtype=np.int64)
        np.cumsum(new_counts, out=offsets[1:])
        dropped = dict(self.dropped)
        dropped["sessions_short"] = dropped.get("sessions_short", 0) + int(
            self.n_sessions - ok_sess.sum()
        )
        return Sessions(
            self.session_ids[ok_sess],
            offsets,
            self.items[keep][ev],
            self.times[keep][ev],
            self.item_ids,
            self.name,
            dropped,
        )

    def to_dataframe(self) -> pd.DataFrame:
        """SessionId, ItemId (raw), Time: one row per event."""
        return pd.DataFrame(
            {
                "SessionId": np.repeat(self.session_ids, self.lengths()),
                "ItemId": self.item_ids[self.items],
                "Time": self.times,
            }
        )

    def to_interactions(self) -> Interactions:
        """Sessions as implicit (session, item) events, timestamps = time (seconds,
        truncated); handy for item-item models and samplers."""
        return Interactions(
            self.session_index(),
            self.items,
            None,
            np.floor(self.times).astype(np.int64),
            user_ids=self.session_ids,
            item_ids=self.item_ids,
            name=self.name,
        )


def _read_sessions(p: Path) -> tuple[dict, np.ndarray]:
    try:
        with open(p, encoding="utf-8", errors="replace") as f:
            head = f.readline().rstrip("\r\n")
    except FileNotFoundError:
        raise DataNotFoundError(f"{p}: file not found") from None
    names = head.split("\t")
    if head and (len(names) < 3 or names[:3] != ["SessionId", "ItemId", "Time"]):
        raise DataError(
            f"{p} line 1: expected the tab-separated header 'SessionId<TAB>ItemId<TAB>"
            f"Time', got {head[:60]!r}"
        )
    return read_table(
        p,
        "\t",
        ("session", "item", "time"),
        header=True,
        integer=("session", "item"),
        numeric=("time",),
        example="1\t214536502\t1396860669.277",
    )


def _sort_sessions(
    cols: dict, item_codes: np.ndarray, item_ids: np.ndarray, name: str
) -> Sessions:
    sess_ids, sess_codes = np.unique(cols["session"], return_inverse=True)
    rows = np.arange(len(sess_codes))
    order = np.lexsort((rows, cols["time"], sess_codes))
    offsets = np.zeros(len(sess_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(sess_codes, minlength=len(sess_ids)), out=offsets[1:])
    return Sessions(
        session_ids=sess_ids,
        offsets=offsets,
        items=item_codes[order].astype(np.int32),
        times=cols["time"][order].astype(np.float64),
        item_ids=item_ids,
        name=name,
        dropped={"events_unknown_item": 0, "sessions_short": 0},
    )


def load_sessions(
    path: str | os.PathLike,
    item_ids: np.ndarray | None = None,
    min_length: int = 1,
    name: str | None = None,
) -> Sessions:
    """Load a session-rec TSV file (``SessionId<TAB>ItemId<TAB>Time`` + header).

    Parameters
    ----------
    path : path
        The file.
    item_ids : array, optional
        A fixed item catalog (e.g. ``train.item_ids``): events whose item is not in
        it are dropped (counted in ``dropped["events_unknown_item"]``). Default: the
        sorted distinct items of the file.
    min_length : int
        Sessions shorter than this (after dropping) are removed (1 keeps them all).
    """
    p = Path(path)
    min_length = check_positive_int("min_length", min_length)
    cols, _ = _read_sessions(p)
    if item_ids is None:
        catalog, codes = np.unique(cols["item"], return_inverse=True)
        s = _sort_sessions(cols, codes, catalog, name or p.stem)
        return s.filter_events(np.ones(s.n_events, bool), min_length)
    catalog = np.asarray(item_ids)
    sorter = np.argsort(catalog, kind="stable")
    pos = np.clip(
        np.searchsorted(catalog, cols["item"], sorter=sorter), 0, len(catalog) - 1
    )
    codes = sorter[pos]
    known = catalog[codes] == cols["item"]
    s = _sort_sessions(cols, np.where(known, codes, -1), catalog, name or p.stem)
    keep = s.items >= 0
    s.dropped["events_unknown_item"] = int((~keep).sum())
    return s.filter_events(keep, min_length)


def load_session_split(
    name: str = "rsc15-100k",
    path: str | os.PathLike | None = None,
    train: str = "train_full",
    test: str = "test",
    test_min_length: int = 2,
) -> tuple[Sessions, Sessions]:
    """Train and test sessions of a session-rec dataset in one item space.

    Reads ``<folder>/*_<train>.txt`` and ``*_<test>.txt`` (for rsc15-100k:
    ``yoochoose-clicks-100k_train_full.txt`` and ``..._test.txt``; use
    ``train="train_tr", test="train_valid"`` for the validation split). Test items
    not in the training catalog are dropped, then test sessions shorter than
    `test_min_length` are removed (see the module docstring).

    Parameters
    ----------
    name : str
        Folder name under ``$MINIREC_DATA/sessions/``.
    path : path, optional
        The dataset folder itself (default ``$MINIREC_DATA/sessions/<name>``).
    """
    if path is None:
        folder = find_dataset("sessions") / name
    else:
        folder = Path(path)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: session dataset folder not found")

    def one(suffix: str) -> Path:
        found = sorted(folder.glob(f"*_{suffix}.txt"))
        if len(found) != 1:
            raise DataNotFoundError(
                f"{folder}: expected one file *_{suffix}.txt, found "
                f"{[f.name for f in found]}"
            )
        return found[0]

    tr = load_sessions(one(train), name=f"{name} {train}")
    te = load_sessions(
        one(test),
        item_ids=tr.item_ids,
        min_length=test_min_length,
        name=f"{name} {test}",
    )
    return tr, te


def as_sequences(data, what: str = "sequences") -> list[np.ndarray]:
    """A list of 1-d raw-id arrays from a list of sequences, a
    :class:`minirec.data.Sessions` (one per session), an
    :class:`~minirec.data.Interactions` (one per user, in time order, by
    :func:`minirec.data.user_sequences`) or a session-rec frame.

    A DataFrame must have ``SessionId`` and ``ItemId`` columns (``Time`` optional);
    rows are grouped by SessionId in order of first appearance and, when ``Time`` is
    present, sorted by it (stable) inside each session.
    """
    if hasattr(data, "offsets") and hasattr(data, "item_ids"):  # data.Sessions
        raw = np.asarray(data.item_ids)[data.items]
        return np.split(raw, np.asarray(data.offsets)[1:-1])
    if hasattr(data, "users") and hasattr(data, "item_ids"):  # data.Interactions
        indptr, items = user_sequences(data)
        return np.split(np.asarray(data.item_ids)[items], indptr[1:-1])
    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("SessionId", "ItemId") if c not in data.columns]
        if missing:
            raise DataError(
                f"{what}: the DataFrame lacks column(s) {missing}; expected the "
                "session-rec columns SessionId, ItemId[, Time]"
            )
        df = data
        if "Time" in df.columns:
            df = df.sort_values(["SessionId", "Time"], kind="stable")
        else:
            df = df.sort_values("SessionId", kind="stable")
        sid = df["SessionId"].to_numpy()
        items = df["ItemId"].to_numpy()
        if len(sid) == 0:
            return []
        cut = np.flatnonzero(sid[1:] != sid[:-1]) + 1
        return np.split(items, cut)
    from collections.abc import Sequence

    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(
            f"{what}: expected a list of sequences of item ids or a session-rec "
            f"DataFrame, got {type(data).__name__}"
        )
    out = []
    for k, s in enumerate(data):
        a = np.asarray(s)
        if a.ndim != 1:
            raise DataError(
                f"{what}[{k}] has shape {a.shape}; each sequence must be 1-d item ids"
            )
        if a.dtype == object:
            a = a.astype(str)
        out.append(a)
    return out
