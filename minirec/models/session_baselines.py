"""Sequence models' common API, and three session baselines.

Session / sequence models are not user x item rating models: they read the items a
session (or a user, in time order) has clicked so far -- a *prefix* -- and score every
item as the *next* one. They share :class:`SequentialRecommender`:

* ``fit(sequences) -> self``: `sequences` is a list of 1-d sequences of raw item ids
  (each one a session or a user's history in time order), a
  :class:`minirec.data.Sessions` (``load_sessions``, ``load_session_split``,
  ``synthetic_sessions``), an :class:`~minirec.data.Interactions` (one sequence per
  user, by timestamp; e.g. ``load_sasrec``) or a pandas DataFrame in the session-rec
  format (columns ``SessionId``, ``ItemId`` and optionally ``Time``). The item
  catalog is every item seen in training.
* ``score_next(prefixes) -> (n, n_items)`` float32 scores, columns in the order of
  ``item_ids_`` (raw ids); ``predict_next(prefixes, n=10, exclude_seen=False) -> (ids
  (len, n) raw, scores (len, n))``, best first.
* ``save(path)`` / ``SequentialRecommender.load(path)``: one ``.npz`` (state arrays,
  ``item_ids_``, JSON metadata), written atomically, read with ``allow_pickle=False``.

Bad input, the stated policy (tested in tests/models/test_session_baselines.py):

* Training: an empty sequence or one of length 1 gives no (prefix, next item) pair;
  it is dropped and counted in ``n_dropped_``. If no sequence of length >= 2 is left,
  ``fit`` raises DataError.
* Prediction: an item id not in the training catalog is skipped in the prefix
  (``unknown="skip"``, the default, as session-rec filters test items unseen in
  training) or raises :class:`~minirec.errors.UnknownIdError` (``unknown="raise"``). A
  prefix that is empty (or holds only unknown items) raises ValueError naming its
  position: there is no "current item" to continue from.
* ``n <= 0`` raises ValueError; ``n > n_items`` is cut to ``n_items``.
* Internal item indices passed to the ``_score_*`` methods are range-checked
  (IndexError naming the bad id).

The baselines (Hidasi et al. 2016 §4 and Ludewig & Jannach 2018 use the same three):

* ``SessionPop``: s_j = count of j in the prefix + pop_j / (max pop + 1) -- the items of
  the current session, most frequent first, then global popularity.
* ``MarkovChain`` (first order): s_j = C[last, j] + pop_j / (max pop + 1) where
  C[i, j] counts the transitions i -> j in training sessions.
* ``SessionItemKNN`` (GRU4Rec's "Item-KNN"): cosine-like similarity of the sessions
  two items occur in, sim(i, j) = c_ij / (c_i^α c_j^(1-α) + λ) with c_ij the number of
  training sessions holding both, c_i those holding i; s_j = sim(last, j) (plus the
  tiny popularity tie-break).

Cost: fitting is one pass (SessionPop, Markov) or one sparse product X Xᵀ of the
item x session incidence matrix (ItemKNN); scoring a prefix costs O(n_items).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .._utils import atomic_write_bytes, check_nonnegative, check_positive_int
from ..errors import DataError, ModelFileError, NotFittedError, UnknownIdError

FORMAT = "minirec-seqmodel"
FORMAT_VERSION = 1

__all__ = [
    "SequentialRecommender",
    "SessionPop",
    "MarkovChain",
    "SessionItemKNN",
    "as_sequences",
]


def as_sequences(data: Any, what: str = "sequences") -> list[np.ndarray]:
    """A list of 1-d raw-id arrays from a list of sequences, a
    :class:`minirec.data.Sessions` (one per session), an
    :class:`~minirec.data.Interactions` (one per user, in time order, by
    :func:`minirec.data.user_sequences`) or a session-rec frame.

    A DataFrame must have ``SessionId`` and ``ItemId`` columns (``Time`` optional);
    rows are grouped by SessionId in order of first appearance and, when ``Time`` is
    present, sorted by it (stable) inside each session.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if hasattr(data, "offsets") and hasattr(data, "item_ids"):  # data.Sessions
        raw = np.asarray(data.item_ids)[data.items]
        return np.split(raw, np.asarray(data.offsets)[1:-1])
    if hasattr(data, "users") and hasattr(data, "item_ids"):  # data.Interactions
        from ..data import user_sequences

        indptr, items = user_sequences(data)
        return np.split(np.asarray(data.item_ids)[items], indptr[1:-1])
    if pd is not None and isinstance(data, pd.DataFrame):
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


