"""Next-item evaluation for session and sequence models, and the data they read.

Two protocols; each result carries its label (``EvalResult.protocol``):

* ``"session-next-item(full)"`` -- :func:`evaluate_next_item`, the session-rec /
  GRU4Rec protocol (Hidasi et al. 2016; Ludewig & Jannach 2018). For every test
  session s (items unseen in training removed first, then sessions shorter than 2
  dropped; both counted) and every position t = 0..len(s)-2, the model scores all
  training items after the prefix s[:t+1]; the target is s[t+1]. With r the 0-based
  rank of the target among all items (``ties="pessimistic"``: items with an equal
  score rank before it), Recall@k = mean 1[r < k] and MRR@k = mean 1[r < k] / (r + 1)
  over all (prefix, target) events. Full ranking, no sampling, no seen-item filter.

* ``"sasrec-sampled(1+100)"`` -- :func:`evaluate_sampled_next`, SASRec's protocol
  (Kang & McAuley 2018 §IV-B and its code): per user, the last item is the test item,
  the second-to-last the validation item, the rest is training (:func:`sasrec_split`;
  users with fewer than 3 items keep all of them for training and are not
  evaluated). The test target is ranked against 100 negatives drawn uniformly (with
  replacement) from items the user never interacted with, the model reading
  train + [valid] as its prefix (validation: the target is the valid item, the prefix
  the train part). HR@10 = mean 1[r < 10], NDCG@10 = mean 1[r < 10] / log2(r + 2). As
  in SASRec's code, at most 10,000 users (a seeded random sample) are evaluated.

Data readers (kept here until ``minirec.data`` has its own; they only parse):

* :func:`load_session_split` -- the session-rec TSV files (``SessionId ItemId Time``)
  of ``sessions/rsc15-100k`` (train_full + test, a time split).
* :func:`load_sasrec_sequences` -- SASRec's ``user item`` text (e.g.
  ``sasrec/Video.txt``, the paper's "Games"), users' items in file (= time) order.
* :func:`movielens_sequences` -- user histories of an :class:`Interactions` with
  timestamps, sorted by (timestamp, file order) -- ML-100k. ML-1M in ../shared/data
  has no timestamps, so it cannot be turned into sequences.
* :func:`synthetic_sessions` -- sessions from a planted first-order Markov chain (tests,
  lessons without data).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics as M
from ._utils import as_rng, check_positive_int
from .errors import DataError
from .evaluation import EvalResult

__all__ = [
    "evaluate_next_item",
    "evaluate_sampled_next",
    "load_session_split",
    "load_sasrec_sequences",
    "movielens_sequences",
    "sasrec_split",
    "synthetic_sessions",
]


# ------------------------------------------------------------------------- readers
def _read_session_tsv(path: Path) -> list[np.ndarray]:
    import pandas as pd

    if not path.exists():
        raise DataError(f"{path}: file not found (set MINIREC_DATA to ../shared/data)")
    df = pd.read_csv(path, sep="\t", dtype={"SessionId": np.int64, "ItemId": np.int64})
    missing = {"SessionId", "ItemId", "Time"} - set(df.columns)
    if missing:
        raise DataError(
            f"{path}: header lacks {sorted(missing)}; expected SessionId ItemId Time"
        )
    df = df.sort_values(["SessionId", "Time"], kind="stable")
    sid, items = df["SessionId"].to_numpy(), df["ItemId"].to_numpy()
    cut = np.flatnonzero(sid[1:] != sid[:-1]) + 1
    return np.split(items, cut) if len(sid) else []


def load_session_split(
    root: str | Path, name: str = "rsc15-100k"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(train sessions, test sessions) of ``root/sessions/<name>``: lists of raw
    item-id arrays, each session sorted by time. Uses ``*_train_full.txt`` and
    ``*_test.txt``."""
    folder = Path(root) / "sessions" / name
    train = sorted(folder.glob("*_train_full.txt"))
    test = sorted(folder.glob("*_test.txt"))
    if not train or not test:
        raise DataError(
            f"{folder}: expected *_train_full.txt and *_test.txt (session-rec format)"
        )
    return _read_session_tsv(train[0]), _read_session_tsv(test[0])


