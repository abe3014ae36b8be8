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

import importlib
import inspect
import io
import json
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._utils import atomic_write_bytes, check_positive_int
from ..data.interactions import CSR, Interactions
from ..errors import ModelFileError, NotFittedError, UnknownIdError

FORMAT = "minirec-model"
FORMAT_VERSION = 1
_SCORE_CHUNK = 2048  # users scored at once in recommend()


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
    def get_params(self) -> dict:
        """Hyperparameters: the constructor's keyword arguments and their values."""
        sig = inspect.signature(type(self).__init__)
        return {
            k: getattr(self, k)
            for k in sig.parameters
            if k != "self" and hasattr(self, k)
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fit
    def fit(self, data: Interactions) -> Recommender:
        """Learn from `data` and return self."""
        if not isinstance(data, Interactions):
            raise TypeError(
                f"fit() takes an Interactions, got {type(data).__name__}; build one "
                "with Interactions.from_arrays / from_dataframe or a loader"
            )
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
        self._fit(data)
        return self

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
        out = np.empty(len(u), dtype=np.float32)
        for uu in np.unique(u):
            sel = np.flatnonzero(u == uu)
            out[sel] = self._score(np.array([uu]))[0, i[sel]]
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

    def recommend(
        self,
        users: Any,
        n: int = 10,
        filter_seen: bool = True,
        unknown: str = "raise",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items for each user: ``(ids, scores)``, both (len(users), n).

        ``ids`` are raw item ids, best first. With ``filter_seen`` the training items
        of each user are excluded; if fewer than `n` items remain, the tail is padded
        with score ``-inf``. ``unknown="popular"`` recommends the most popular items
        to users not seen in training instead of raising UnknownIdError.
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
        u = self.user_index(users, "raise" if unknown == "raise" else "ignore")
        idx = np.empty((len(u), n), dtype=np.int64)
        scores = np.empty((len(u), n), dtype=np.float32)
        for start in range(0, len(u), _SCORE_CHUNK):
            uu = u[start : start + _SCORE_CHUNK]
            s = np.empty((len(uu), self.n_items), dtype=np.float32)
            known = uu >= 0
            if known.any():
                s[known] = self.score_items(uu[known])
            if (~known).any():
                s[~known] = self.item_popularity_
            if filter_seen:
                for r, user in enumerate(uu):
                    if user >= 0:
                        s[r, self._seen.row(user)] = -np.inf
            top = top_k(s, n)
            idx[start : start + len(uu)] = top
            scores[start : start + len(uu)] = np.take_along_axis(s, top, axis=1)
        return self.item_ids_[idx], scores

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__} has no item vectors, so similar_items() is not "
            "defined for it; use a factor model (MF, ALS, BPR, ...) or ItemKNN"
        )

    def similar_items(self, items: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The `n` items most similar to each item (cosine of item vectors), itself
        excluded: ``(ids, scores)`` of shape (len(items), n)."""
        self._check_fitted()
        n = check_positive_int("n", n)
        if n >= self.n_items:
            raise ValueError(f"n={n} must be smaller than the number of items")
        i = self.item_index(items)
        V = np.asarray(self._item_vectors(), dtype=np.float32)
        norms = np.linalg.norm(V, axis=1)
        norms[norms == 0] = 1.0
        Vn = V / norms[:, None]
        s = Vn[i] @ Vn.T
        s[np.arange(len(i)), i] = -np.inf
        top = top_k(s, n)
        return self.item_ids_[top], np.take_along_axis(s, top, axis=1)

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

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to `path` (``.npz``), atomically. Returns the path."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz")
                if path.suffix
                else path.with_suffix(".npz")
            )
        params = self.get_params()
        try:
            json.dumps(params)
        except TypeError as e:
            raise TypeError(
                f"hyperparameters of {type(self).__name__} are not "
                f"JSON-serialisable: {e}"
            ) from None
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "name": self.name,
            "params": params,
            "global_mean": self.global_mean_,
            "extra": self._meta_extra(),
        }
        arrays = {f"state/{k}": np.asarray(v) for k, v in self._state().items()}
        for k, v in arrays.items():
            if v.dtype == object:
                raise TypeError(f"state array {k} has dtype object; not storable")
        arrays.update(
            {
                "__meta__": np.array(json.dumps(meta)),
                "__user_ids__": _storable(self.user_ids_),
                "__item_ids__": _storable(self.item_ids_),
                "__seen_indptr__": self._seen.indptr,
                "__seen_indices__": self._seen.indices,
                "__item_popularity__": self.item_popularity_,
                "__item_mean__": self.item_mean_,
            }
        )
        if self.item_titles_ is not None:
            arrays["__item_titles__"] = self.item_titles_
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a model written by :meth:`save`. Called on the base class it returns
        whatever model the file holds; on a subclass it checks the class."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
            raise ModelFileError(
                f"{path} is not a readable minirec model file ({type(e).__name__}: "
                f"{e}); it may be truncated or not written by minirec"
            ) from None
        if "__meta__" not in arrays:
            raise ModelFileError(f"{path} is an .npz file but not a minirec model")
        try:
            meta = json.loads(str(arrays["__meta__"]))
        except json.JSONDecodeError:
            raise ModelFileError(f"{path}: model metadata is not valid JSON") from None
        if meta.get("format") != FORMAT:
            raise ModelFileError(f"{path} is not a minirec model file")
        if meta.get("version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{path} has model format version {meta.get('version')}; this minirec "
                f"reads version {FORMAT_VERSION}"
            )
        model_cls = _resolve_class(meta.get("class", ""), path)
        if cls is not Recommender and not issubclass(model_cls, cls):
            raise ModelFileError(
                f"{path} holds a {model_cls.__name__}, not a {cls.__name__}; load it "
                "with Recommender.load"
            )
        params = {
            model_cls.renamed_params.get(k, k): v for k, v in meta["params"].items()
        }
        try:
            model = model_cls(**params)
        except TypeError as e:
            raise ModelFileError(
                f"{path}: hyperparameters do not fit {model_cls.__name__}: {e}"
            ) from None
        model.user_ids_ = arrays["__user_ids__"]
        model.item_ids_ = arrays["__item_ids__"]
        indptr, indices = arrays["__seen_indptr__"], arrays["__seen_indices__"]
        model._seen = CSR(
            indptr, indices, np.ones(len(indices), np.float32), np.arange(len(indices))
        )
        model._lookups = (None, None)
        model.item_popularity_ = arrays["__item_popularity__"]
        model.item_mean_ = arrays["__item_mean__"]
        model.global_mean_ = float(meta["global_mean"])
        model.item_titles_ = arrays.get("__item_titles__")
        state = {
            k[len("state/") :]: v for k, v in arrays.items() if k.startswith("state/")
        }
        try:
            model._set_state(state)
        except KeyError as e:
            raise ModelFileError(f"{path}: state array {e} is missing") from None
        model._set_meta_extra(meta.get("extra", {}))
        return model


def _resolve_class(spec: str, path: Path) -> type:
    """Find a model class named in a file, only inside the minirec package."""
    mod, _, qual = spec.partition(":")
    if not mod.startswith("minirec.") or not qual.isidentifier():
        raise ModelFileError(f"{path}: unknown model class {spec!r}")
    try:
        obj = getattr(importlib.import_module(mod), qual)
    except (ImportError, AttributeError):
        raise ModelFileError(
            f"{path}: model class {spec!r} not found in this minirec version"
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, Recommender)):
        raise ModelFileError(f"{path}: {spec!r} is not a minirec model class")
    return obj


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` largest entries of each row, best first.

    Deterministic: among the chosen, equal scores are ordered by item index (which of
    several items tied exactly at the cut-off is chosen is not specified).
    """
    scores = np.asarray(scores)
    n = scores.shape[1]
    if k >= n:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    # sort the candidates by (-score, index) for a stable, deterministic order
    part.sort(axis=1)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
