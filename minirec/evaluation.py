"""Evaluation protocols: rating holdout, sampled ranking, full ranking, k-fold CV.

Every protocol returns an :class:`EvalResult` whose ``protocol`` label travels with
its numbers, because the same model scores very differently under each:

* ``"rating-holdout"`` -- :func:`evaluate_ratings`: RMSE and MAE of predicted
  ratings on held-out (user, item, rating) triples.
* ``"sampled(1+m)"`` -- :func:`evaluate_sampled`: each test case is one positive
  item ranked against m sampled negatives (NCF: m = 99; SASRec: m = 100).
  HR@k, NDCG@k, MRR and AUC. Much easier than full ranking: HR@10 of 0.7 under
  sampled(1+99) can be 0.1 under full ranking.
* ``"full"`` -- :func:`evaluate_full`: every item of the catalog is ranked, the
  user's training items are removed from the ranking, and all of the user's test
  items are relevant. HR@k, Precision@k, Recall@k, NDCG@k, MAP@k, MRR, AUC and
  catalog coverage.
* :func:`cross_validate` -- mean and sample standard deviation over folds (the
  ML-100k u1..u5 protocol).

Tie rule. Models may give equal scores (popularity counts, constant predictions).
``ties="pessimistic"`` (the default) ranks a relevant item after every irrelevant
item with an equal score, so a constant scorer gets HR = 0, not 1;
``ties="optimistic"`` ranks it before them. Between relevant items order does not
matter (all gains are 1).

All protocols take internal indices (the id space of the training data; splits of one
:class:`~minirec.data.Interactions` share it) and use ``model.predict_pairs(u, i)`` or
``model.score_items(u)``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange

from . import metrics as M
from ._utils import progress
from .data.interactions import Interactions
from .errors import DataError
from .models._serving import _top_row

__all__ = [
    "EvalResult",
    "evaluate_ratings",
    "evaluate_sampled",
    "evaluate_full",
    "cross_validate",
]


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else str(x)
    return x


@dataclass
class EvalResult:
    """The outcome of one evaluation protocol.

    Attributes
    ----------
    protocol : str
        ``"rating-holdout"``, ``"sampled(1+99)"``, ``"full"``, ... (with
        ``" cv(5)"`` appended by :func:`cross_validate`).
    metrics : dict[str, float]
        e.g. ``{"HR@10": 0.41, "NDCG@10": 0.23}``; means over users (over folds for
        cross-validation).
    n_users : int
        Users evaluated (test cases for the sampled protocol).
    n_test : int
        Held-out (user, item) pairs used.
    seconds : float
        Wall time of the evaluation (fit time not included).
    ties : str or None
        Tie rule of ranking protocols; None for rating metrics.
    model : str
        Model class name.
    params : dict
        Model hyperparameters.
    dataset : str
        Dataset name (the test Interactions' ``name`` unless given).
    std : dict[str, float] or None
        Sample standard deviation over folds (cross-validation only).
    folds : list[EvalResult]
        Per-fold results (cross-validation only).
    """

    protocol: str
    metrics: dict[str, float]
    n_users: int
    n_test: int
    seconds: float
    ties: str | None = None
    model: str = ""
    params: dict = field(default_factory=dict)
    dataset: str = ""
    std: dict[str, float] | None = None
    folds: list[EvalResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (numpy scalars become Python numbers)."""
        d = asdict(self)
        d["folds"] = [f.to_dict() for f in self.folds]
        return _jsonable(d)

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(self.to_dict())``; keyword arguments go to json.dumps."""
        return json.dumps(self.to_dict(), **kwargs)

    def as_row(self) -> dict:
        """One flat dict for a table row: dataset, model, protocol, ties, the metrics
        (and ``<name> std`` for cross-validation), n_users, n_test, seconds."""
        row: dict[str, Any] = {
            "dataset": self.dataset,
            "model": self.model,
            "protocol": self.protocol,
            "ties": self.ties or "",
        }
        for k, v in self.metrics.items():
            row[k] = v
            if self.std is not None and k in self.std:
                row[f"{k} std"] = self.std[k]
        row.update(n_users=self.n_users, n_test=self.n_test, seconds=self.seconds)
        return row

    def __str__(self) -> str:
        parts = []
        for k, v in self.metrics.items():
            s = f"{k} {v:.4f}"
            if self.std is not None and k in self.std:
                s += f" ± {self.std[k]:.4f}"
            parts.append(s)
        head = f"[{self.protocol}"
        if self.ties:
            head += f", ties={self.ties}"
        head += "]"
        who = self.model or "model"
        on = f" on {self.dataset}" if self.dataset else ""
        return (
            f"{who}{on} {head} {', '.join(parts)} "
            f"({self.n_users:,} users, {self.n_test:,} test pairs, "
            f"{self.seconds:.2f} s)"
        )


# ---------------------------------------------------------------------------- helpers
def _model_info(model: Any) -> tuple[str, dict]:
    name = type(model).__name__
    params = model.get_params() if hasattr(model, "get_params") else {}
    return name, _jsonable(params)


def _check_ks(ks: Any) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (ks,)
    try:
        ks = tuple(ks)
    except TypeError:
        raise ValueError(f"ks={ks!r}: give a tuple of cut-offs like (10, 20)") from None
    if not ks:
        raise ValueError("ks is empty; give at least one cut-off like (10,)")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"ks={ks!r}: every cut-off must be a positive integer")
    return tuple(sorted({int(k) for k in ks}))


def _check_ties(ties: str) -> str:
    if ties not in M.TIE_RULES:
        raise ValueError(f"ties={ties!r}; choose one of {M.TIE_RULES}")
    return ties


def _check_same_space(model: Any, data: Interactions, what: str) -> None:
    if not isinstance(data, Interactions):
        raise TypeError(f"{what} must be an Interactions, got {type(data).__name__}")
    if model.n_users != data.n_users or model.n_items != data.n_items:
        raise DataError(
            f"{what} has {data.n_users:,} users x {data.n_items:,} items but the model "
            f"was trained on {model.n_users:,} x {model.n_items:,}; evaluate on a "
            "split of the same Interactions the training part came from (splits and "
            "subset() keep the id maps)"
        )
    uid = getattr(model, "user_ids_", None)
    iid = getattr(model, "item_ids_", None)
    for ids, mine, kind in ((uid, data.user_ids, "user"), (iid, data.item_ids, "item")):
        if ids is None:
            continue
        same = np.array_equal(np.asarray(ids), np.asarray(mine)) or np.array_equal(
            np.asarray(ids).astype(str), np.asarray(mine).astype(str)
        )
        if not same:
            raise DataError(
                f"{what} uses another {kind} id map than the model's training data "
                f"(same size, different ids); build train and test from one "
                "Interactions so internal indices mean the same ids"
            )


def _check_index(name: str, a: Any, n: int, kind: str) -> np.ndarray:
    a = np.asarray(a)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(
            f"{name} must hold internal {kind} indices (integers), got dtype {a.dtype}"
        )
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= n):
        bad = a[(a < 0) | (a >= n)].ravel()[0]
        raise ValueError(
            f"{name} holds {kind} index {int(bad)} outside [0, {n}); pass internal "
            f"indices of the training data (Interactions.{kind}_index(raw_ids))"
        )
    return a


def _raw(ids: Any, k: int) -> Any:
    """The raw id of internal index k (k itself when there is no id map)."""
    if ids is None or not 0 <= k < len(ids):
        return k
    v = ids[k]
    return v.item() if isinstance(v, np.generic) else v


def _check_no_nan(model: Any, scores: np.ndarray, u: np.ndarray, i: np.ndarray):
    bad = np.flatnonzero(np.isnan(scores))
    if len(bad):
        c = int(bad[0])
        uu, ii = int(u[c]), int(i[c])
        raise ValueError(
            f"{type(model).__name__} predicted NaN for {len(bad):,} pair(s), first "
            f"user {_raw(getattr(model, 'user_ids_', None), uu)!r} (index {uu}), item "
            f"{_raw(getattr(model, 'item_ids_', None), ii)!r} (index {ii}); check "
            "its training (lower lr / raise reg) before evaluating"
        )


# ---------------------------------------------------------------------------- ratings
def evaluate_ratings(
    model: Any, test: Interactions, *, batch: int = 1 << 16, dataset: str | None = None
) -> EvalResult:
    """RMSE and MAE of ``model`` on the held-out ratings of ``test``.

    Protocol ``"rating-holdout"``: every (u, i, r_ui) in `test` is predicted with
    ``model.predict_pairs(u, i)`` (internal indices; `test` must share the model's
    id space). Raises ValueError for a model that ranks but does not predict
    ratings (``predicts_ratings = False``), DataError for a test set from another
    id space, and ValueError when the model returns NaN.
    """
    t0 = time.perf_counter()
    if not getattr(model, "predicts_ratings", False):
        raise ValueError(
            f"{type(model).__name__} ranks items but does not predict ratings, so "
            "RMSE/MAE are meaningless; use evaluate_full or evaluate_sampled"
        )
    _check_same_space(model, test, "test")
    if len(test) == 0:
        raise DataError("test is empty; nothing to evaluate")
    if batch <= 0:
        raise ValueError(f"batch={batch!r}: must be a positive integer")
    y_hat = np.empty(len(test), dtype=np.float64)
    for s in range(0, len(test), batch):
        y_hat[s : s + batch] = model.predict_pairs(
            test.users[s : s + batch], test.items[s : s + batch]
        )
    _check_no_nan(model, y_hat, test.users, test.items)
    metrics = {"RMSE": M.rmse(test.ratings, y_hat), "MAE": M.mae(test.ratings, y_hat)}
    name, params = _model_info(model)
    return EvalResult(
        protocol="rating-holdout",
        metrics=metrics,
        n_users=int(len(np.unique(test.users))),
        n_test=len(test),
        seconds=time.perf_counter() - t0,
        ties=None,
        model=name,
        params=params,
        dataset=test.name if dataset is None else dataset,
    )


# ---------------------------------------------------------------------------- sampled
def evaluate_sampled(
    model: Any,
    users: Any,
    pos_items: Any,
    neg_items: Any,
    ks: Sequence[int] = (10,),
    ties: str = "pessimistic",
    *,
    drop_positive_negatives: bool = True,
    dataset: str = "",
) -> EvalResult:
    """HR@k, NDCG@k, MRR and AUC of one positive against m negatives per test case.

    Protocol ``f"sampled(1+{m})"`` (NCF, He et al. 2017; SASRec, Kang & McAuley
    2018). Test case c ranks ``pos_items[c]`` among ``neg_items[c]`` for user
    ``users[c]`` (a user may appear in several cases). With the positive's 0-based
    rank r_c from :func:`minirec.metrics.rank_of_positive`:

    HR@k = mean 1[r_c < k], NDCG@k = mean 1[r_c < k] / log2(r_c + 2),
    MRR = mean 1 / (r_c + 1), AUC = mean (#neg below + ½ #neg tied) / m.

    Parameters
    ----------
    model : Recommender (fitted)
    users, pos_items : int arrays (n,)
        Internal user and item indices.
    neg_items : int array (n, m)
        Internal indices of the sampled negatives.
    ks : cut-offs for HR and NDCG.
    ties : "pessimistic" (default) or "optimistic"; see the module docstring.
    drop_positive_negatives : bool
        Ignore a "negative" that is the positive item itself (the NCF ml-1m file
        has 156 such rows; NCF's own code collapses them in a dict).
    dataset : name to record.
    """
    t0 = time.perf_counter()
    ks = _check_ks(ks)
    ties = _check_ties(ties)
    u = _check_index("users", users, model.n_users, "user")
    p = _check_index("pos_items", pos_items, model.n_items, "item")
    neg = _check_index("neg_items", neg_items, model.n_items, "item")
    if u.ndim != 1 or p.shape != u.shape:
        raise ValueError(
            f"users has shape {u.shape} and pos_items {p.shape}; both must be 1-d "
            "with one entry per test case"
        )
    if neg.ndim != 2 or neg.shape[0] != len(u) or neg.shape[1] == 0:
        raise ValueError(
            f"neg_items has shape {neg.shape}, expected ({len(u)}, m) with m >= 1 "
            "negatives per test case"
        )
    if len(u) == 0:
        raise ValueError("users is empty; nothing to evaluate")
    n, m = neg.shape
    pos_s = np.asarray(model.predict_pairs(u, p), dtype=np.float64)
    _check_no_nan(model, pos_s, u, p)
    neg_s = np.asarray(
        model.predict_pairs(np.repeat(u, m), neg.ravel()), dtype=np.float64
    )
    _check_no_nan(model, neg_s, np.repeat(u, m), neg.ravel())
    neg_s = neg_s.reshape(n, m)
    valid = (neg != p[:, None]) if drop_positive_negatives else np.ones((n, m), bool)
    n_valid = valid.sum(axis=1)
    if (n_valid == 0).any():
        c = int(np.flatnonzero(n_valid == 0)[0])
        raise ValueError(
            f"test case {c}: every negative equals the positive item; sample "
            "negatives the user has not interacted with"
        )
    rank = M.rank_of_positive(pos_s, neg_s, ties=ties, valid=valid)
    metrics = M.leave_one_out_metrics(rank, ks)
    below = (valid & (neg_s < pos_s[:, None])).sum(axis=1)
    tied = (valid & (neg_s == pos_s[:, None])).sum(axis=1)
    metrics["AUC"] = float(((below + 0.5 * tied) / n_valid).mean())
    name, params = _model_info(model)
    return EvalResult(
        protocol=f"sampled(1+{m})",
        metrics=metrics,
        n_users=int(len(np.unique(u))),
        n_test=int(n),
        seconds=time.perf_counter() - t0,
        ties=ties,
        model=name,
        params=params,
        dataset=dataset,
    )


# ---------------------------------------------------------------------------- full
def _gather(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions into a CSR's indices of rows `rows`, and the batch row of each."""
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lens)
    offs = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(lens) - lens, lens
    )
    return np.repeat(starts, lens) + offs, owner


def _seen_csr(model: Any, train: Interactions | None):
    if train is not None:
        _check_same_space(model, train, "train")
        return train.by_user.indptr, train.by_user.indices
    seen = getattr(model, "_seen", None)
    if seen is None:
        raise ValueError(
            "exclude_train=True needs the training items: pass train=... or use a "
            "model fitted with Recommender.fit"
        )
    return seen.indptr, seen.indices


#: scores held at once by evaluate_full (batch=None): 64 MiB of float32
_FULL_CELLS = 1 << 24
#: relevant items of a user up to which a score is counted against all of them
#: (compares without branches) rather than by binary search
_LINEAR = 64


@njit(cache=True, nogil=True)
def _count_at_least(buf, s):
    """#{j: buf[j] >= s} and #{j: buf[j] > s} (NaN counts in neither): one
    branch-free pass the compiler vectorizes."""
    ge = np.int32(0)
    gt = np.int32(0)
    for j in range(buf.shape[0]):
        x = buf[j]
        ge += np.int32(x >= s)
        gt += np.int32(x > s)
    return ge, gt


@njit(parallel=True, cache=True, nogil=True)
def _full_rows(S, rel_ptr, rel_items, seen_ptr, seen_items, K, pessimistic,
               ranks, auc, top, n_top, has_nan):  # fmt: skip
    """Per row r of S (rows in parallel): the ranks of its relevant items
    ``rel_items[rel_ptr[r]:rel_ptr[r + 1]]`` (distinct; best first, into the same
    slots of `ranks`), its AUC, and the top-K of its unmasked items (for
    coverage). Masked: ``seen_items[seen_ptr[r]:seen_ptr[r + 1]]`` that are not
    relevant. The row is copied with the masked items set to NaN (so they count
    nowhere and rank last); each relevant score is counted against the copy in
    one vectorized pass (a sort of the copy for users with more than _LINEAR
    relevant items), and its relevant items' own counts are taken off."""
    n_rows, n_items = S.shape
    n_chunks = (n_rows + 7) // 8
    for c in prange(n_chunks):
        buf = np.empty(n_items, dtype=S.dtype)
        topv = np.empty(K, dtype=S.dtype)
        for r in range(c * 8, min(n_rows, c * 8 + 8)):
            row = S[r]
            nan = False
            for j in range(n_items):
                x = row[j]
                buf[j] = x
                nan |= x != x
            has_nan[r] = nan
            for p in range(seen_ptr[r], seen_ptr[r + 1]):
                buf[seen_items[p]] = np.nan
            a, b = rel_ptr[r], rel_ptr[r + 1]
            nr = b - a
            rs = np.empty(nr, dtype=S.dtype)
            for t in range(nr):
                j = rel_items[a + t]
                rs[t] = row[j]
                buf[j] = row[j]  # a relevant item is never masked
            rs.sort()
            cnt = _top_row(buf, K, top[r], topv)
            while cnt > 0 and np.isnan(topv[cnt - 1]):
                cnt -= 1
            n_top[r] = cnt
            n_valid = 0
            for j in range(n_items):
                n_valid += np.int32(buf[j] == buf[j])
            m = n_valid - nr  # unmasked irrelevant items
            srt = np.sort(buf)[:n_valid] if nr > _LINEAR else buf[:0]
            acc = 0.0
            for i in range(nr):
                s = rs[i]
                if nr > _LINEAR:
                    ge = n_valid - np.searchsorted(srt, s, side="left")
                    gt = n_valid - np.searchsorted(srt, s, side="right")
                else:
                    ge, gt = _count_at_least(buf, s)
                # the relevant items' own scores >= / > s (rs is sorted)
                ge -= nr - np.searchsorted(rs, s, side="left")
                gt -= nr - np.searchsorted(rs, s, side="right")
                d = nr - 1 - i  # its place, best first
                ranks[a + d] = d + (ge if pessimistic else gt)
                acc += (m - ge) + 0.5 * (ge - gt)
            auc[r] = acc / nr / m if m > 0 else np.nan


def evaluate_full(
    model: Any,
    test: Interactions,
    train: Interactions | None = None,
    ks: Sequence[int] = (10, 20),
    exclude_train: bool = True,
    batch: int | None = None,
    ties: str = "pessimistic",
    *,
    relevance_threshold: float | None = None,
    dataset: str | None = None,
    show_progress: bool | None = None,
) -> EvalResult:
    """Rank every item for every test user; HR, Precision, Recall, NDCG, MAP at each
    k, plus MRR, AUC and catalog coverage (protocol ``"full"``).

    For each user with at least one relevant test item: the scores of all items come
    from ``model.score_items(u)``, in blocks of `batch` users (default: as many as
    hold 2**24 scores, 64 MiB of float32); with `exclude_train` the user's training
    items (from `train`, else the ones the model was fitted on) are removed from the
    ranking -- a training item that is also a test item of that user stays
    rankable; a score of -inf from the model is a score like any other (below every
    finite one, tied with other -inf). Relevant = the user's test items (those with
    rating >= `relevance_threshold` when given).

    Memory: one block of scores (``batch x n_items`` of the model's dtype, plus
    what the model's scorer allocates for it), the block's relevant and training
    items, and the results, one int per relevant (user, item) pair and one float
    per user: it does not grow with the number of users beyond the results.
    `show_progress` shows a bar over the blocks (default: on a terminal,
    ``MINIREC_PROGRESS``).

    Each relevant item's rank is computed exactly under the tie rule: with relevant
    items sorted by score, the j-th (0-based) is at rank j + #{irrelevant, unmasked
    items scoring >= it} (pessimistic; > for optimistic). MRR uses the first
    relevant item's rank over the whole catalog (no cut-off); AUC is per user over
    (relevant, unmasked irrelevant) pairs, ties ½. Coverage@k is the fraction of
    the catalog that appears in at least one user's top-k (top-k chosen by score,
    ties broken by item index).
    """
    t0 = time.perf_counter()
    ks = _check_ks(ks)
    ties = _check_ties(ties)
    _check_same_space(model, test, "test")
    n_items = model.n_items
    if batch is None:
        batch = max(1, _FULL_CELLS // max(n_items, 1))
    if (
        isinstance(batch, bool)
        or not isinstance(batch, (int, np.integer))
        or batch <= 0
    ):
        raise ValueError(f"batch={batch!r}: must be a positive integer or None")
    K = max(ks)
    if K > n_items:
        raise ValueError(f"ks={ks}: the largest cut-off exceeds n_items={n_items}")

    rel_csr = test.by_user
    rel_items = rel_csr.indices
    rel_mask = np.ones(len(rel_items), dtype=bool)
    if relevance_threshold is not None:
        rel_mask = rel_csr.data >= float(relevance_threshold)
    owner = np.repeat(np.arange(test.n_users), rel_csr.lengths())
    counts = np.bincount(owner[rel_mask], minlength=test.n_users)
    eval_users = np.flatnonzero(counts > 0)
    if len(eval_users) == 0:
        raise DataError(
            "no test user has a relevant item"
            + (
                ""
                if relevance_threshold is None
                else f" (rating >= {relevance_threshold})"
            )
            + "; check the split or lower relevance_threshold"
        )
    seen_ptr = seen_idx = None
    if exclude_train:
        seen_ptr, seen_idx = _seen_csr(model, train)

    # relevant (user, item) pairs, distinct, grouped by user in eval_users' order
    key = np.unique(owner[rel_mask].astype(np.int64) * n_items + rel_items[rel_mask])
    all_rel = key % n_items
    n_rel = np.bincount(key // n_items, minlength=test.n_users)[eval_users]
    indptr = np.concatenate([[0], np.cumsum(n_rel)])
    ranks = np.empty(int(indptr[-1]), dtype=np.int64)
    auc_arr = np.empty(len(eval_users), dtype=np.float64)
    covered = {k: np.zeros(n_items, dtype=bool) for k in ks}
    starts = range(0, len(eval_users), batch)
    for start in progress(starts, "evaluate_full", len(starts), show_progress, "block"):
        bu = eval_users[start : start + batch]
        S = np.asarray(model.score_items(bu))  # read only: the model's arrays stay
        if S.shape != (len(bu), n_items):
            raise ValueError(
                f"model.score_items returned shape {S.shape}, expected "
                f"({len(bu)}, {n_items})"
            )
        if S.dtype.kind != "f":  # integers compare exactly as float64 up to 2**53
            S = S.astype(np.float64)
        S = np.ascontiguousarray(S)
        p0, p1 = indptr[start], indptr[start + len(bu)]
        rel_ptr = indptr[start : start + len(bu) + 1] - p0
        if exclude_train:
            spos, sr = _gather(seen_ptr, bu)
            s_ptr = np.searchsorted(sr, np.arange(len(bu) + 1))
            s_idx = seen_idx[spos]
        else:
            s_ptr = np.zeros(len(bu) + 1, dtype=np.int64)
            s_idx = np.zeros(0, dtype=np.int64)
        top = np.empty((len(bu), K), dtype=np.int64)
        n_top = np.empty(len(bu), dtype=np.int64)
        has_nan = np.empty(len(bu), dtype=np.bool_)
        auc_b = auc_arr[start : start + len(bu)]
        _full_rows(S, rel_ptr, all_rel[p0:p1], s_ptr, s_idx, K,
                   ties == "pessimistic", ranks[p0:p1], auc_b, top, n_top,
                   has_nan)  # fmt: skip
        if has_nan.any():
            r = int(np.flatnonzero(has_nan)[0])
            _check_no_nan(model, S[r], np.full(n_items, bu[r]), np.arange(n_items))
        for k in ks:
            ok = np.arange(k)[None, :] < n_top[:, None]
            covered[k][top[:, :k][ok]] = True

    hits, _ = M.hits_from_ranks(ranks, indptr, K)
    first = np.minimum.reduceat(ranks, indptr[:-1])
    metrics: dict[str, float] = {}
    for k in ks:
        metrics[f"HR@{k}"] = M.hit_rate_at_k(hits, n_rel, k)
        metrics[f"Precision@{k}"] = M.precision_at_k(hits, n_rel, k)
        metrics[f"Recall@{k}"] = M.recall_at_k(hits, n_rel, k)
        metrics[f"NDCG@{k}"] = M.ndcg_at_k(hits, n_rel, k)
        metrics[f"MAP@{k}"] = M.map_at_k(hits, n_rel, k)
    metrics["MRR"] = float((1.0 / (first + 1.0)).mean())
    if np.isfinite(auc_arr).any():
        metrics["AUC"] = float(np.nanmean(auc_arr))
    for k in ks:
        metrics[f"Coverage@{k}"] = float(covered[k].mean())
    name, params = _model_info(model)
    return EvalResult(
        protocol="full",
        metrics=metrics,
        n_users=int(len(eval_users)),
        n_test=int(n_rel.sum()),
        seconds=time.perf_counter() - t0,
        ties=ties,
        model=name,
        params=params,
        dataset=test.name if dataset is None else dataset,
    )


# ---------------------------------------------------------------------------- CV
def cross_validate(
    model_factory: Callable[[], Any],
    folds: Iterable[tuple[Interactions, Interactions]],
    evaluate: Callable[[Any, Interactions, Interactions], EvalResult] | None = None,
    *,
    dataset: str | None = None,
) -> EvalResult:
    """Fit a fresh model on each (train, test) fold and average the metrics.

    Parameters
    ----------
    model_factory : callable
        ``model_factory()`` returns a new, unfitted model (e.g. ``lambda: MF(k=20)``).
    folds : iterable of (train, test) Interactions pairs
        e.g. the ML-100k u1..u5 base/test files, all built on one id space.
    evaluate : callable, optional
        ``evaluate(model, train, test) -> EvalResult``. Default: evaluate_ratings for
        models with ``predicts_ratings``, otherwise evaluate_full(train=train).

    Returns
    -------
    EvalResult whose metrics are means over folds, ``std`` the sample standard
    deviations (ddof=1), ``folds`` the per-fold results, ``seconds`` the total time
    (fitting included), and protocol ``f"{fold protocol} cv({n})"``.
    """
    t0 = time.perf_counter()
    results: list[EvalResult] = []
    for n, fold in enumerate(folds):
        try:
            train, test = fold
        except (TypeError, ValueError):
            raise ValueError(
                f"folds[{n}] is not a (train, test) pair of Interactions"
            ) from None
        model = model_factory()
        model.fit(train)
        if evaluate is not None:
            res = evaluate(model, train, test)
        elif getattr(model, "predicts_ratings", False):
            res = evaluate_ratings(model, test)
        else:
            res = evaluate_full(model, test, train=train)
        if not isinstance(res, EvalResult):
            raise TypeError("evaluate must return an EvalResult")
        results.append(res)
    if len(results) < 2:
        raise ValueError(f"cross_validate needs at least 2 folds, got {len(results)}")
    keys = [k for k in results[0].metrics if all(k in r.metrics for r in results)]
    vals = {k: np.array([r.metrics[k] for r in results]) for k in keys}
    first = results[0]
    return EvalResult(
        protocol=f"{first.protocol} cv({len(results)})",
        metrics={k: float(v.mean()) for k, v in vals.items()},
        n_users=int(round(np.mean([r.n_users for r in results]))),
        n_test=int(sum(r.n_test for r in results)),
        seconds=time.perf_counter() - t0,
        ties=first.ties,
        model=first.model,
        params=first.params,
        dataset=first.dataset if dataset is None else dataset,
        std={k: float(v.std(ddof=1)) for k, v in vals.items()},
        folds=results,
    )
