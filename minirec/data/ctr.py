"""The click-through-rate (CTR) task built from MovieLens (doc 002 §2.1, doc 004 §2).

MovieLens has ratings, not clicks; the usual stand-in (DeepFM/xDeepFM tutorials, doc
004's "CTR prediction") calls a rating of at least ``threshold`` (default 4) a click
(label 1) and any lower rating a non-click (label 0). On ML-1M that makes 57.5%
positives. Each example keeps its user and item, so a model can use the fields
user, item, gender, age, occupation and genres
(:func:`minirec.data.features.build_fm_fields`).

:func:`ctr_task` splits the labelled ratings at random (seeded) into train and test;
:func:`evaluate_ctr` measures AUC (one global ranking of the test examples, ties
counted one half) and logloss of a model's click probabilities.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import DataError
from .interactions import Interactions
from .split import random_split

__all__ = ["CTRTask", "to_clicks", "ctr_task", "evaluate_ctr", "global_auc", "logloss"]


class CTRTask(NamedTuple):
    """Train and test Interactions whose ``ratings`` are the 0/1 click labels."""

    train: Interactions
    test: Interactions
    threshold: float
    positive_rate: float


def to_clicks(data: Interactions, threshold: float = 4.0) -> Interactions:
    """`data` with each rating replaced by 1.0 (rating >= `threshold`) or 0.0; id
    maps and side tables are kept."""
    if data.implicit:
        raise DataError(
            f"{data.name or 'data'} is implicit feedback (no ratings to threshold); "
            "the CTR task needs explicit ratings such as MovieLens"
        )
    y = (data.ratings >= threshold).astype(np.float32)
    return Interactions(
        data.users,
        data.items,
        y,
        data.timestamps,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        user_features=data.user_features,
        item_features=data.item_features,
        name=f"{data.name or 'data'} clicks (rating >= {threshold:g})",
        implicit=False,
    )


def ctr_task(
    data: Interactions,
    test_fraction: float = 0.2,
    seed: int = 0,
    threshold: float = 4.0,
) -> CTRTask:
    """Label the ratings of `data` as clicks and split them at random.

    Parameters
    ----------
    data : Interactions
        Explicit ratings (ML-1M via ``load_movielens("ml-1m")`` brings the user and
        item tables the fields come from).
    test_fraction : float
        Share of the examples held out.
    seed : int
    threshold : float
        Ratings >= threshold are clicks.
    """
    clicks = to_clicks(data, threshold)
    train, test = random_split(clicks, test_fraction, seed=seed)
    return CTRTask(train, test, float(threshold), float(clicks.ratings.mean()))


def global_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve over all examples (Mann-Whitney, ties ½)."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be equal 1-d")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative example")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    # average ranks (1-based) over ties
    new = np.concatenate([[True], ss[1:] != ss[:-1]])
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [len(ss)]])
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def logloss(labels: Any, probs: Any, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy −[y log p + (1 − y) log(1 − p)] (p clipped)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def evaluate_ctr(model: Any, test: Interactions) -> dict:
    """AUC and logloss of ``model.predict_pairs`` (click probabilities) on `test`,
    whose ratings are 0/1 labels (from :func:`ctr_task`)."""
    y = test.ratings
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError(
            "evaluate_ctr: test ratings must be 0/1 click labels; build the split "
            "with minirec.data.ctr.ctr_task"
        )
    p = np.asarray(model.predict_pairs(test.users, test.items), dtype=np.float64)
    if np.isnan(p).any():
        raise ValueError(f"{type(model).__name__} predicted NaN probabilities")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"{type(model).__name__}.predict_pairs returned values outside [0, 1]; "
            "evaluate_ctr needs click probabilities"
        )
    return {"AUC": global_auc(y, p), "logloss": logloss(y, p)}