def load_sasrec_sequences(path: str | Path) -> list[np.ndarray]:
    """Users' item sequences from SASRec's ``user item`` file (ids as in the file;
    users in ascending id order, items in file order)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found (set MINIREC_DATA to ../shared/data)")
    raw = np.loadtxt(path, dtype=np.int64, ndmin=2)
    if raw.shape[1] != 2:
        raise DataError(f"{path}: expected 2 columns 'user item', got {raw.shape[1]}")
    order = np.argsort(raw[:, 0], kind="stable")
    u, i = raw[order, 0], raw[order, 1]
    cut = np.flatnonzero(u[1:] != u[:-1]) + 1
    return np.split(i, cut)


def movielens_sequences(data: Any) -> list[np.ndarray]:
    """Per-user raw item-id sequences of an Interactions, sorted by timestamp (ties
    keep file order). Raises DataError when the data has no timestamps (ML-1M here)."""
    if getattr(data, "timestamps", None) is None:
        raise DataError(
            f"{getattr(data, 'name', 'data')} has no timestamps, so user histories "
            "have no order; use ML-100k (u.data has timestamps)"
        )
    order = np.lexsort((np.arange(len(data.users)), data.timestamps, data.users))
    u = data.users[order]
    items = np.asarray(data.item_ids)[data.items[order]]
    cut = np.flatnonzero(u[1:] != u[:-1]) + 1
    return np.split(items, cut)


def sasrec_split(
    seqs: Sequence[np.ndarray],
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """SASRec's data_partition: (train sequences for every user, eval user indices,
    valid items, test items). A user with n >= 3 items: train = all but the last two,
    valid = item n-2, test = item n-1; a user with n < 3: train = everything, no eval.
    """
    train, users, valid, test = [], [], [], []
    for u, s in enumerate(seqs):
        s = np.asarray(s)
        if len(s) < 3:
            train.append(s)
            continue
        train.append(s[:-2])
        users.append(u)
        valid.append(s[-2])
        test.append(s[-1])
    return train, np.asarray(users, np.int64), np.asarray(valid), np.asarray(test)


def synthetic_sessions(
    n_sessions: int = 2000,
    n_items: int = 50,
    mean_len: float = 6.0,
    branching: int = 2,
    noise: float = 0.1,
    seed: int = 0,
) -> list[np.ndarray]:
    """Sessions from a planted first-order Markov chain over items 1..n_items (raw ids):
    item i is followed by one of `branching` fixed successors (prob. 1 - noise) or a
    uniformly random item (prob. noise). Lengths are 1 + Poisson(mean_len - 1)."""
    check_positive_int("n_sessions", n_sessions)
    check_positive_int("n_items", n_items)
    check_positive_int("branching", branching)
    rng = as_rng(seed)
    succ = np.stack([rng.permutation(n_items) for _ in range(branching)], axis=1)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.7
    pop /= pop.sum()
    out = []
    for _ in range(n_sessions):
        L = 1 + rng.poisson(max(mean_len - 1, 0.0))
        s = np.empty(L, dtype=np.int64)
        s[0] = rng.choice(n_items, p=pop)
        for t in range(1, L):
            if rng.random() < noise:
                s[t] = rng.integers(n_items)
            else:
                s[t] = succ[s[t - 1], rng.integers(branching)]
        out.append(s + 1)
    return out


# ------------------------------------------------------------------------- protocols
def _check_ties(ties: str) -> str:
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties={ties!r}; choose 'pessimistic' or 'optimistic'")
    return ties


def _no_nan(model: Any, s: np.ndarray) -> None:
    if not np.all(np.isfinite(s)):
        raise FloatingPointError(
            f"{type(model).__name__} produced NaN/inf scores; it was probably trained "
            "with a too-high learning rate"
        )


def evaluate_next_item(
    model: Any,
    test_sessions: Any,
    k: int = 20,
    ties: str = "pessimistic",
    batch_sessions: int = 256,
    dataset: str = "",
) -> EvalResult:
    """Session-rec next-item evaluation (see the module docstring): Recall@k, MRR@k.

    Parameters
    ----------
    model : a fitted :class:`~minirec.models.session_baselines.SequentialRecommender`
    test_sessions : list of raw item-id sequences (or a session-rec DataFrame)
    k : cut-off (20 in GRU4Rec and session-rec)
    ties : "pessimistic" (equal scores rank before the target) or "optimistic"
    batch_sessions : sessions scored at once (memory: events x n_items floats)

    The result's ``metrics`` also holds ``n_unknown_dropped`` (test clicks on items
    unseen in training) and ``n_short_dropped`` (sessions left with < 2 items).
    """
    from .models.session_baselines import as_sequences

    t0 = time.perf_counter()
    k = check_positive_int("k", k)
    ties = _check_ties(ties)
    model._check_fitted()
    seqs = as_sequences(test_sessions, "test_sessions")
    n_unknown, enc = 0, []
    for s in seqs:
        idx = model.item_index(s, unknown="skip")
        n_unknown += len(s) - len(idx)
        enc.append(idx)
    keep = [s for s in enc if len(s) >= 2]
    n_short = len(enc) - len(keep)
    if not keep:
        raise DataError("test_sessions: no session has 2 or more known items")
    ranks = []
    for a in range(0, len(keep), batch_sessions):
        chunk = keep[a : a + batch_sessions]
        S = np.asarray(model._score_positions(chunk), dtype=np.float32)
        _no_nan(model, S)
        tgt = np.concatenate([s[1:] for s in chunk]).astype(np.int64)
        ts = S[np.arange(len(tgt)), tgt]
        beats = S > ts[:, None]
        if ties == "pessimistic":
            beats |= S == ts[:, None]
            beats[np.arange(len(tgt)), tgt] = False
        ranks.append(beats.sum(axis=1))
    r = np.concatenate(ranks).astype(np.int64)
    m = M.leave_one_out_metrics(r, ks=(k,), mrr_k=k)
    metrics = {
        f"Recall@{k}": m[f"HR@{k}"],
        f"MRR@{k}": m[f"MRR@{k}"],
        "n_unknown_dropped": float(n_unknown),
        "n_short_dropped": float(n_short),
    }
    return EvalResult(
        protocol="session-next-item(full)",
        metrics=metrics,
        n_users=len(keep),
        n_test=len(r),
        seconds=time.perf_counter() - t0,
        ties=ties,
        model=type(model).__name__,
        params=model.get_params(),
        dataset=dataset,
    )


def evaluate_sampled_next(
    model: Any,
    prefixes: Sequence[np.ndarray],
    targets: Any,
    history: Sequence[np.ndarray] | None = None,
    n_neg: int = 100,
    ks: Sequence[int] = (10,),
    max_users: int | None = 10_000,
    seed: int = 0,
    ties: str = "pessimistic",
    dataset: str = "",
) -> EvalResult:
    """SASRec's sampled protocol: rank each target among `n_neg` negatives.

    Parameters
    ----------
    model : fitted SequentialRecommender
    prefixes : raw item-id sequences the model reads (train + [valid] for test)
    targets : raw item ids (one per prefix)
    history : each user's whole item set (raw ids) that negatives must avoid;
        default: the prefix plus the target
    n_neg : negatives per case, drawn uniformly with replacement from the training
        catalog minus `history`
    max_users : evaluate a seeded random sample of at most this many cases (SASRec's
        code: 10,000); None = all
    """
    t0 = time.perf_counter()
    n_neg = check_positive_int("n_neg", n_neg)
    ties = _check_ties(ties)
    model._check_fitted()
    targets = np.asarray(targets)
    if len(prefixes) != len(targets):
        raise ValueError(
            f"{len(prefixes)} prefixes but {len(targets)} targets; pass one target "
            "per prefix"
        )
    if history is not None and len(history) != len(targets):
        raise ValueError("history must have one entry per prefix")
    rng = as_rng(seed)
    cases = np.arange(len(targets))
    if max_users is not None and len(cases) > max_users:
        cases = np.sort(rng.choice(cases, max_users, replace=False))
    n = model.n_items
    pre, cand = [], []
    for c in cases:
        p = model.item_index(prefixes[c], unknown="skip")
        tgt = model.item_index([targets[c]], unknown="skip")
        if len(p) == 0 or len(tgt) == 0:
            continue  # nothing to read or target outside the catalog: skipped
        h = prefixes[c] if history is None else history[c]
        seen = np.zeros(n, dtype=bool)
        seen[model.item_index(h, unknown="skip")] = True
        seen[tgt] = True
        neg = rng.integers(0, n, n_neg)
        bad = seen[neg]
        while bad.any():
            neg[bad] = rng.integers(0, n, int(bad.sum()))
            bad = seen[neg]
        pre.append(p)
        cand.append(np.concatenate([tgt, neg]))
    if not pre:
        raise DataError("no evaluable case (every prefix or target is unknown)")
    cand = np.stack(cand)
    ranks = []
    for a in range(0, len(pre), 512):
        S = np.asarray(model._score_prefixes(pre[a : a + 512]), dtype=np.float32)
        _no_nan(model, S)
        cs = np.take_along_axis(S, cand[a : a + 512], axis=1)
        ranks.append(M.rank_of_positive(cs[:, 0], cs[:, 1:], ties=ties))
    r = np.concatenate(ranks)
    metrics = M.leave_one_out_metrics(r, ks=tuple(ks))
    return EvalResult(
        protocol=f"sasrec-sampled(1+{n_neg})",
        metrics=metrics,
        n_users=len(r),
        n_test=len(r),
        seconds=time.perf_counter() - t0,
        ties=ties,
        model=type(model).__name__,
        params=model.get_params(),
        dataset=dataset,
    )