def _to_csr(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(indptr int64, items int32) of a list of internal-index sequences."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    items = (
        np.concatenate(seqs).astype(np.int32) if seqs else np.zeros(0, dtype=np.int32)
    )
    return indptr, items


def blas_threads(n: int | None):
    """Context manager limiting BLAS threads to `n` (None: leave as is).

    The sequence models multiply small matrices thousands of times per epoch. On a
    loaded 2-core machine OpenBLAS's extra threads made a GRU4Rec epoch many times
    slower (one profile: 110 s instead of ~10 s, all of it inside small matmuls of the
    backward); ``benchmarks/bench_sequential.py`` measures the ratio. Needs
    threadpoolctl (a no-op without it)."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n), user_api="blas")


def _resolve_class(spec: str, path: Path) -> type:
    mod, _, qual = spec.partition(":")
    if not mod.startswith("minirec.models.") or not qual.isidentifier():
        raise ModelFileError(f"{path}: unexpected model class {spec!r}")
    try:
        cls = getattr(importlib.import_module(mod), qual)
    except (ImportError, AttributeError):
        raise ModelFileError(f"{path}: model class {spec!r} not found") from None
    if not (isinstance(cls, type) and issubclass(cls, SequentialRecommender)):
        raise ModelFileError(f"{path}: {spec!r} is not a sequence model")
    return cls


class SequentialRecommender:
    """Base class of the session / sequence models (see the module docstring).

    Subclasses implement ``_fit(indptr, items)`` (training sequences as CSR of
    internal item indices, every sequence of length >= 2) and
    ``_score_prefixes(prefixes) -> (len, n_items)``; optionally ``_score_positions``
    (scores after every prefix of whole sequences, faster), ``_state()`` /
    ``_set_state()`` (arrays saved in the .npz) and ``_meta_extra()``.
    """

    name: ClassVar[str] = "seq-base"

    # ------------------------------------------------------------------ params
    def get_params(self) -> dict:
        """Hyperparameters: the constructor's keyword arguments and their values."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, sequences: Any, items: Any = None) -> SequentialRecommender:
        """Fit on training sequences (list of raw-id sequences or session-rec frame).

        Sequences shorter than 2 are dropped (counted in ``n_dropped_``). `items`
        (raw ids) adds catalog items that no training sequence holds (SASRec's
        protocol ranks every item of the data set); by default the catalog is the
        items of the kept training sequences."""
        seqs = as_sequences(sequences, "sequences")
        keep = [s for s in seqs if len(s) >= 2]
        self.n_dropped_ = len(seqs) - len(keep)
        if not keep:
            raise DataError(
                f"{type(self).__name__}.fit: no sequence has 2 or more items "
                f"({len(seqs)} given); a next-item model needs at least one "
                "(item, next item) pair"
            )
        extra = [] if items is None else [np.asarray(items).ravel()]
        self.item_ids_ = np.unique(np.concatenate(keep + extra))
        internal = [np.searchsorted(self.item_ids_, s).astype(np.int32) for s in keep]
        indptr, items = _to_csr(internal)
        self.item_popularity_ = np.bincount(items, minlength=self.n_items).astype(
            np.float32
        )
        self._fit(indptr, items)
        self.fitted_ = True
        return self

    def _fit(self, indptr: np.ndarray, items: np.ndarray) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call fit(sequences) first"
            )

    @property
    def n_items(self) -> int:
        return len(self.item_ids_)

    # ------------------------------------------------------------------ ids
    def item_index(self, items: Any, unknown: str = "raise") -> np.ndarray:
        """Internal indices of raw item ids; unknown ids raise or (``"skip"``) are
        dropped."""
        self._check_fitted()
        if unknown not in ("raise", "skip"):
            raise ValueError(f"unknown={unknown!r}: choose 'raise' or 'skip'")
        a = np.asarray(items)
        if a.ndim == 0:
            a = a.reshape(1)
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
                bad = a[~ok][0]
                raise UnknownIdError(
                    f"item {bad!r} was not in the training sequences; pass "
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

    def predict_next(
        self,
        prefixes: Any,
        n: int = 10,
        exclude_seen: bool = False,
        unknown: str = "skip",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` next items of each prefix: (raw ids (len, n), scores (len, n)).

        `exclude_seen` removes the prefix's own items (off by default: in sessions
        users often re-click an item they just saw)."""
        n = check_positive_int("n", n)
        self._check_fitted()
        seqs = self._encode_prefixes(prefixes, unknown)
        if not seqs:
            return self.item_ids_[:0].reshape(0, 0), np.zeros((0, 0), np.float32)
        s = np.asarray(self._score_prefixes(seqs), dtype=np.float32)
        if exclude_seen:
            s = s.copy()
            for r, q in enumerate(seqs):
                s[r, q] = -np.inf
        n = min(n, self.n_items)
        part = np.argpartition(-s, n - 1, axis=1)[:, :n]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        return self.item_ids_[top], np.take_along_axis(ps, order, axis=1)

    def _score_prefixes(self, prefixes: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _score_positions(self, seqs: list[np.ndarray]) -> np.ndarray:
        """Scores after every proper prefix of every sequence: row r of sequence s
        (len L) is the score vector after s[:r+1], r = 0..L-2; rows concatenated."""
        prefixes = [s[: r + 1] for s in seqs for r in range(len(s) - 1)]
        if not prefixes:
            return np.zeros((0, self.n_items), dtype=np.float32)
        return self._score_prefixes(prefixes)

    # ------------------------------------------------------------------ saving
    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        pass

    def _meta_extra(self) -> dict:
        return {}

    def _set_meta_extra(self, extra: dict) -> None:
        pass

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to `path` (.npz added if missing), atomically."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "params": self.get_params(),
            "n_dropped": int(self.n_dropped_),
            "extra": self._meta_extra(),
        }
        arrays = {f"state/{k}": np.asarray(v) for k, v in self._state().items()}
        ids = self.item_ids_
        arrays["__item_ids__"] = ids.astype(str) if ids.dtype == object else ids
        arrays["__item_popularity__"] = self.item_popularity_
        arrays["__meta__"] = np.array(json.dumps(meta))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> SequentialRecommender:
        """Load a model written by :meth:`save` (any subclass when called on the
        base class)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays["__meta__"]))
        except Exception as e:  # noqa: BLE001 - any failure means a bad file
            raise ModelFileError(
                f"{path} is not a readable minirec sequence model ({type(e).__name__}:"
                f" {e})"
            ) from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: not a minirec sequence model file of version {FORMAT_VERSION}"
            )
        model_cls = _resolve_class(meta.get("class", ""), path)
        if not issubclass(model_cls, cls):
            raise ModelFileError(f"{path} holds a {model_cls.__name__}, not {cls}")
        model = model_cls(**meta["params"])
        model.item_ids_ = arrays["__item_ids__"]
        model.item_popularity_ = arrays["__item_popularity__"]
        model.n_dropped_ = meta.get("n_dropped", 0)
        model._set_meta_extra(meta.get("extra", {}))
        model._set_state(
            {k[6:]: v for k, v in arrays.items() if k.startswith("state/")}
        )
        model.fitted_ = True
        return model

    # ------------------------------------------------------------------ helpers
    def _pop_tiebreak(self) -> np.ndarray:
        p = self.item_popularity_
        return (p / (p.max() + 1.0)).astype(np.float32)


# ---------------------------------------------------------------------- baselines
class SessionPop(SequentialRecommender):
    """Session popularity: items of the current prefix by their count there, then
    global popularity (a score in [0, 1) added to the count)."""

    name = "session-pop"

    def __init__(self) -> None:
        pass

    def _fit(self, indptr, items):
        pass

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        s = np.tile(self._pop_tiebreak(), (len(prefixes), 1))
        for r, q in enumerate(prefixes):
            np.add.at(s[r], q, 1.0)
        return s

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        n_rows = sum(len(s) - 1 for s in seqs)
        out = np.tile(self._pop_tiebreak(), (n_rows, 1))
        r = 0
        for s in seqs:
            for t in range(len(s) - 1):  # row r counts s[:t+1]
                out[r : r + len(s) - 1 - t, s[t]] += 1.0
                r += 1
        return out


class MarkovChain(SequentialRecommender):
    """First-order Markov chain: transition counts C[i, j] of i -> j in training."""

    name = "markov"

    def __init__(self) -> None:
        pass

    def _fit(self, indptr, items):
        n = self.n_items
        same = np.ones(len(items) - 1, dtype=bool)
        same[indptr[1:-1] - 1] = False  # no transition across sessions
        src, dst = items[:-1][same], items[1:][same]
        C = sp.csr_matrix(
            (np.ones(len(src), np.float32), (src, dst)), shape=(n, n), dtype=np.float32
        )
        C.sum_duplicates()
        self.C_ = C

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        last = np.array([q[-1] for q in prefixes])
        return self.C_[last].toarray() + self._pop_tiebreak()

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        last = np.concatenate([s[:-1] for s in seqs])
        return self.C_[last].toarray() + self._pop_tiebreak()

    def _state(self):
        return {
            "indptr": self.C_.indptr,
            "indices": self.C_.indices,
            "data": self.C_.data,
        }

    def _set_state(self, st):
        n = self.n_items
        self.C_ = sp.csr_matrix(
            (st["data"], st["indices"], st["indptr"]), shape=(n, n), dtype=np.float32
        )


class SessionItemKNN(SequentialRecommender):
    """Item-KNN over session co-occurrence: sim(i, j) = c_ij / (c_i^α c_j^(1-α) + λ),
    keeping each item's `k` most similar items (0 = all)."""

    name = "session-itemknn"

    def __init__(self, alpha: float = 0.5, lam: float = 20.0, k: int = 200) -> None:
        self.alpha = check_nonnegative("alpha", alpha)
        if self.alpha > 1:
            raise ValueError(f"alpha={alpha!r}: must be in [0, 1]")
        self.lam = check_nonnegative("lam", lam)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k={k!r}: must be an integer >= 0 (0 keeps all)")
        self.k = int(k)

    def _fit(self, indptr, items):
        n = self.n_items
        sess = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        X = sp.csr_matrix(
            (np.ones(len(items), np.float32), (items, sess)),
            shape=(n, len(indptr) - 1),
        )
        X.data[:] = 1.0  # an item clicked twice in a session counts once
        X.sum_duplicates()
        X.data[:] = 1.0
        co = (X @ X.T).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        c = np.asarray(X.sum(axis=1)).ravel()
        co = co.tocoo()
        denom = c[co.row] ** self.alpha * c[co.col] ** (1 - self.alpha) + self.lam
        S = sp.csr_matrix(
            ((co.data / denom).astype(np.float32), (co.row, co.col)), shape=(n, n)
        )
        if self.k:
            S = _keep_top_k_rows(S, self.k)
        self.S_ = S

    def _score_prefixes(self, prefixes):
        self._check_internal(prefixes)
        last = np.array([q[-1] for q in prefixes])
        return self.S_[last].toarray() + 1e-3 * self._pop_tiebreak()

    def _score_positions(self, seqs):
        self._check_internal(seqs)
        last = np.concatenate([s[:-1] for s in seqs])
        return self.S_[last].toarray() + 1e-3 * self._pop_tiebreak()

    def _state(self):
        return {
            "indptr": self.S_.indptr,
            "indices": self.S_.indices,
            "data": self.S_.data,
        }

    def _set_state(self, st):
        n = self.n_items
        self.S_ = sp.csr_matrix(
            (st["data"], st["indices"], st["indptr"]), shape=(n, n), dtype=np.float32
        )


def _keep_top_k_rows(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row of a CSR matrix."""
    S = S.tocsr()
    rows, cols, vals = [], [], []
    for r in range(S.shape[0]):
        a, b = S.indptr[r], S.indptr[r + 1]
        if b - a == 0:
            continue
        d, j = S.data[a:b], S.indices[a:b]
        if b - a > k:
            top = np.argpartition(-d, k - 1)[:k]
            d, j = d[top], j[top]
        rows.append(np.full(len(j), r))
        cols.append(j)
        vals.append(d)
    if not rows:
        return S
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=S.shape,
        dtype=np.float32,
    )
