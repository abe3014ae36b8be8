"""Accuracy and ranking metrics, vectorized over users, NumPy only.

Rating metrics take true and predicted ratings. Ranking metrics take a boolean *hit
matrix* ``hits`` of shape (n_users, K): ``hits[u, r]`` is True when the item that
user ``u``'s ranked list holds at rank ``r`` (0-based) is relevant, and
``n_relevant`` (n_users,): how many relevant items user ``u`` has in total (also
those that were not retrieved). Build them with :func:`hits_from_ranked` (ranked ids
and a relevant-items CSR) or :func:`hits_from_ranks` (the rank of every relevant
item); a sampled protocol uses :func:`rank_of_positive`.

Every ranking metric returns the mean over users as a float, or with
``per_user=True`` the (n_users,) array. ``k`` defaults to K (all columns of
``hits``); a smaller ``k`` truncates the lists. Ranks are 0-based in code and the
formulas below write them 1-based as ``rank`` = r + 1.

Definitions (per user; the reported value is the unweighted mean over users):

========================  ==========================================================
HR@k (hit rate)           1 if any of the top k is relevant, else 0
Precision@k               (number of relevant in the top k) / k
Recall@k                  (number of relevant in the top k) / n_relevant
NDCG@k                    DCG@k / IDCG@k, DCG@k = Σ_{r<k} hits[r] / log2(r + 2),
                          IDCG@k = Σ_{r<min(n_relevant, k)} 1 / log2(r + 2)
MRR (@k)                  1 / rank of the first relevant item (0 if none in the top k)
AP@k (MAP@k = mean)       (1 / min(n_relevant, k)) Σ_{r<k} hits[r] · Precision@(r+1)
AUC                       P(score of a positive > score of a negative), ties 1/2
Coverage                  |distinct recommended items| / n_items
========================  ==========================================================

Inputs are checked: shape mismatches, ``k <= 0`` or ``k > K``, NaN predictions and
users without relevant items (where a metric divides by ``n_relevant``) raise a
ValueError that names the argument at fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "rmse",
    "mae",
    "hit_rate_at_k",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "mrr",
    "map_at_k",
    "auc",
    "catalog_coverage",
    "rank_of_positive",
    "leave_one_out_metrics",
    "hits_from_ranked",
    "hits_from_ranks",
    "TIE_RULES",
]

#: how an item tied in score with others is ranked among them
TIE_RULES = ("pessimistic", "optimistic")


# ---------------------------------------------------------------------------- checks
def _float_array(name: str, x: Any, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if ndim is not None and a.ndim not in ndim:
        want = " or ".join(f"{d}-d" for d in ndim)
        raise ValueError(f"{name} must be {want}, got shape {a.shape}")
    if np.isnan(a).any():
        pos = np.argwhere(np.isnan(a))[0]
        where = int(pos[0]) if a.ndim == 1 else tuple(int(p) for p in pos)
        raise ValueError(
            f"{name} contains NaN (first at index {where}); the model produced NaN "
            "scores: check its training (lower lr / raise reg) before evaluating"
        )
    return a


def _check_hits(
    hits: Any, n_relevant: Any, k: int | None, need_relevant: bool
) -> tuple[np.ndarray, np.ndarray | None, int]:
    h = np.asarray(hits)
    if h.ndim != 2:
        raise ValueError(f"hits must be 2-d (n_users, K), got shape {h.shape}")
    if h.dtype != bool:
        if not np.issubdtype(h.dtype, np.number) or not np.isin(h, (0, 1)).all():
            raise ValueError(
                "hits must be boolean (or 0/1): hits[u, r] = rank r is a hit"
            )
        h = h.astype(bool)
    n_users, K = h.shape
    if n_users == 0:
        raise ValueError("hits has no users (shape[0] == 0); nothing to average")
    if k is None:
        k = K
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k={k!r}: must be a positive integer")
    k = int(k)
    if k > K:
        raise ValueError(
            f"k={k} is larger than the K={K} columns of hits; rank at least k items"
        )
    rel = None
    if n_relevant is None:
        if need_relevant:
            raise ValueError("n_relevant is required for this metric")
    else:
        rel = np.asarray(n_relevant)
        if rel.shape != (n_users,):
            raise ValueError(
                f"n_relevant has shape {rel.shape}, expected ({n_users},) to match hits"
            )
        if not np.issubdtype(rel.dtype, np.integer):
            if not np.issubdtype(rel.dtype, np.number) or np.any(rel != np.round(rel)):
                raise ValueError("n_relevant must hold integer counts")
            rel = rel.astype(np.int64)
        n_hit = h.sum(axis=1)
        bad = np.flatnonzero(rel < n_hit)
        if len(bad):
            u = int(bad[0])
            raise ValueError(
                f"n_relevant[{u}] = {int(rel[u])} but hits row {u} has {int(n_hit[u])} "
                "hits; n_relevant counts all relevant items of the user"
            )
        if need_relevant:
            zero = np.flatnonzero(rel <= 0)
            if len(zero):
                raise ValueError(
                    f"n_relevant[{int(zero[0])}] = 0: that user has no relevant item, "
                    "so the metric is undefined; drop users without test items first"
                )
    return h, rel, k


def _reduce(v: np.ndarray, per_user: bool) -> float | np.ndarray:
    return v if per_user else float(v.mean())


def _discounts(n: int) -> np.ndarray:
    """1 / log2(r + 2) for 0-based ranks r = 0..n-1."""
    return 1.0 / np.log2(np.arange(n, dtype=np.float64) + 2.0)


# ---------------------------------------------------------------------------- ratings
def _pair(y: Any, y_hat: Any) -> tuple[np.ndarray, np.ndarray]:
    a = _float_array("y", y, (1,))
    b = _float_array("y_hat", y_hat, (1,))
    if a.shape != b.shape:
        raise ValueError(f"y has shape {a.shape} but y_hat has shape {b.shape}")
    if len(a) == 0:
        raise ValueError("y is empty; nothing to evaluate")
    return a, b


def rmse(y: Any, y_hat: Any) -> float:
    """Root mean squared error, sqrt(1/N Σ (y - ŷ)²), over all N pairs."""
    a, b = _pair(y, y_hat)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mae(y: Any, y_hat: Any) -> float:
    """Mean absolute error, 1/N Σ |y - ŷ|, over all N pairs."""
    a, b = _pair(y, y_hat)
    return float(np.mean(np.abs(a - b)))


# ---------------------------------------------------------------------------- ranking
def hit_rate_at_k(
    hits: Any, n_relevant: Any = None, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """HR@k: 1 if any of the top-k items is relevant, else 0; mean over users.

    With one held-out item per user (leave-one-out) this equals Recall@k.
    """
    h, _, k = _check_hits(hits, n_relevant, k, need_relevant=False)
    return _reduce(h[:, :k].any(axis=1).astype(np.float64), per_user)


def precision_at_k(
    hits: Any, n_relevant: Any = None, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """Precision@k = |relevant ∩ top-k| / k (the denominator is always k)."""
    h, _, k = _check_hits(hits, n_relevant, k, need_relevant=False)
    return _reduce(h[:, :k].sum(axis=1) / k, per_user)


def recall_at_k(
    hits: Any, n_relevant: Any, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """Recall@k = |relevant ∩ top-k| / n_relevant (not min(n_relevant, k))."""
    h, rel, k = _check_hits(hits, n_relevant, k, need_relevant=True)
    return _reduce(h[:, :k].sum(axis=1) / rel, per_user)


def ndcg_at_k(
    hits: Any, n_relevant: Any, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """NDCG@k with binary gains.

    DCG@k = Σ_{r=0}^{k-1} hits[r] / log2(r + 2); IDCG@k is the DCG of an ideal list,
    Σ_{r=0}^{min(n_relevant, k)-1} 1 / log2(r + 2); NDCG@k = DCG@k / IDCG@k.
    """
    h, rel, k = _check_hits(hits, n_relevant, k, need_relevant=True)
    disc = _discounts(k)
    dcg = h[:, :k] @ disc
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(rel, k)]
    return _reduce(dcg / idcg, per_user)


def mrr(
    hits: Any, n_relevant: Any = None, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """Mean reciprocal rank: 1 / (r + 1) for the first hit at 0-based rank r < k,
    0 when none of the top k is relevant (MRR@k). With ``k=None`` all K columns count;
    an exact, uncut MRR needs hits over the whole ranking (or the ranks themselves,
    as :func:`minirec.evaluation.evaluate_sampled` uses)."""
    h, _, k = _check_hits(hits, n_relevant, k, need_relevant=False)
    hk = h[:, :k]
    first = hk.argmax(axis=1)
    rr = np.where(hk.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _reduce(rr, per_user)


def map_at_k(
    hits: Any, n_relevant: Any, k: int | None = None, *, per_user: bool = False
) -> float | np.ndarray:
    """MAP@k: mean over users of AP@k = (1 / min(n_relevant, k)) Σ_{r<k} hits[r] ·
    Precision@(r+1), where Precision@(r+1) = (hits in ranks 0..r) / (r + 1)."""
    h, rel, k = _check_hits(hits, n_relevant, k, need_relevant=True)
    hk = h[:, :k].astype(np.float64)
    prec = np.cumsum(hk, axis=1) / np.arange(1, k + 1)
    ap = (hk * prec).sum(axis=1) / np.minimum(rel, k)
    return _reduce(ap, per_user)


def auc(
    pos_scores: Any, neg_scores: Any, *, per_user: bool = False
) -> float | np.ndarray:
    """Per-user AUC, averaged over users.

    AUC_u = 1/(|P_u| |N_u|) Σ_{i∈P_u} Σ_{j∈N_u} ( 1[s_i > s_j] + ½ 1[s_i = s_j] ):
    the chance that a random positive outscores a random negative, ties counting one
    half (so a constant scorer gets exactly 0.5).

    Parameters
    ----------
    pos_scores : array, shape (n_users,) or (n_users, p)
        Scores of each user's positive item(s).
    neg_scores : array, shape (n_users, m)
        Scores of each user's negative items.
    """
    pos = _float_array("pos_scores", pos_scores, (1, 2))
    neg = _float_array("neg_scores", neg_scores, (2,))
    if pos.ndim == 1:
        pos = pos[:, None]
    if pos.shape[0] != neg.shape[0]:
        raise ValueError(
            f"pos_scores has {pos.shape[0]} users but neg_scores has {neg.shape[0]}"
        )
    if pos.shape[0] == 0 or pos.shape[1] == 0 or neg.shape[1] == 0:
        raise ValueError(
            f"auc needs at least one user, positive and negative; got pos_scores "
            f"{pos.shape}, neg_scores {neg.shape}"
        )
    # sort the negatives once per user; count them below / equal to each positive
    neg_sorted = np.sort(neg, axis=1)
    m = neg.shape[1]
    below = np.empty(pos.shape)
    equal = np.empty(pos.shape)
    for u in range(pos.shape[0]):
        lo = np.searchsorted(neg_sorted[u], pos[u], side="left")
        hi = np.searchsorted(neg_sorted[u], pos[u], side="right")
        below[u] = lo
        equal[u] = hi - lo
    per = ((below + 0.5 * equal) / m).mean(axis=1)
    return _reduce(per, per_user)


def catalog_coverage(recommended_ids: Any, n_items: int) -> float:
    """Catalog coverage = |distinct ids in recommended_ids| / n_items.

    ``recommended_ids`` is any array of internal item indices in [0, n_items) (e.g.
    the (n_users, k) top-k lists); entries < 0 (padding) are ignored.
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)):
        raise ValueError(f"n_items={n_items!r}: must be a positive integer")
    if n_items <= 0:
        raise ValueError(f"n_items={n_items!r}: must be a positive integer")
    ids = np.asarray(recommended_ids).ravel()
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"recommended_ids must be integer item indices, got dtype {ids.dtype}"
        )
    ids = ids[ids >= 0]
    if ids.size and ids.max() >= n_items:
        raise ValueError(
            f"recommended_ids holds item {int(ids.max())} but n_items={n_items}; pass "
            "internal item indices"
        )
    return float(len(np.unique(ids)) / n_items)


