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

Data comes from :mod:`minirec.data` (``load_session_split`` -> :class:`Sessions`,
``load_sasrec`` / ``load_movielens`` -> :class:`Interactions`, ``synthetic_sessions``);
:func:`sasrec_cases` turns an Interactions into the protocol's prefixes and targets
with :func:`minirec.data.sasrec_split`. User histories need timestamps:
:func:`sasrec_cases` refuses data without them (ML-1M in ../shared/data has none, so
it has no sequences; ML-100k and Video.txt, whose file order is its time order, do).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics as M
from ._utils import as_rng, check_positive_int
from .errors import DataError
from .evaluation import EvalResult

__all__ = [
    "SasrecCases",
    "evaluate_next_item",
    "evaluate_sampled_next",
    "sasrec_cases",
]


# ------------------------------------------------------------------------- cases
@dataclass
class SasrecCases:
    """SASRec's protocol cases of one data set (see :func:`sasrec_cases`).

    ``train``: every user's training sequence (raw ids; users with < 3 items keep all
    of them). For each evaluated user c: ``valid_prefix[c]`` (= its train part) and
    ``valid[c]``, ``test_prefix[c]`` (train + valid item) and ``test[c]``, and
    ``history[c]`` (all its items, which negatives avoid).
    """

    train: list
    users: np.ndarray
    valid_prefix: list
    valid: np.ndarray
    test_prefix: list
    test: np.ndarray
    history: list


def sasrec_cases(data: Any) -> SasrecCases:
    """Split an :class:`~minirec.data.Interactions` (with timestamps) the SASRec way
    (:func:`minirec.data.sasrec_split`) into sequences, prefixes and targets."""
    from .data import sasrec_split
    from .models.session_baselines import as_sequences

    if getattr(data, "timestamps", None) is None:
        raise DataError(
            f"{getattr(data, 'name', '') or 'data'} has no timestamps, so user "
            "histories have no order; use ML-100k or a SASRec file (ML-1M in "
            "../shared/data has no timestamps)"
        )
    tr, va, te = sasrec_split(data)
    train = as_sequences(tr)
    n_users = data.n_users
    train += [train[0][:0]] * (n_users - len(train))  # users with no train rows
    vi = np.full(n_users, -1, np.int64)
    vi[va.users] = np.arange(len(va.users))
    ti = np.full(n_users, -1, np.int64)
    ti[te.users] = np.arange(len(te.users))
    users = np.flatnonzero((vi >= 0) & (ti >= 0))
    ids = np.asarray(data.item_ids)
    valid = ids[va.items[vi[users]]]
    test = ids[te.items[ti[users]]]
    vp = [train[u] for u in users]
    tp = [np.append(train[u], valid[c]) for c, u in enumerate(users)]
    hist = [np.append(tp[c], test[c]) for c in range(len(users))]
    return SasrecCases(train, users, vp, valid, tp, test, hist)


# ------------------------------------------------------------------------- protocols
def _check_ties(ties: str) -> str:
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties={ties!r}; choose 'pessimistic' or 'optimistic'")
    return ties


def _as_scores(s: Any) -> np.ndarray:
    """Scores as floats in their own precision: casting float64 scores down to
    float32 would tie items the model tells apart."""
    s = np.asarray(s)
    return s if s.dtype.kind == "f" else s.astype(np.float64)


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
        S = _as_scores(model._score_positions(chunk))
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
        S = _as_scores(model._score_prefixes(pre[a : a + 512]))
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
