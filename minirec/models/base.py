"""The estimator API every minirec model shares.

``fit(data) -> self``, ``predict(users, items)``, ``recommend(users, n,
filter_seen=True) -> (ids, scores)``, ``similar_items(items, n)``, ``save(path)`` and
``Recommender.load(path)``. Users and items are given and returned as *raw* ids (the
ids of the files); models work on internal indices.

A subclass implements

* ``_fit(data)``: learn from an :class:`~minirec.data.Interactions`;
* ``_score(u)``: scores of every item for internal users ``u``, shape (len(u), n_items);
* optionally ``_predict_pairs(u, i)`` (defaults to gathering from ``_score``) and
  ``_item_vectors()`` (for :meth:`similar_items`);
* ``_state()`` -> dict of arrays and ``_set_state(state)`` for save/load.

Model files are one ``.npz`` (written atomically, read with ``allow_pickle=False``)
holding the state arrays, the id maps, the seen-item CSR and a JSON metadata string
(format, version, class, hyperparameters). Nothing in a model file is ever executed.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import io
import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._utils import atomic_write_bytes, check_positive_int, did_you_mean
from ..data.interactions import CSR, Interactions
from ..errors import ModelFileError, NotFittedError, UnknownIdError
from . import _serving

FORMAT = "minirec-model"
FORMAT_VERSION = 1
#: the retired format of the sequence models' own files, still read
LEGACY_SEQ_FORMAT = "minirec-seqmodel"
#: (row, item) scores held at once by predict() and similar_*(), and the bound
#: of recommend()'s blocks (with _serving.CHUNK_CELLS): 64 MiB of float32, so
#: memory does not grow with the number of users asked
_SCORE_CELLS = 1 << 24


def _storable(a: np.ndarray) -> np.ndarray:
    """Id arrays as a dtype that loads with allow_pickle=False."""
    a = np.asarray(a)
    if a.dtype == object:
        return a.astype(str)
    return a


class Recommender:
    """Base class of every model; see the module docstring for the contract."""

    #: short name used by the CLI and the registry (e.g. ``"mf"``)
    name: ClassVar[str] = "base"
    #: True for models that predict ratings (RMSE makes sense), False for rankers
    predicts_ratings: ClassVar[bool] = False
    # hyperparameters renamed since a model file may have been saved: old -> new
    renamed_params: ClassVar[dict[str, str]] = {}

    # ------------------------------------------------------------------ params
    def __init_subclass__(cls, **kwargs):
        """Old hyperparameter names (``renamed_params``) keep working in the
        constructor, with a DeprecationWarning naming the new one."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_renames_params", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            renamed = type(self).renamed_params
            for old in [k for k in kw if k in renamed]:
                new = renamed[old]
                warnings.warn(
                    f"{type(self).__name__}({old}=...) is deprecated; it is now "
                    f"called {new}",
                    DeprecationWarning,
                    stacklevel=2,
                )
                if new in kw:
                    raise TypeError(
                        f"{type(self).__name__}: pass {new} only, not {old} too"
                    )
                kw[new] = kw.pop(old)
            init(self, *args, **kw)

        __init__._renames_params = True
        cls.__init__ = __init__

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            k
            for k, p in sig.parameters.items()
            if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict:
        """Hyperparameters: the constructor's keyword arguments and their values.

        With ``deep`` the parameters of a parameter that is itself a model (e.g. a
        pre-trained start) are included as ``name__param``, as scikit-learn's
        ``clone`` expects."""
        out = {k: getattr(self, k) for k in self._param_names() if hasattr(self, k)}
        if deep:
            for k, v in list(out.items()):
                if isinstance(v, Recommender):
                    out.update({f"{k}__{kk}": vv for kk, vv in v.get_params().items()})
        return out

    def set_params(self, **params) -> Recommender:
        """Set hyperparameters (validated as the constructor validates them) and
        return self; unknown names raise ValueError with the closest valid name."""
        names = self._param_names()
        nested: dict[str, dict] = {}
        for k in list(params):
            if "__" in k:
                head, _, rest = k.partition("__")
                nested.setdefault(head, {})[rest] = params.pop(k)
        for k in list(params) + list(nested):
            if k not in names:
                raise ValueError(
                    f"{type(self).__name__} has no hyperparameter {k!r}"
                    f"{did_you_mean(k, names)}; its hyperparameters are "
                    f"{', '.join(names)}"
                )
        merged = {**self.get_params(deep=False), **params}
        fresh = type(self)(**merged)  # validates every value
        for k in names:
            if hasattr(fresh, k):
                setattr(self, k, getattr(fresh, k))
        for k, sub in nested.items():
            getattr(self, k).set_params(**sub)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fit
    #: True for models trained in passes over the data: ``fit(on_epoch=...)``
    #: calls ``on_epoch(model, epoch, record)`` after each pass, and ``_fit``
    #: takes the ``on_epoch`` keyword
    iterative: ClassVar[bool] = False
    #: True for models that select epochs on validation cases: ``fit(valid=...)``
    #: is passed on to ``_fit(data, valid=...)``
    accepts_valid: ClassVar[bool] = False

    def fit(self, data: Any, *, valid: Any = None, on_epoch: Any = None) -> Recommender:
        """Learn from `data` and return self.

        Parameters
        ----------
        data : Interactions or scipy.sparse matrix
            The training interactions; a sparse users x items matrix (as
            ``implicit`` takes it) is read with :meth:`Interactions.from_csr`.
        valid : optional
            Validation cases, for models with ``accepts_valid`` (see the model).
        on_epoch : callable, optional
            ``on_epoch(model, epoch, record)`` after every epoch of an iterative
            model (``record`` is the dict appended to ``history_``).
        """
        kw = self._fit_kwargs(valid, on_epoch)
        data = _as_interactions(data)
        if len(data) == 0:
            raise ValueError("fit(): the training data is empty")
        self.user_ids_ = data.user_ids
        self.item_ids_ = data.item_ids
        self._seen = data.by_user
        self._lookups = (None, None)
        counts = data.item_counts()
        self.item_popularity_ = counts.astype(np.float32)
        self.global_mean_ = float(data.ratings.mean())
        sums = np.bincount(data.items, weights=data.ratings, minlength=data.n_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.item_mean_ = np.where(
                counts > 0, sums / np.maximum(counts, 1), self.global_mean_
            ).astype(np.float32)
        titles = data.item_titles
        self.item_titles_ = None if titles is None else np.asarray(titles).astype(str)
        self.fit_info_ = {}
        self._fit(data, **kw)
        return self

    def _fit_kwargs(self, valid: Any, on_epoch: Any) -> dict[str, Any]:
        """The keywords fit passes on to ``_fit``, checked against the flags."""
        kw: dict[str, Any] = {}
        if valid is not None:
            if not self.accepts_valid:
                raise TypeError(
                    f"{type(self).__name__}.fit() takes no valid=...: it does not "
                    "select on validation cases"
                )
            kw["valid"] = valid
        if on_epoch is not None:
            if not self.iterative:
                raise TypeError(
                    f"{type(self).__name__} fits in one pass, it has no epochs for "
                    "on_epoch to report"
                )
            if not callable(on_epoch):
                raise TypeError("on_epoch must be callable(model, epoch, record)")
            kw["on_epoch"] = on_epoch
        return kw

    def _fit(self, data: Interactions) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _fit")

    def _check_fitted(self) -> None:
        if not hasattr(self, "user_ids_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(data) or load a "
                "saved model with Recommender.load(path)"
            )

    @property
    def n_users(self) -> int:
        self._check_fitted()
        return len(self.user_ids_)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.item_ids_)

    # ------------------------------------------------------------------ ids
    def _index(self, which: str, raw: Any, missing: str = "raise") -> np.ndarray:
        self._check_fitted()
        ids = self.user_ids_ if which == "user" else self.item_ids_
        k = 0 if which == "user" else 1
        if self._lookups[k] is None:
            lk = list(self._lookups)
            lk[k] = {v: n for n, v in enumerate(ids.tolist())}
            self._lookups = tuple(lk)
        table = self._lookups[k]
        kind = type(ids.tolist()[0]) if len(ids) else str
        out = np.empty(len(raw), dtype=np.int64)
        for n, v in enumerate(np.asarray(raw).tolist()):
            idx = table.get(v)
            if idx is None:
                try:
                    idx = table.get(kind(v))
                except (TypeError, ValueError):
                    idx = None
            if idx is None:
                if missing == "raise":
                    hint = (
                        "; pass unknown='popular' to recommend popular items to "
                        "new users"
                        if which == "user"
                        else ""
                    )
                    raise UnknownIdError(
                        f"unknown {which} id {v!r}: the model was trained on "
                        f"{len(ids):,} {which}s and this is not one of them{hint}"
                    )
                idx = -1
            out[n] = idx
        return out

    def user_index(self, users: Any, missing: str = "raise") -> np.ndarray:
        """Internal indices of raw user ids (-1 for unknown with missing='ignore')."""
        return self._index("user", np.atleast_1d(users), missing)

    def item_index(self, items: Any, missing: str = "raise") -> np.ndarray:
        """Internal indices of raw item ids (-1 for unknown with missing='ignore')."""
        return self._index("item", np.atleast_1d(items), missing)

    # ------------------------------------------------------------------ scoring
    def _score(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _score")

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The pairs' entries of `_score`, for blocks of distinct users at a time
        (at most _SCORE_CELLS scores), the pairs grouped by user once."""
        out = np.empty(len(u), dtype=np.float32)
        order = np.argsort(u, kind="stable")
        users, first = np.unique(u[order], return_index=True)
        bounds = np.append(first, len(u))
        step = max(1, _SCORE_CELLS // max(self.n_items, 1))
        for a in range(0, len(users), step):
            block = users[a : a + step]
            sel = order[bounds[a] : bounds[a + len(block)]]
            out[sel] = self._score(block)[np.searchsorted(block, u[sel]), i[sel]]
        return out

    def score_items(self, u: np.ndarray) -> np.ndarray:
        """Scores of all items for *internal* user indices `u` (evaluation uses it)."""
        self._check_fitted()
        return np.asarray(self._score(np.asarray(u, dtype=np.int64)), dtype=np.float32)

    def predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Scores of (internal user, internal item) pairs (evaluation uses it)."""
        self._check_fitted()
        u = np.asarray(u, dtype=np.int64)
        i = np.asarray(i, dtype=np.int64)
        return np.asarray(self._predict_pairs(u, i), dtype=np.float32)

    def predict(self, users: Any, items: Any, unknown: str = "raise") -> np.ndarray:
        """Predicted rating (or score) of each (user, item) pair, raw ids.

        ``unknown="raise"`` raises UnknownIdError for an id not seen in training;
        ``unknown="mean"`` predicts the item's training mean (or the global mean when
        the item is unknown too) for such pairs.
        """
        if unknown not in ("raise", "mean"):
            raise ValueError(f"unknown={unknown!r}; choose 'raise' or 'mean'")
        users = np.atleast_1d(users)
        items = np.atleast_1d(items)
        if len(users) != len(items):
            raise ValueError(
                f"predict(): {len(users)} users but {len(items)} items; pass one "
                "user per item"
            )
        miss = "raise" if unknown == "raise" else "ignore"
        u = self.user_index(users, miss)
        i = self.item_index(items, miss)
        out = np.full(len(u), self.global_mean_, dtype=np.float32)
        ok = (u >= 0) & (i >= 0)
        if ok.any():
            out[ok] = self.predict_pairs(u[ok], i[ok])
        cold = (u < 0) & (i >= 0)
        out[cold] = self.item_mean_[i[cold]]
        return out

    # ------------------------------------------------------------------ ranking
    def seen_items(self, u: int) -> np.ndarray:
        """Internal item indices internal user `u` interacted with in training."""
        self._check_fitted()
        return self._seen.row(u)

    def _item_mask(self, items: Any, filter_items: Any) -> np.ndarray | None:
        """Boolean mask of the items a ranking may return (None: all of them)."""
        if items is None and filter_items is None:
            return None
        keep = np.ones(self.n_items, dtype=bool)
        if items is not None:
            keep[:] = False
            keep[self.item_index(np.asarray(items).ravel())] = True
        if filter_items is not None:
            keep[self.item_index(np.asarray(filter_items).ravel())] = False
        return keep

    def recommend(
        self,
        users: Any,
        n: int = 10,
        filter_seen: bool = True,
        unknown: str = "raise",
        *,
        items: Any = None,
        filter_items: Any = None,
        user_items: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items for each user: ``(ids, scores)``, both (len(users), n).

        ``ids`` are raw item ids, best first. With ``filter_seen`` the training items
        of each user are excluded; if fewer than `n` items remain, the tail is padded
        with score ``-inf``. ``unknown="popular"`` recommends the most popular items
        to users not seen in training instead of raising UnknownIdError.

        ``items`` (raw ids) ranks only that candidate set; ``filter_items`` (raw ids)
        never returns those. ``user_items`` gives one history (a sequence of raw
        item ids) per user: each user is then scored as if folded in with that
        history (:meth:`fold_in`; the user may be unknown to the model), without
        changing the model, and ``filter_seen`` excludes that history.
        """
        self._check_fitted()
        n = check_positive_int("n", n)
        if n > self.n_items:
            raise ValueError(
                f"n={n} is larger than the number of items ({self.n_items:,})"
            )
        if unknown not in ("raise", "popular"):
            raise ValueError(f"unknown={unknown!r}; choose 'raise' or 'popular'")
        users = np.atleast_1d(users)
        if user_items is not None:
            model = self._folded_copy(users, user_items)
            return model.recommend(
                users, n, filter_seen, items=items, filter_items=filter_items
            )
        keep = self._item_mask(items, filter_items)
        u = self.user_index(users, "raise" if unknown == "raise" else "ignore")
        exclude = None if keep is None else np.flatnonzero(~keep)
        cells = min(_SCORE_CELLS, _serving.CHUNK_CELLS)
        idx, scores = _serving.rank(self, u, n, filter_seen, exclude, cells=cells)
        return self.item_ids_[idx], scores

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__} has no item vectors, so similar_items() is not "
            "defined for it; use a factor model (MF, ALS, BPR, ...) or ItemKNN"
        )

    def _user_vectors(self) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__} has no user vectors, so similar_users() is not "
            "defined for it; use a factor model (MF, ALS, BPR, ...) or UserKNN"
        )

    def _similarity_rows(self, which: str, q: np.ndarray) -> np.ndarray:
        """Similarities (len(q), n_users or n_items) of internal users or items `q`
        to every user or item: the cosine of their vectors. Models with their own
        similarity (KNN) override this."""
        V = self._user_vectors() if which == "user" else self._item_vectors()
        V = np.asarray(V, dtype=np.float32)
        norms = np.linalg.norm(V, axis=1)
        norms[norms == 0] = 1.0
        return (V[q] / norms[q, None]) @ (V / norms[:, None]).T

    def _similar(
        self,
        which: str,
        query: Any,
        n: int,
        candidates: Any,
        filtered: Any,
        include_self: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` of :meth:`_similarity_rows` (see similar_items), in blocks of
        queries that bound the memory."""
        self._check_fitted()
        n = check_positive_int("n", n)
        ids = self.user_ids_ if which == "user" else self.item_ids_
        index = self.user_index if which == "user" else self.item_index
        limit = len(ids) if include_self else len(ids) - 1
        if n > limit:
            raise ValueError(
                f"n={n} is larger than the {limit:,} other {which}s"
                if not include_self
                else f"n={n} is larger than the number of {which}s ({limit:,})"
            )
        q = index(query)
        keep = None
        if candidates is not None or filtered is not None:
            keep = np.ones(len(ids), dtype=bool)
            if candidates is not None:
                keep[:] = False
                keep[index(np.asarray(candidates).ravel())] = True
            if filtered is not None:
                keep[index(np.asarray(filtered).ravel())] = False
        out_idx = np.empty((len(q), n), dtype=np.int64)
        out_s = np.empty((len(q), n), dtype=np.float32)
        step = max(1, _SCORE_CELLS // max(len(ids), 1))
        for a in range(0, len(q), step):
            qq = q[a : a + step]
            s = np.asarray(self._similarity_rows(which, qq), dtype=np.float32)
            if keep is not None:
                s[:, ~keep] = -np.inf
            if not include_self:
                s[np.arange(len(qq)), qq] = -np.inf
            top = _serving.top_k(s, n)  # top_k's result, one compiled pass
            out_idx[a : a + len(qq)] = top
            out_s[a : a + len(qq)] = np.take_along_axis(s, top, axis=1)
        return ids[out_idx], out_s

    def similar_items(
        self,
        item_ids: Any,
        n: int = 10,
        *,
        items: Any = None,
        filter_items: Any = None,
        include_self: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` items most similar to each item: ``(ids, scores)`` of shape
        (len(item_ids), n), best first.

        Similarity is the cosine of item vectors (factor models) or the stored
        neighbourhood (ItemKNN). The query item itself is left out unless
        ``include_self=True`` (``implicit`` lists it first, with cosine 1).
        ``items`` (raw ids) restricts the answer to a candidate set and
        ``filter_items`` excludes ids; ranks with no candidate left score -inf.
        """
        return self._similar("item", item_ids, n, items, filter_items, include_self)

    def similar_users(
        self,
        user_ids: Any,
        n: int = 10,
        *,
        users: Any = None,
        filter_users: Any = None,
        include_self: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` users most similar to each user, as :meth:`similar_items` does
        for items: ``(ids, scores)``, the query user left out unless
        ``include_self=True``."""
        return self._similar("user", user_ids, n, users, filter_users, include_self)

    def embeddings(self) -> dict[str, np.ndarray]:
        """The learned vectors by name (``"user"``, ``"item"``) for export; raises
        NotImplementedError for models that have none."""
        self._check_fitted()
        out = {}
        for name, get in (("user", self._user_vectors), ("item", self._item_vectors)):
            try:
                out[name] = np.asarray(get())
            except NotImplementedError:
                continue
        if not out:
            raise NotImplementedError(
                f"{type(self).__name__} learns no user or item vectors to export"
            )
        return out

    # ------------------------------------------------------------------ fold-in
    def _fold_in(self, u: np.ndarray, rows: CSR) -> None:
        """Recompute the state of internal users `u` from their histories `rows`
        (a CSR over `u`, internal item indices, ratings as values), the item side
        frozen. Indices in `u` may lie past the fitted users (new users): grow the
        user arrays. Assign new arrays, never write into the fitted ones in place,
        so that a shallow copy of the model stays independent."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot fold in users without refitting; refit "
            "it on data that includes them"
        )

    def fold_in(self, users: Any, items: Any, ratings: Any = None) -> Recommender:
        """Add or recalculate users from their interactions, without refitting.

        `users` and `items` are raw ids of (user, item) pairs, `ratings` their
        values (1 when omitted). Each user named gets its state computed from the
        pairs given here alone (its whole history; for factor models one half-step
        of ALS, or SGD steps with the item factors frozen), becomes known to
        :meth:`recommend` and :meth:`predict`, and these items become its seen
        items. Unknown items raise UnknownIdError. Returns self.
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users))
        items = np.atleast_1d(np.asarray(items))
        if len(users) != len(items):
            raise ValueError(
                f"fold_in(): {len(users)} users but {len(items)} items; pass one "
                "user per (user, item) pair"
            )
        if ratings is None:
            vals = np.ones(len(items), dtype=np.float32)
        else:
            vals = np.atleast_1d(np.asarray(ratings, dtype=np.float32))
            if len(vals) != len(items):
                raise ValueError(
                    f"fold_in(): {len(vals)} ratings for {len(items)} pairs"
                )
            if not np.isfinite(vals).all():
                raise ValueError("fold_in(): ratings must be finite")
        if len(users) == 0:
            raise ValueError("fold_in(): no interactions given")
        i = self.item_index(items)
        uniq, inv = np.unique(users, return_inverse=True)
        u = self.user_index(uniq, "ignore")
        new = u < 0
        ids_before = self.user_ids_
        if new.any():
            added = new_ids(self.user_ids_, uniq[new], "user")
            u[new] = len(self.user_ids_) + np.arange(int(new.sum()))
            self.user_ids_ = np.concatenate([self.user_ids_, added])
            self._lookups = (None, self._lookups[1])
        order = np.lexsort((i, inv))
        counts = np.bincount(inv, minlength=len(uniq))
        indptr = np.zeros(len(uniq) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        rows = CSR(indptr, i[order].astype(np.int32), vals[order], order)
        try:
            self._fold_in(u.astype(np.int64), rows)
        except BaseException:
            self.user_ids_, self._lookups = ids_before, (None, self._lookups[1])
            raise
        self._seen = _replace_rows(self._seen, u, rows, len(self.user_ids_))
        return self

    def _folded_copy(self, users: np.ndarray, user_items: Any) -> Recommender:
        """A shallow copy of the model with `users` folded in from `user_items`:
        one sequence of raw item ids per user, or a scipy.sparse matrix of
        len(users) rows over the model's items (values are ratings, as
        ``implicit`` takes ``user_items``)."""
        import scipy.sparse as sp

        vals = None
        if sp.issparse(user_items):
            m = sp.csr_matrix(user_items)
            if m.shape != (len(users), self.n_items):
                raise ValueError(
                    f"user_items has shape {m.shape}; expected ({len(users)}, "
                    f"{self.n_items:,}): one row per user over the model's items"
                )
            m.eliminate_zeros()
            hist = [
                self.item_ids_[m.indices[a:b]]
                for a, b in zip(m.indptr[:-1], m.indptr[1:])
            ]
            vals = m.data.astype(np.float32)
        elif isinstance(user_items, (str, bytes)) or len(user_items) != len(users):
            raise ValueError(
                f"user_items must hold one sequence of item ids per user "
                f"({len(users)} users)"
            )
        else:
            hist = [np.atleast_1d(np.asarray(h)).ravel() for h in user_items]
        for k, h in enumerate(hist):
            if len(h) == 0:
                raise ValueError(
                    f"user_items[{k}] (user {users[k]!r}) is empty: fold-in needs "
                    "at least one item"
                )
        model = copy.copy(self)
        model.fold_in(
            np.repeat(users, [len(h) for h in hist]), np.concatenate(hist), vals
        )
        return model

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        pass

    def _meta_extra(self) -> dict:
        """JSON-able fitted scalars beyond the arrays (subclasses may extend)."""
        return {}

    def _set_meta_extra(self, extra: dict) -> None:
        pass

    def save(self, path: str | Path | io.IOBase) -> Path | io.IOBase:
        """Write the fitted model to `path`, or into an open binary file.

        A path gets the suffix ``.npz`` when it has another one or none; the file
        is written atomically (a temporary file renamed over it) with the mode of
        the file it replaces, or for a new file 0666 less the umask. A folder
        raises IsADirectoryError. Returns the path written (or the file object).

        Nothing fitted is lost: the state arrays, the id maps, the seen items, the
        hyperparameters and every public fitted attribute (``history_``,
        ``best_epoch_``...) that is an array or plain JSON.
        """
        from . import _modelfile as mf

        self._check_fitted()
        target = path if mf.is_file_object(path) else mf.save_path(path)
        raw_state = self._state()
        skip = {
            "user_ids_", "item_ids_", "item_popularity_", "global_mean_",
            "item_mean_", "item_titles_", "fit_info_",
        }  # fmt: skip
        fitted, fitted_arrays = mf.fitted_extras(self, skip, raw_state)
        parts = {
            "hyperparameters": self.get_params(deep=False),
            "fit_info_": getattr(self, "fit_info_", {}),
            "_meta_extra()": self._meta_extra(),
        }
        plain = mf.plain_json(parts, type(self).__name__)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "name": self.name,
            "params": plain["hyperparameters"],
            "global_mean": float(self.global_mean_),
            "extra": plain["_meta_extra()"],
            "fit_info": plain["fit_info_"],
            "fitted": fitted,
        }
        arrays = {f"state/{k}": np.asarray(v) for k, v in raw_state.items()}
        arrays.update(fitted_arrays)
        for k, v in arrays.items():
            if v.dtype.kind not in "biufU" or v.dtype.names is not None:
                raise TypeError(
                    f"{type(self).__name__}: state array {k} has dtype {v.dtype}; "
                    "model files hold booleans, integers, floats and text only"
                )
        arrays.update(
            {
                "__meta__": np.array(json.dumps(meta)),
                "__user_ids__": _storable(self.user_ids_),
                "__item_ids__": _storable(self.item_ids_),
                "__seen_indptr__": self._seen.indptr,
                "__seen_indices__": self._seen.indices,
                "__seen_data__": np.asarray(self._seen.data, dtype=np.float32),
                "__item_popularity__": self.item_popularity_,
                "__item_mean__": self.item_mean_,
            }
        )
        if self.item_titles_ is not None:
            arrays["__item_titles__"] = self.item_titles_
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        if isinstance(target, Path):
            atomic_write_bytes(target, buf.getvalue())
        else:
            mf.write_file_object(target, buf.getvalue())
        return target

    @classmethod
    def load(
        cls,
        path: str | Path | io.IOBase,
        *,
        max_bytes: int | None = None,
        device: str | None = None,
    ) -> Recommender:
        """Load a model written by :meth:`save`, from a path or an open binary file.
        Called on the base class it returns whatever model the file holds; on a
        subclass it checks the class. `device` (models with a ``device``
        hyperparameter, e.g. ``"cpu"`` for a model trained on a GPU) replaces the
        saved one: the arrays are put there.

        The file is checked before use (see :mod:`minirec.models._modelfile`): any
        damage or tampering raises ModelFileError naming the file and the field.
        `max_bytes` caps the bytes its arrays may declare (default: the environment
        variable MINIREC_MAX_MODEL_BYTES, else 16 GiB, and at most 100 times the
        file's size or 64 MiB, whichever is larger).
        """
        from . import _modelfile as mf

        mf.size_cap(max_bytes)  # a bad max_bytes fails before the file is read
        with mf.ModelFile(path) as f:
            where = f.name
            meta = f.meta()
            if meta.get("format") == LEGACY_SEQ_FORMAT:
                model = _load_legacy_seqmodel(f, meta, cls, max_bytes)
                _check_device_param(type(model), device)
                return model if device is None else model.to(device)
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{where} is not a minirec model file")
            if meta.get("version") != FORMAT_VERSION:
                raise ModelFileError(
                    f"{where} has model format version {meta.get('version')!r}; "
                    f"this minirec reads version {FORMAT_VERSION}"
                )
            mf.check_json(where, meta, mf.META_SCHEMA, "")
            model_cls = _resolve_class(meta["class"], where)
            if cls is not Recommender and not issubclass(model_cls, cls):
                raise ModelFileError(
                    f"{where} holds a {model_cls.__name__}, not a {cls.__name__}; "
                    "load it with Recommender.load"
                )
            extra = meta.get("extra") or {}
            schema = getattr(model_cls, "meta_schema", {})
            mf.check_json(where, extra, schema, "extra")
            params = {
                model_cls.renamed_params.get(k, k): v for k, v in meta["params"].items()
            }
            _check_device_param(model_cls, device)
            if device is not None:
                params["device"] = device
            try:
                model = model_cls(**params)
            except (TypeError, ValueError) as e:
                raise ModelFileError(
                    f"{where}: hyperparameters do not fit {model_cls.__name__}: {e}"
                ) from None
            specs = f.check_declared(model, max_bytes)
            arrays = f.read_checked(specs)
        model.user_ids_ = arrays["__user_ids__"]
        model.item_ids_ = arrays["__item_ids__"]
        indptr, indices = arrays["__seen_indptr__"], arrays["__seen_indices__"]
        values = arrays.get("__seen_data__")
        if values is None:  # files written before the values were stored
            values = np.ones(len(indices), np.float32)
        model._seen = CSR(indptr, indices, values, np.arange(len(indices)))
        model._lookups = (None, None)
        model.item_popularity_ = arrays["__item_popularity__"]
        model.item_mean_ = arrays["__item_mean__"]
        model.global_mean_ = float(meta["global_mean"])
        model.item_titles_ = arrays.get("__item_titles__")
        state = {
            k[len("state/") :]: v for k, v in arrays.items() if k.startswith("state/")
        }
        for step, arg in ((model._set_state, state), (model._set_meta_extra, extra)):
            what = "state arrays" if arg is state else "metadata field extra"
            try:
                step(arg)
            except ModelFileError as e:
                raise ModelFileError(f"{where}: {e}") from None
            except KeyError as e:
                field = f"state array {e}" if arg is state else f"metadata extra[{e}]"
                raise ModelFileError(f"{where}: {field} is missing") from None
            except (TypeError, ValueError, IndexError, AttributeError) as e:
                raise ModelFileError(
                    f"{where}: the {what} do not fit {model_cls.__name__} "
                    f"({type(e).__name__}: {e})"
                ) from None
        model.fit_info_ = meta.get("fit_info") or {}
        fitted = {k: v for k, v in arrays.items() if k.startswith("fitted/")}
        mf.restore_fitted(model, where, meta.get("fitted") or {}, fitted)
        return model


def _check_device_param(model_cls: type, device: Any) -> None:
    if device is not None and "device" not in model_cls._param_names():
        raise ValueError(
            f"load(device={device!r}): {model_cls.__name__} has no device "
            "hyperparameter (it runs on the host); load it without device="
        )


def _load_legacy_seqmodel(f, meta: dict, cls: type, max_bytes) -> Recommender:
    """A sequence model from a file of the retired "minirec-seqmodel" format."""
    from .sequential import SequentialRecommender, load_legacy_seqmodel

    where = f.name
    model_cls = _resolve_class(meta.get("class"), where)
    if not issubclass(model_cls, SequentialRecommender) or not issubclass(
        model_cls, cls
    ):
        raise ModelFileError(
            f"{where}: a {LEGACY_SEQ_FORMAT} file must hold a sequence model, not "
            f"{model_cls.__name__}"
        )
    f._check_size(max_bytes)
    arrays = {k: f.read(k) for k in f.members if k != "__meta__"}
    for key in ("__item_ids__", "__item_popularity__"):
        if key not in arrays:
            raise ModelFileError(f"{where}: array {key} is missing")
    try:
        return load_legacy_seqmodel(model_cls, arrays, meta)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ModelFileError(
            f"{where}: not a readable {LEGACY_SEQ_FORMAT} file ({type(e).__name__}: "
            f"{e})"
        ) from None


def new_ids(ids: np.ndarray, added: np.ndarray, which: str) -> np.ndarray:
    """New raw ids as the dtype of the model's ids (strings keep their full
    length); a ValueError names the first id that does not fit."""
    added = np.asarray(added)
    if ids.dtype.kind in "US":
        return added.astype(str)
    try:
        return added.astype(ids.dtype)
    except (TypeError, ValueError):
        raise ValueError(
            f"new {which} id {added.tolist()[0]!r} is not a {ids.dtype} like the "
            f"model's {which} ids"
        ) from None


def _as_interactions(data: Any) -> Interactions:
    """`data` as Interactions: itself, or a scipy.sparse users x items matrix."""
    if isinstance(data, Interactions):
        return data
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        sp = None
    if sp is not None and sp.issparse(data):
        return Interactions.from_csr(data)
    raise TypeError(
        f"fit() takes an Interactions or a scipy.sparse users x items matrix, got "
        f"{type(data).__name__}; build one with Interactions.from_arrays / "
        "from_dataframe or a loader"
    )


def _replace_rows(seen: CSR, u: np.ndarray, rows: CSR, n_users: int) -> CSR:
    """`seen` with the rows of users `u` replaced by `rows` (values kept), grown
    to `n_users` rows."""
    replaced = np.zeros(n_users, dtype=bool)
    replaced[u] = True
    old_row = np.repeat(np.arange(seen.n_rows), seen.lengths())
    kept = ~replaced[old_row]
    new_row = np.repeat(u, rows.lengths())
    row = np.concatenate([old_row[kept], new_row])
    col = np.concatenate([seen.indices[kept], rows.indices]).astype(np.int32)
    val = np.concatenate([seen.data[kept], rows.data]).astype(np.float32)
    order = np.argsort(row, kind="stable")
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_users), out=indptr[1:])
    return CSR(indptr, col[order], val[order], np.arange(len(order)))


def _resolve_class(spec: Any, where: str | Path) -> type:
    """Find a model class named in a file, only among minirec's model modules
    (nothing outside ``minirec.models`` is imported on a file's word)."""
    mod, _, qual = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    parts = mod.split(".")
    if (
        parts[:2] != ["minirec", "models"]
        or not all(p.isidentifier() for p in parts)
        or not qual.isidentifier()
    ):
        raise ModelFileError(
            f"{where}: metadata field class is {spec!r}, not a minirec model class"
        )
    try:
        obj = getattr(importlib.import_module(mod), qual)
    except (ImportError, AttributeError):
        raise ModelFileError(
            f"{where}: model class {spec!r} not found in this minirec version"
        ) from None
    ok = isinstance(obj, type) and issubclass(obj, Recommender)
    if not ok or obj is Recommender:
        raise ModelFileError(f"{where}: {spec!r} is not a minirec model class")
    return obj


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` largest entries of each row, best first.

    Equal scores are ordered by the smaller column (item) index, also at the cut-off:
    row r is the first k of a stable descending sort of ``scores[r]``, so the result
    depends on the scores alone. NaN ranks below every number. With ``k >= n_cols``
    every column is returned.
    """
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-d (n_rows, n_items), got shape {s.shape}")
    if s.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise ValueError(f"scores must be real numbers, got dtype {s.dtype}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k={k!r}: must be a positive integer")
    # key: ascending order of key = descending order of score (NaN last); ~x reverses
    # the order of integers without the overflow of -x
    key = -s if np.issubdtype(s.dtype, np.inexact) else ~s
    n_rows, n = key.shape
    k = int(k)
    if k >= n or n_rows == 0:
        return np.argsort(key, axis=1, kind="stable")[:, :k]
    sel = np.argpartition(key, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(key, sel[:, k - 1 : k], axis=1)
    # argpartition picks arbitrary members among entries tied with the k-th: redo the
    # rows where more than k entries are <= the k-th key (or the k-th is NaN)
    le = key <= kth
    redo = np.flatnonzero(np.count_nonzero(le, axis=1) != k)
    chunk = 256  # rows redone at once (bounds the memory of the index lists)
    for a in range(0, len(redo), chunk):
        rows = redo[a : a + chunk]
        t = kth[rows, 0]
        if np.isnan(t).any():  # fewer than k numbers in the row: sort it all
            sel[rows] = np.argsort(key[rows], axis=1, kind="stable")[:, :k]
            continue
        r, c = np.divmod(np.flatnonzero(le[rows]), n)
        tied = key[rows[r], c] == t[r]
        # 0-based place of each tied entry among its row's tied entries
        first = np.searchsorted(r, np.arange(len(rows)))
        before = np.cumsum(tied) - tied  # tied entries before this one, all rows
        place = before - before[first][r]
        below = np.bincount(r, weights=~tied, minlength=len(rows))
        keep = ~tied | (place < k - below[r])
        sel[rows] = c[keep].reshape(len(rows), k)
    sel.sort(axis=1)
    order = np.argsort(np.take_along_axis(key, sel, axis=1), axis=1, kind="stable")
    return np.take_along_axis(sel, order, axis=1)