# ---------------------------------------------------------------------------- ranks
def rank_of_positive(
    pos_scores: Any,
    neg_scores: Any,
    ties: str = "pessimistic",
    valid: Any = None,
) -> np.ndarray:
    """0-based rank of each user's positive among its negatives (sampled protocols).

    rank_u = #{j : s_j > s_pos} + #{j : s_j = s_pos}   (ties="pessimistic")
    rank_u = #{j : s_j > s_pos}                          (ties="optimistic")

    Pessimistic puts the positive after every negative with an equal score, so a
    model that gives every item the same score ranks the positive last (HR@k = 0
    for k <= m), never first. Optimistic is the upper bound; the truth for a random
    tie break lies between.

    Parameters
    ----------
    pos_scores : array (n,)
    neg_scores : array (n, m)
    ties : "pessimistic" | "optimistic"
    valid : bool array (n, m), optional
        False marks negatives to ignore (e.g. a "negative" equal to the positive).

    Returns
    -------
    int64 array (n,)
    """
    if ties not in TIE_RULES:
        raise ValueError(f"ties={ties!r}; choose one of {TIE_RULES}")
    pos = _float_array("pos_scores", pos_scores, (1,))
    neg = _float_array("neg_scores", neg_scores, (2,))
    if neg.shape[0] != pos.shape[0]:
        raise ValueError(
            f"pos_scores has {pos.shape[0]} entries but neg_scores has "
            f"{neg.shape[0]} rows; pass one row of negatives per positive"
        )
    beats = neg > pos[:, None]
    if ties == "pessimistic":
        beats |= neg == pos[:, None]
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        if v.shape != neg.shape:
            raise ValueError(f"valid has shape {v.shape}, expected {neg.shape}")
        beats &= v
    return beats.sum(axis=1).astype(np.int64)


