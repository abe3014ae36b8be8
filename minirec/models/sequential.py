"""The base of the sequence models: the estimator API of :mod:`.base`, plus
next-item scoring of prefixes.

Session / sequence models read the items a session (or a user, in time order) has
clicked so far -- a *prefix* -- and score every item as the *next* one.
:class:`SequentialRecommender` is a :class:`~minirec.models.base.Recommender`, so
they are registered, saved, loaded, cloned and driven by the CLI like every model:

* ``fit(data, *, on_epoch=None) -> self``: `data` is an
  :class:`~minirec.data.Interactions` (one sequence per user, by timestamp, e.g.
  ``load_sasrec``; the item catalog is the data set's items), a
  :class:`minirec.data.Sessions`, a list of 1-d sequences of raw item ids or a
  pandas DataFrame in the session-rec format (columns ``SessionId``, ``ItemId`` and
  optionally ``Time``); for these the catalog is every item of the kept training
  sequences.
* ``score_next(prefixes) -> (n, n_items)`` float32 scores, columns in the order of
  ``item_ids_`` (raw ids); ``recommend_next(prefixes, n=10, filter_seen=False) ->
  (ids (len, n) raw, scores (len, n))``, best first.
* ``recommend(users, n)`` (users of an Interactions fit): the next items after each
  user's training history; ``recommend(users, user_items=[...])`` continues the
  given histories instead (fold-in is free: a sequence model's user state is its
  history). A user's seen items (``filter_seen``) are its history.

Bad input, the stated policy (tested in tests/models/test_session_baselines.py):

* Training: an empty sequence or one of length 1 gives no (prefix, next item) pair;
  it is dropped and counted in ``n_dropped_``. If no sequence of length >= 2 is left,
  ``fit`` raises DataError.
* Prediction: an item id not in the training catalog is skipped in a prefix
  (``unknown="skip"``, the default, as session-rec filters test items unseen in
  training) or raises :class:`~minirec.errors.UnknownIdError` (``unknown="raise"``). A
  prefix that is empty (or holds only unknown items) raises ValueError naming its
  position: there is no "current item" to continue from.
* ``n <= 0`` or ``n > n_items`` raises ValueError, as in ``recommend``.
* Internal item indices passed to the ``_score_*`` methods are range-checked
  (IndexError naming the bad id).

A subclass implements ``_fit_sequences(indptr, items)`` (training sequences as CSR of
internal item indices, every sequence of length >= 2; iterative models also take
``on_epoch``) and ``_score_prefixes(prefixes) -> (len, n_items)``; optionally
``_score_positions`` (scores after every prefix of whole sequences, in one pass),
``_state()`` / ``_set_state()`` and ``_meta_extra()``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._utils import check_positive_int
from ..data.interactions import CSR, Interactions
from ..data.sequences import as_sequences
from ..errors import DataError, UnknownIdError
from .base import Recommender, top_k

__all__ = ["SequentialRecommender", "as_sequences"]


def _to_csr(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(indptr int64, items int32) of a list of internal-index sequences."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    items = (
        np.concatenate(seqs).astype(np.int32) if seqs else np.zeros(0, dtype=np.int32)
    )
    return indptr, items


class SequentialRecommender(Recommender):
    """Base class of the session / sequence models (see the module docstring)."""

    name = "seq-base"

    # ------------------------------------------------------------------ fitting
    def fit(
        self, data: Any, *, valid: Any = None, on_epoch: Any = None
    ) -> SequentialRecommender:
        """Fit on training sequences (see the module docstring for the forms of
        `data`). Sequences shorter than 2 are dropped (counted in ``n_dropped_``)."""
        kw = self._fit_kwargs(valid, on_epoch)
        seqs = as_sequences(data, "sequences")
        keep = [s for s in seqs if len(s) >= 2]
        self.n_dropped_ = len(seqs) - len(keep)
        if not keep:
            raise DataError(
                f"{type(self).__name__}.fit: no sequence has 2 or more items "
                f"({len(seqs)} given); a next-item model needs at least one "
                "(item, next item) pair"
            )
        if isinstance(data, Interactions):
            self.item_ids_ = np.asarray(data.item_ids)
            self.user_ids_ = np.asarray(data.user_ids)
            titles = data.item_titles
        else:
            self.item_ids_ = np.unique(np.concatenate(keep))
            self.user_ids_ = self.item_ids_[:0].astype(np.int64)
            titles = None
        self._lookups = (None, None)
        internal = [self._encode(s) for s in keep]
        indptr, items = _to_csr(internal)
        n_items = len(self.item_ids_)
        self.item_popularity_ = np.bincount(items, minlength=n_items).astype(np.float32)
        if isinstance(data, Interactions):
            # a user's history, in time order, is its seen items
            h_indptr, h_items = _to_csr([self._encode(s) for s in seqs])
        else:
            h_indptr, h_items = np.zeros(1, np.int64), np.zeros(0, np.int32)
        self._seen = CSR(
            h_indptr,
            h_items,
            np.ones(len(h_items), np.float32),
            np.arange(len(h_items)),
        )
        self.global_mean_ = 1.0
        self.item_mean_ = np.ones(n_items, dtype=np.float32)
        self.item_titles_ = None if titles is None else np.asarray(titles).astype(str)
        self.fit_info_ = {}
        self._fit_sequences(indptr, items, **kw)
        return self

    def _fit_sequences(self, indptr: np.ndarray, items: np.ndarray, **kw) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _fit_sequences"
        )

    def _encode(self, s: np.ndarray) -> np.ndarray:
        """Internal indices (int32) of raw ids known to be in the catalog."""
        return np.searchsorted(self.item_ids_, s).astype(np.int32)

    # ------------------------------------------------------------------ ids
    def item_index(
        self, items: Any, missing: str = "raise", *, unknown: str | None = None
    ) -> np.ndarray:
        """Internal indices of raw item ids. ``unknown="skip"`` drops ids not in the
        catalog (the prefix policy), ``unknown="raise"`` raises UnknownIdError;
        without `unknown`, as :meth:`Recommender.item_index` (``missing``)."""
        if unknown is None:
            return super().item_index(items, missing)
        if unknown not in ("raise", "skip"):
            raise ValueError(f"unknown={unknown!r}: choose 'raise' or 'skip'")
        self._check_fitted()
        a = np.atleast_1d(np.asarray(items))
        if a.dtype == object:
            a = a.astype(str)
        if a.size == 0:
            return np.zeros(0, dtype=np.int32)
        try:
            pos = np.searchsorted(self.item_ids_, a)
        except TypeError:
            raise UnknownIdError(
                f"item ids of dtype {a.dtype} cannot be compared with the training "
                f"item ids (dtype {self.item_ids_.dtype})"
            ) from None
        pos = np.minimum(pos, self.n_items - 1)
        ok = self.item_ids_[pos] == a
        if not ok.all():
            if unknown == "raise":
                raise UnknownIdError(
                    f"item {a[~ok][0]!r} was not in the training sequences; pass "
                    "unknown='skip' to drop unknown items from a prefix"
                )
            pos = pos[ok]
        return pos.astype(np.int32)

    def _encode_prefixes(self, prefixes: Any, unknown: str) -> list[np.ndarray]:
        seqs = as_sequences(prefixes, "prefixes")
        out = []
        for k, s in enumerate(seqs):
            idx = self.item_index(s, unknown=unknown)
            if len(idx) == 0:
                why = "is empty" if len(s) == 0 else "holds only unknown items"
                raise ValueError(
                    f"prefixes[{k}] {why}; a next-item model needs at least one known "
                    "item to continue from (fall back to popularity for new sessions)"
                )
            out.append(idx)
        return out

    def _check_internal(self, seqs: list[np.ndarray]) -> None:
        for k, s in enumerate(seqs):
            if len(s) == 0:
                raise ValueError(f"sequence {k} is empty")
            lo, hi = int(np.min(s)), int(np.max(s))
            if lo < 0 or hi >= self.n_items:
                bad = lo if lo < 0 else hi
                raise IndexError(
                    f"sequence {k}: item index {bad} out of range 0..{self.n_items - 1}"
                    "; map raw ids with item_index() first"
                )

    # ------------------------------------------------------------------ scoring
    def score_next(self, prefixes: Any, unknown: str = "skip") -> np.ndarray:
        """Scores (len(prefixes), n_items) of every catalog item as the next item."""
        self._check_fitted()
        seqs = self._encode_prefixes(prefixes, unknown)
        if not seqs:
            return np.zeros((0, self.n_items), dtype=np.float32)
        return np.asarray(self._score_prefixes(seqs), dtype=np.float32)

    def recommend_next(
        self,
        prefixes: Any,
        n: int = 10,
        filter_seen: bool = False,
        unknown: str = "skip",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` next items of each prefix: (raw ids (len, n), scores (len, n)).

        ``filter_seen`` removes the prefix's own items (off by default: in sessions
        users often re-click an item they just saw)."""
        self._check_fitted()
        n = check_positive_int("n", n)
        if n > self.n_items:
            raise ValueError(
                f"n={n} is larger than the number of items ({self.n_items:,})"
            )
        seqs = self._encode_prefixes(prefixes, unknown)
        if not seqs:
            return self.item_ids_[:0].reshape(0, n), np.zeros((0, n), np.float32)
        s = np.asarray(self._score_prefixes(seqs), dtype=np.float32)
        if filter_seen:
            s = s.copy()
            for r, q in enumerate(seqs):
                s[r, q] = -np.inf
        top = top_k(s, n)
        return self.item_ids_[top], np.take_along_axis(s, top, axis=1)

    def predict_next(
        self, prefixes: Any, n: int = 10, exclude_seen: bool = False, **kw
    ) -> tuple[np.ndarray, np.ndarray]:
        """Deprecated name of :meth:`recommend_next` (``exclude_seen`` is now
        ``filter_seen``)."""
        warnings.warn(
            "predict_next(exclude_seen=...) is deprecated; use "
            "recommend_next(filter_seen=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.recommend_next(prefixes, n, filter_seen=exclude_seen, **kw)

    def _score(self, u: np.ndarray) -> np.ndarray:
        """Next-item scores after each user's history (popularity for none)."""
        out = np.empty((len(u), self.n_items), dtype=np.float32)
        hist = [self._seen.row(int(uu)) for uu in u]
        has = np.array([len(h) > 0 for h in hist], dtype=bool)
        if has.any():
            out[has] = self._score_prefixes([h for h in hist if len(h)])
        out[~has] = self.item_popularity_
        return out

    def _fold_in(self, u: np.ndarray, rows: CSR) -> None:
        """Nothing to compute: a sequence model's user state is its history, which
        fold_in stores as the user's seen items (in the order given)."""

    def fold_in(self, users: Any, items: Any, ratings: Any = None):
        """As :meth:`Recommender.fold_in`; the pairs of each user are its history
        in the order given (not sorted)."""
        return self._fold_in_ordered(users, items, ratings)

    def _fold_in_ordered(self, users, items, ratings):
        users = np.atleast_1d(np.asarray(users))
        items = np.atleast_1d(np.asarray(items))
        super().fold_in(users, items, ratings)
        # fold_in sorts each user's items; restore the given order
        idx = self.item_index(items)
        uniq = np.unique(users)
        u = self.user_index(uniq)
        seqs = {int(k): idx[users == v] for k, v in zip(u, uniq)}
        n = len(self.user_ids_)
        rows = [seqs.get(r, self._seen.row(r)) for r in range(n)]
        indptr, flat = _to_csr(rows)
        self._seen = CSR(
            indptr, flat, np.ones(len(flat), np.float32), np.arange(len(flat))
        )
        return self

    def _score_prefixes(self, prefixes: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _score_positions(self, seqs: list[np.ndarray]) -> np.ndarray:
        """Scores after every proper prefix of every sequence: row r of sequence s
        (len L) is the score vector after s[:r+1], r = 0..L-2; rows concatenated."""
        prefixes = [s[: r + 1] for s in seqs for r in range(len(s) - 1)]
        if not prefixes:
            return np.zeros((0, self.n_items), dtype=np.float32)
        return self._score_prefixes(prefixes)

    def _pop_tiebreak(self) -> np.ndarray:
        p = self.item_popularity_
        return (p / (p.max() + 1.0)).astype(np.float32)

    # ------------------------------------------------------------------ saving
    def _meta_extra(self) -> dict:
        return {
            "n_dropped": int(self.n_dropped_),
            "history": getattr(self, "history_", []),
        }

    def _set_meta_extra(self, extra: dict) -> None:
        self.n_dropped_ = int(extra.get("n_dropped", 0))
        self.history_ = list(extra.get("history", []))


def load_legacy_seqmodel(model_cls: type, arrays: dict, meta: dict) -> Any:
    """A sequence model from a file of the retired "minirec-seqmodel" format (its
    own item ids, popularity, state arrays and parameters; no users)."""
    params = {model_cls.renamed_params.get(k, k): v for k, v in meta["params"].items()}
    model = model_cls(**params)
    model.item_ids_ = arrays["__item_ids__"]
    model.user_ids_ = model.item_ids_[:0].astype(np.int64)
    model._lookups = (None, None)
    model.item_popularity_ = arrays["__item_popularity__"]
    n_items = len(model.item_ids_)
    model.global_mean_ = 1.0
    model.item_mean_ = np.ones(n_items, dtype=np.float32)
    model.item_titles_ = None
    model._seen = CSR(
        np.zeros(1, np.int64),
        np.zeros(0, np.int32),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
    )
    model.fit_info_ = {}
    model._set_state({k[6:]: v for k, v in arrays.items() if k.startswith("state/")})
    extra = meta.get("extra", {})
    model.n_dropped_ = int(meta.get("n_dropped", 0))
    model.history_ = [
        {"epoch": e + 1, "loss": float(v)}
        for e, v in enumerate(extra.get("loss_history", []))
    ]
    return model