def leave_one_out_metrics(
    ranks: Any, ks: Any = (10,), mrr_k: int | None = None
) -> dict[str, float]:
    """HR@k, NDCG@k (each k) and MRR from the 0-based rank of one relevant item per
    case (leave-one-out, sampled or full; session-based next-item prediction).

    HR@k = mean 1[r < k]; NDCG@k = mean 1[r < k] / log2(r + 2) (IDCG = 1 with one
    relevant item); MRR = mean 1 / (r + 1), or MRR@mrr_k = mean 1[r < mrr_k] /
    (r + 1) (key ``"MRR@{mrr_k}"``), as GRU4Rec reports it.
    """
    r = np.asarray(ranks)
    if r.ndim != 1 or len(r) == 0:
        raise ValueError(f"ranks must be a non-empty 1-d array, got shape {r.shape}")
    if not np.issubdtype(r.dtype, np.integer) or (r < 0).any():
        raise ValueError("ranks must be integer 0-based ranks (>= 0)")
    r = r.astype(np.float64)
    if isinstance(ks, (int, np.integer)):
        ks = (ks,)
    out: dict[str, float] = {}
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"ks={ks!r}: every cut-off must be a positive integer")
        hit = r < k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(r + 2.0), 0.0).mean())
    if mrr_k is None:
        out["MRR"] = float((1.0 / (r + 1.0)).mean())
    else:
        if isinstance(mrr_k, bool) or not isinstance(mrr_k, (int, np.integer)):
            raise ValueError(f"mrr_k={mrr_k!r}: must be a positive integer")
        if mrr_k <= 0:
            raise ValueError(f"mrr_k={mrr_k!r}: must be a positive integer")
        out[f"MRR@{mrr_k}"] = float(np.where(r < mrr_k, 1.0 / (r + 1.0), 0.0).mean())
    return out


def hits_from_ranks(ranks: Any, indptr: Any, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Hit matrix from the 0-based rank of every relevant item.

    ``ranks[indptr[u]:indptr[u+1]]`` are the ranks of user u's relevant items in
    its full ranking (distinct). Returns ``(hits (n_users, K) bool, n_relevant)``.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    indptr = np.asarray(indptr, dtype=np.int64)
    K = int(K)
    if K <= 0:
        raise ValueError(f"K={K}: must be a positive integer")
    if indptr.ndim != 1 or len(indptr) < 1 or indptr[-1] != len(ranks):
        raise ValueError("indptr must be 1-d with indptr[-1] == len(ranks)")
    n_users = len(indptr) - 1
    n_rel = np.diff(indptr)
    owner = np.repeat(np.arange(n_users), n_rel)
    hits = np.zeros((n_users, K), dtype=bool)
    keep = (ranks >= 0) & (ranks < K)
    hits[owner[keep], ranks[keep]] = True
    return hits, n_rel


def hits_from_ranked(
    ranked: Any, indptr: Any, indices: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Hit matrix from top-K lists and the relevant items as CSR.

    Parameters
    ----------
    ranked : int array (n_users, K)
        Item indices, best first; negative entries are padding (never a hit).
    indptr, indices : CSR of the relevant items
        User u's relevant items are ``indices[indptr[u]:indptr[u+1]]`` (e.g.
        ``test.by_user.indptr, test.by_user.indices``); duplicates count once.

    Returns
    -------
    hits : bool array (n_users, K)
    n_relevant : int64 array (n_users,)
    """
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or not np.issubdtype(ranked.dtype, np.integer):
        raise ValueError(
            f"ranked must be a 2-d integer array of item indices, got shape "
            f"{ranked.shape} dtype {ranked.dtype}"
        )
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    n_users = ranked.shape[0]
    if indptr.shape != (n_users + 1,):
        raise ValueError(
            f"indptr has shape {indptr.shape}, expected ({n_users + 1},) for "
            f"{n_users} ranked lists"
        )
    if indptr[-1] != len(indices):
        raise ValueError("indptr[-1] must equal len(indices)")
    owner = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(indptr))
    width = int(max(ranked.max(initial=0), indices.max(initial=0))) + 1
    rel_keys = np.unique(owner * width + indices)
    n_relevant = np.bincount(rel_keys // width, minlength=n_users).astype(np.int64)
    keys = np.arange(n_users, dtype=np.int64)[:, None] * width + ranked
    hits = np.isin(keys, rel_keys) & (ranked >= 0)
    return hits, n_relevant
