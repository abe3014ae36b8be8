"""`Interactions`: the one container every model trains on.

A set of (user, item, rating[, timestamp]) events with

* raw <-> internal id maps both ways (``user_ids[u]`` is the raw id of internal user
  ``u``; :meth:`Interactions.user_index` goes the other way),
* CSR views by user and by item (``indptr, indices, data`` NumPy arrays that Numba
  kernels take directly),
* optional side-information tables (pandas DataFrames whose row ``u`` describes
  internal user ``u``; the item table may hold ``title`` and genre columns).

Splits return new `Interactions` that share the id maps and side tables of the data
they came from, so a model trained on the train part can be evaluated on the test
part with the same internal indices.

Duplicate (user, item) pairs: ``duplicates="error"`` (the default) raises and names
the first duplicate; ``"first"`` / ``"last"`` keep one occurrence (in input order, or
the latest timestamp when there are timestamps); ``"mean"`` averages the ratings and
keeps the latest timestamp; ``"keep"`` keeps all rows (for event logs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, UnknownIdError

DUPLICATE_POLICIES = ("error", "first", "last", "mean", "keep")


@dataclass(frozen=True)
class CSR:
    """Compressed sparse rows: row ``r`` holds ``indices[indptr[r]:indptr[r+1]]``
    (sorted ascending) with values ``data[...]``; ``rows[k]`` is the position in the
    parent `Interactions` of entry ``k``."""

    indptr: np.ndarray  # int64, shape (n_rows + 1,)
    indices: np.ndarray  # int32, shape (nnz,)
    data: np.ndarray  # float32, shape (nnz,)
    rows: np.ndarray  # int64, shape (nnz,): index into the parent's arrays

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def row(self, r: int) -> np.ndarray:
        return self.indices[self.indptr[r] : self.indptr[r + 1]]

    def row_data(self, r: int) -> np.ndarray:
        return self.data[self.indptr[r] : self.indptr[r + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_dense(self, n_cols: int) -> np.ndarray:
        out = np.zeros((self.n_rows, n_cols), dtype=np.float32)
        r = np.repeat(np.arange(self.n_rows), self.lengths())
        out[r, self.indices] = self.data
        return out


def _row_major_order(row: np.ndarray, col: np.ndarray, n_rows: int) -> np.ndarray:
    """The order that sorts the pairs by row, then column, equal pairs in input order:
    ``np.lexsort((col, row))``, as one stable sort of the int64 key row * n_cols + col
    (one pass instead of two) when that key fits."""
    n_cols = int(col.max()) + 1 if len(col) else 1
    if n_rows * n_cols >= 2**62:
        return np.lexsort((col, row))
    key = row.astype(np.int64) * n_cols + col
    return np.argsort(key, kind="stable")


def _build_csr(row: np.ndarray, col: np.ndarray, val: np.ndarray, n_rows: int) -> CSR:
    order = _row_major_order(row, col, n_rows)
    counts = np.bincount(row, minlength=n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return CSR(
        indptr=indptr,
        indices=np.ascontiguousarray(col[order], dtype=np.int32),
        data=np.ascontiguousarray(val[order], dtype=np.float32),
        rows=order.astype(np.int64),
    )


_INT64_MAX = np.iinfo(np.int64).max
_FLOAT_EXACT = 2**53  # from here on floats skip integers (2**53 + 1 reads as 2**53)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _where(k: int, lines: np.ndarray | None) -> str:
    """``row k`` of an array, or ``line n`` of the file the rows were read from."""
    return f"row {k}" if lines is None else f"line {int(lines[k])}"


def _plain(v: Any) -> Any:
    """A NumPy scalar as the Python value it holds (for messages)."""
    return v.item() if isinstance(v, np.generic) else v


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(v))
    return False


def clean_ids(
    raw: Any, what: str, source: str = "input", lines: np.ndarray | None = None
) -> np.ndarray:
    """Ids checked and in one form: integers (also integral floats and Python ints)
    as int64, strings as they are.

    Raises DataError naming the row (``lines``: the file line) of the first id that
    is missing (NaN, None, pd.NA, NaT), a boolean, a float that is not integral (or
    above 2**53, where floats skip integers), an integer outside int64, a mix of
    numbers and strings, or of any other type.
    """
    raw = np.asarray(raw)

    def fail(k: int, why: str) -> None:
        raise DataError(
            f"{source} {_where(k, lines)}: {what} id {_plain(raw[k])!r} {why}; ids "
            "are integers or strings"
        )

    kind = raw.dtype.kind
    if len(raw) == 0 or kind in "US":
        return raw
    if kind == "b":
        fail(0, "is a boolean")
    if kind == "i":
        return raw.astype(np.int64, copy=False)
    if kind == "u":
        if raw.max() > _INT64_MAX:
            fail(int(np.argmax(raw)), "is above the int64 range")
        return raw.astype(np.int64)
    if kind == "f":
        bad = np.flatnonzero(np.isnan(raw))
        if len(bad):
            fail(int(bad[0]), "is missing (NaN)")
        bad = np.flatnonzero(np.abs(raw) >= _FLOAT_EXACT)
        if len(bad):
            fail(int(bad[0]), "is a float too large to be an exact integer")
        bad = np.flatnonzero(raw != np.floor(raw))
        if len(bad):
            fail(int(bad[0]), "is not an integer")
        return raw.astype(np.int64)
    if kind != "O":
        fail(0, f"has dtype {raw.dtype}")
    inferred = pd.api.types.infer_dtype(raw, skipna=False)
    if inferred == "string":
        return raw
    if inferred == "integer":
        try:
            return np.array(raw.tolist(), dtype=np.int64)
        except OverflowError:
            pass  # the loop below names the row
    seen: dict[str, int] = {}  # "number" / "string" -> first row
    for k, v in enumerate(raw.tolist()):
        if _missing(v):
            fail(k, "is missing")
        if isinstance(v, (bool, np.bool_)):
            fail(k, "is a boolean")
        if isinstance(v, (int, np.integer)):
            if not -_INT64_MAX - 1 <= v <= _INT64_MAX:
                fail(k, "is outside the int64 range")
            seen.setdefault("number", k)
        elif isinstance(v, (float, np.floating)):
            if abs(v) >= _FLOAT_EXACT:
                fail(k, "is a float too large to be an exact integer")
            if not float(v).is_integer():
                fail(k, "is not an integer")
            seen.setdefault("number", k)
        elif isinstance(v, str):
            seen.setdefault("string", k)
        else:
            fail(k, f"is a {type(v).__name__}")
        if len(seen) == 2:
            other = min(seen.values())
            fail(
                k,
                f"mixes types with the id {_plain(raw[other])!r} at "
                f"{_where(other, lines)}",
            )
    if "number" in seen:
        return np.array([int(v) for v in raw.tolist()], dtype=np.int64)
    return raw


def _encode(
    raw: np.ndarray, catalog: Any, what: str, source: str = "input"
) -> tuple[np.ndarray, np.ndarray]:
    """Map raw ids to 0..n-1. With a catalog, ids outside it raise UnknownIdError."""
    raw = clean_ids(raw, what, source)
    if catalog is None:
        catalog, codes = np.unique(raw, return_inverse=True)
        return catalog, codes.astype(np.int32)
    catalog = clean_ids(catalog, what, f"{source}: the {what} catalog")
    raw_int, cat_int = raw.dtype.kind == "i", catalog.dtype.kind == "i"
    if raw_int != cat_int:
        kind = {True: "integers", False: "strings"}
        raise UnknownIdError(
            f"{source}: the {what} ids are {kind[raw_int]} but the given {what} "
            f"catalog holds {kind[cat_int]}; pass ids of the catalog's type"
        )
    if len(np.unique(catalog)) != len(catalog):
        raise DataError(f"{source}: the {what} id catalog has repeated ids")
    sorter = np.argsort(catalog, kind="stable")
    pos = np.searchsorted(catalog, raw, sorter=sorter)
    pos = np.clip(pos, 0, len(catalog) - 1)
    codes = sorter[pos]
    bad = catalog[codes] != raw
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise UnknownIdError(
            f"{source} row {k}: {what} id {_plain(raw[k])!r} is not in the given "
            f"{what} catalog of {len(catalog)} ids"
        )
    return catalog, codes.astype(np.int32)


class Interactions:
    """(user, item, rating[, timestamp]) events with id maps and CSR views.

    Build with :meth:`from_arrays`, :meth:`from_dataframe`, :meth:`from_csr` (a
    scipy.sparse users x items matrix; :meth:`to_csr` goes back), or a loader such
    as :func:`minirec.data.load_movielens`. Internal indices are ``int32`` in
    ``[0, n_users)`` and ``[0, n_items)``; ratings are ``float32`` (all ones for
    implicit feedback); timestamps are ``int64`` seconds or ``None``.
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray | None,
        timestamps: np.ndarray | None,
        *,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
        name: str = "",
        implicit: bool | None = None,
    ) -> None:
        self.users = np.ascontiguousarray(users, dtype=np.int32)
        self.items = np.ascontiguousarray(items, dtype=np.int32)
        n = len(self.users)
        if len(self.items) != n:
            raise DataError(f"users has {n} entries but items has {len(self.items)}")
        if ratings is None:
            self.ratings = np.ones(n, dtype=np.float32)
            self.implicit = True if implicit is None else implicit
        else:
            self.ratings = np.ascontiguousarray(ratings, dtype=np.float32)
            self.implicit = False if implicit is None else implicit
            if len(self.ratings) != n:
                raise DataError(
                    f"ratings has {len(self.ratings)} entries, expected {n}"
                )
        self.timestamps = (
            None if timestamps is None else np.ascontiguousarray(timestamps, np.int64)
        )
        if self.timestamps is not None and len(self.timestamps) != n:
            raise DataError(
                f"timestamps has {len(self.timestamps)} entries, expected {n}"
            )
        self.user_ids = np.asarray(user_ids)
        self.item_ids = np.asarray(item_ids)
        self.user_features = user_features
        self.item_features = item_features
        self.name = name
        if n and (self.users.min() < 0 or self.users.max() >= len(self.user_ids)):
            raise DataError("internal user index out of range of user_ids")
        if n and (self.items.min() < 0 or self.items.max() >= len(self.item_ids)):
            raise DataError("internal item index out of range of item_ids")
        self._by_user: CSR | None = None
        self._by_item: CSR | None = None
        self._user_lookup: dict | None = None
        self._item_lookup: dict | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_arrays(
        cls,
        users: Any,
        items: Any,
        ratings: Any = None,
        timestamps: Any = None,
        *,
        user_ids: Any = None,
        item_ids: Any = None,
        duplicates: str = "error",
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
        name: str = "",
        source: str = "input",
    ) -> Interactions:
        """Build from raw ids: integers (int64; integral floats are read as
        integers) or strings.

        ``user_ids`` / ``item_ids`` fix the catalogs (e.g. every movie in movies.dat,
        also the unrated ones); otherwise the sorted distinct ids seen are used.
        ``source`` names the data in error messages (a file name, say). A missing
        (NaN, None, pd.NA), boolean, fractional or out-of-int64 id, a rating that is
        not a finite float32 and a missing timestamp raise DataError naming the row.
        """
        users = np.asarray(users)
        items = np.asarray(items)
        if users.ndim != 1 or items.ndim != 1:
            raise DataError(f"{source}: users and items must be 1-d arrays")
        if len(users) == 0:
            raise DataError(
                f"{source}: no interactions (empty data); check the file or filter"
            )
        if len(users) != len(items):
            raise DataError(
                f"{source}: {len(users)} users but {len(items)} items; "
                "the columns must have the same length"
            )
        if ratings is not None:
            ratings = _check_ratings(ratings, source)
        if timestamps is not None:
            timestamps = _check_timestamps(timestamps, source)
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(
                f"duplicates={duplicates!r}; choose one of {DUPLICATE_POLICIES}"
            )
        ucat, u = _encode(users, user_ids, "user", source)
        icat, i = _encode(items, item_ids, "item", source)
        u, i, ratings, timestamps = _dedupe(
            u, i, ratings, timestamps, duplicates, ucat, icat, source
        )
        return cls(
            u,
            i,
            ratings,
            timestamps,
            user_ids=ucat,
            item_ids=icat,
            user_features=user_features,
            item_features=item_features,
            name=name,
        )

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        user_col: str = "user",
        item_col: str = "item",
        rating_col: str | None = "rating",
        time_col: str | None = "timestamp",
        **kwargs: Any,
    ) -> Interactions:
        """Build from a DataFrame. The rating and time columns may be absent only
        when their arguments keep the defaults ("rating", "timestamp")."""
        for col in (user_col, item_col):
            if col not in df.columns:
                raise DataError(
                    f"column {col!r} not in the DataFrame (columns: {list(df.columns)})"
                )
        r = None
        if rating_col is not None:
            if rating_col in df.columns:
                r = df[rating_col].to_numpy()
            elif rating_col != "rating":
                raise DataError(f"rating column {rating_col!r} not in the DataFrame")
        t = None
        if time_col is not None:
            if time_col in df.columns:
                t = df[time_col].to_numpy()
            elif time_col != "timestamp":
                raise DataError(f"time column {time_col!r} not in the DataFrame")
        return cls.from_arrays(
            df[user_col].to_numpy(), df[item_col].to_numpy(), r, t, **kwargs
        )

    @classmethod
    def from_csr(
        cls,
        matrix: Any,
        user_ids: Any = None,
        item_ids: Any = None,
        *,
        implicit: bool | None = None,
        name: str = "",
        source: str = "matrix",
    ) -> Interactions:
        """Build from a users x items ``scipy.sparse`` matrix (CSR as ``implicit``
        takes it, or any other sparse format).

        Every row and column is kept, so internal user ``u`` is row ``u`` and internal
        item ``i`` is column ``i``; the raw ids default to ``0..n-1`` (``user_ids`` /
        ``item_ids`` name them, one distinct id per row / column). The stored values
        are the ratings (or confidences); stored zeros are not interactions, and
        repeated entries (a COO matrix) are summed, as scipy reads them.
        ``implicit=None`` marks the data implicit when every stored value is 1.
        """
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise TypeError(
                f"{source}: from_csr takes a scipy.sparse matrix, got "
                f"{type(matrix).__name__}; wrap a dense array as "
                "scipy.sparse.csr_matrix(array), or use from_arrays for id triples"
            )
        if matrix.ndim != 2:
            raise DataError(
                f"{source}: a {matrix.ndim}-d sparse array; pass users x items"
            )
        m = sp.csr_matrix(matrix, copy=True)  # the caller's matrix is left as it is
        n_users, n_items = m.shape
        if max(n_users, n_items) > np.iinfo(np.int32).max:
            raise DataError(
                f"{source}: shape {m.shape} exceeds the int32 range of internal indices"
            )
        if m.dtype.kind not in "biuf":
            raise DataError(f"{source}: values of dtype {m.dtype} are not ratings")
        m.sum_duplicates()  # also sorts the columns of each row
        m.data = m.data.astype(np.float64)
        users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(m.indptr))
        bad = np.flatnonzero(~np.isfinite(m.data) | (np.abs(m.data) > _FLOAT32_MAX))
        if len(bad):
            k = int(bad[0])
            raise DataError(
                f"{source} row {users[k]}, column {m.indices[k]}: value {m.data[k]} is "
                f"NaN, inf or beyond the float32 range; fix or drop that entry"
            )
        keep = m.data != 0
        ratings = m.data[keep].astype(np.float32)
        ucat = _default_ids(user_ids, n_users, "user", source, "rows")
        icat = _default_ids(item_ids, n_items, "item", source, "columns")
        if implicit is None:
            implicit = bool(np.all(ratings == 1))
        return cls(
            users[keep],
            m.indices[keep],
            ratings,
            None,
            user_ids=ucat,
            item_ids=icat,
            name=name,
            implicit=implicit,
        )

    def to_csr(self) -> Any:
        """The ``n_users x n_items`` ``scipy.sparse.csr_matrix`` of the ratings
        (float32; row ``u`` is internal user ``u``, column ``i`` internal item ``i``).
        Repeated (user, item) pairs (``duplicates="keep"``) are summed into one
        entry; :meth:`from_csr` reads the matrix back (stored zeros aside)."""
        import scipy.sparse as sp

        c = self.by_user
        m = sp.csr_matrix(
            (c.data.copy(), c.indices.copy(), c.indptr.copy()), shape=self.shape
        )
        m.sum_duplicates()
        return m

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @property
    def has_timestamps(self) -> bool:
        return self.timestamps is not None

    @property
    def density(self) -> float:
        return len(self) / max(1, self.n_users * self.n_items)

    def __repr__(self) -> str:
        kind = "implicit" if self.implicit else "ratings"
        ts = ", timestamps" if self.has_timestamps else ""
        nm = f"{self.name}: " if self.name else ""
        return (
            f"<Interactions {nm}{len(self):,} {kind}{ts}, {self.n_users:,} users x "
            f"{self.n_items:,} items, density {self.density:.4%}>"
        )

    def describe(self) -> dict:
        """Counts and rating statistics as a dict (for printing or JSON)."""
        d = {
            "name": self.name,
            "interactions": len(self),
            "users": self.n_users,
            "items": self.n_items,
            "users_with_data": int((self.by_user.lengths() > 0).sum()),
            "items_with_data": int((self.by_item.lengths() > 0).sum()),
            "density": self.density,
            "implicit": self.implicit,
            "timestamps": self.has_timestamps,
        }
        if not self.implicit and len(self):
            d.update(
                rating_min=float(self.ratings.min()),
                rating_max=float(self.ratings.max()),
                rating_mean=float(self.ratings.mean()),
            )
        return d

    # ------------------------------------------------------------------ id maps
    def _lookup(self, which: str) -> dict:
        if which == "user":
            if self._user_lookup is None:
                self._user_lookup = {k: n for n, k in enumerate(self.user_ids.tolist())}
            return self._user_lookup
        if self._item_lookup is None:
            self._item_lookup = {k: n for n, k in enumerate(self.item_ids.tolist())}
        return self._item_lookup

    def _index(self, which: str, raw: Any, missing: str) -> np.ndarray:
        table = self._lookup(which)
        ids = self.user_ids if which == "user" else self.item_ids
        numeric = ids.dtype.kind in "iu"
        scalar = np.ndim(raw) == 0
        values = np.atleast_1d(np.asarray(raw, dtype=object)).tolist()
        out = np.empty(len(values), dtype=np.int64)
        for k, v in enumerate(values):
            key = _lookup_key(v, numeric)
            idx = None if key is None else table.get(key)
            if idx is None:
                if missing == "raise":
                    raise UnknownIdError(
                        f"unknown {which} id {v!r}: not among the {len(table):,} "
                        f"{which}s of the training data"
                    )
                idx = -1
            out[k] = idx
        return out[0] if scalar else out

    def user_index(self, raw: Any, missing: str = "raise") -> np.ndarray:
        """Internal indices of raw user ids; unknown ids raise, or give -1 with
        ``missing="ignore"``."""
        return self._index("user", raw, missing)

    def item_index(self, raw: Any, missing: str = "raise") -> np.ndarray:
        """Internal indices of raw item ids (see :meth:`user_index`)."""
        return self._index("item", raw, missing)

    # ------------------------------------------------------------------ views
    @property
    def by_user(self) -> CSR:
        """CSR with one row per user: the items they interacted with."""
        if self._by_user is None:
            self._by_user = _build_csr(
                self.users, self.items, self.ratings, self.n_users
            )
        return self._by_user

    @property
    def by_item(self) -> CSR:
        """CSR with one row per item: the users who interacted with it."""
        if self._by_item is None:
            self._by_item = _build_csr(
                self.items, self.users, self.ratings, self.n_items
            )
        return self._by_item

    def item_counts(self) -> np.ndarray:
        """Number of interactions of each item (popularity), int64."""
        return np.bincount(self.items, minlength=self.n_items)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def to_dense(self) -> np.ndarray:
        """The n_users x n_items rating matrix with zeros for missing entries."""
        return self.by_user.to_dense(self.n_items)

    def to_dataframe(self, raw_ids: bool = True) -> pd.DataFrame:
        """One row per interaction, with raw ids (or internal ones)."""
        d = {
            "user": self.user_ids[self.users] if raw_ids else self.users,
            "item": self.item_ids[self.items] if raw_ids else self.items,
            "rating": self.ratings,
        }
        if self.timestamps is not None:
            d["timestamp"] = self.timestamps
        return pd.DataFrame(d)

    @property
    def item_titles(self) -> np.ndarray | None:
        """Titles of items (internal order) when the item table has a title column."""
        if self.item_features is not None and "title" in self.item_features:
            return self.item_features["title"].to_numpy()
        return None

    def subset(self, rows: Any, name: str | None = None) -> Interactions:
        """The interactions at `rows` (indices or a boolean mask), same id maps."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return Interactions(
            self.users[rows],
            self.items[rows],
            self.ratings[rows],
            None if self.timestamps is None else self.timestamps[rows],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            user_features=self.user_features,
            item_features=self.item_features,
            name=self.name if name is None else name,
            implicit=self.implicit,
        )

    def same_ids(self, other: Interactions) -> bool:
        """True when `other` uses the same internal id space."""
        return (
            self.n_users == other.n_users
            and self.n_items == other.n_items
            and np.array_equal(self.user_ids, other.user_ids)
            and np.array_equal(self.item_ids, other.item_ids)
        )


def _check_ratings(
    ratings: Any, source: str, lines: np.ndarray | None = None
) -> np.ndarray:
    """Ratings as float32; a non-number, NaN, inf or a value beyond float32 raises
    DataError naming the row (``lines``: the file line)."""
    r = np.asarray(ratings)
    if not np.issubdtype(r.dtype, np.number) or r.dtype == bool:
        num = pd.to_numeric(pd.Series(r), errors="coerce").to_numpy()
        bad = np.flatnonzero(np.isnan(num) & ~pd.isna(pd.Series(r)).to_numpy())
        if len(bad):
            raise DataError(
                f"{source} {_where(int(bad[0]), lines)}: rating "
                f"{_plain(r[bad[0]])!r} is not a number"
            )
        r = num
    r = r.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(r))
    if len(bad):
        raise DataError(
            f"{source} {_where(int(bad[0]), lines)}: rating is {r[bad[0]]} (NaN or "
            "inf); drop or fill missing ratings before building Interactions"
        )
    bad = np.flatnonzero(np.abs(r) > _FLOAT32_MAX)
    if len(bad):
        raise DataError(
            f"{source} {_where(int(bad[0]), lines)}: rating {r[bad[0]]:g} is beyond "
            f"the float32 range (|rating| <= {_FLOAT32_MAX:.3g}); rescale the ratings"
        )
    return r.astype(np.float32)


def _check_timestamps(timestamps: Any, source: str) -> np.ndarray:
    """Timestamps as int64 seconds (numbers: seconds, fractions dropped; dates and
    date strings: seconds since 1970 UTC); a missing (NaN, NaT, None) or unreadable
    one raises DataError naming the row."""
    t = np.asarray(timestamps)
    if t.dtype == object and pd.api.types.infer_dtype(t, skipna=False) in (
        "integer",
        "floating",
        "mixed-integer-float",
    ):
        t = t.astype(np.float64)
    if t.dtype.kind in "iu":
        if t.dtype.kind == "u" and len(t) and t.max() > _INT64_MAX:
            k = int(np.argmax(t))
            raise DataError(
                f"{source} row {k}: timestamp {t[k]} is above the int64 range"
            )
        return t.astype(np.int64)
    if t.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(t) | (np.abs(t) >= 2.0**63))
        if len(bad):
            k = int(bad[0])
            raise DataError(
                f"{source} row {k}: timestamp is {t[k]} (missing or out of range); "
                "drop or fill missing timestamps before building Interactions"
            )
        return np.floor(t).astype(np.int64)
    if t.dtype.kind == "b":
        raise DataError(f"{source} row 0: timestamp {t[0]!r} is a boolean")
    series = pd.Series(t)
    missing = series.isna().to_numpy()
    try:
        dates = pd.to_datetime(series, errors="coerce", utc=True)
    except (TypeError, ValueError) as e:
        raise DataError(f"{source}: timestamps are not dates or numbers ({e})") from e
    bad = np.flatnonzero(missing | dates.isna().to_numpy())
    if len(bad):
        k = int(bad[0])
        why = "missing (NaN, NaT or None)" if missing[k] else "not a date"
        raise DataError(
            f"{source} row {k}: timestamp {_plain(t[k])!r} is {why}; drop or fill "
            "missing timestamps before building Interactions"
        )
    return pd.DatetimeIndex(dates).as_unit("s").asi8.astype(np.int64)


def _default_ids(ids: Any, n: int, what: str, source: str, axis: str) -> np.ndarray:
    """``0..n-1``, or the given ids checked: one distinct id per row / column."""
    if ids is None:
        return np.arange(n, dtype=np.int64)
    ids = clean_ids(ids, what, f"{source} {what}_ids")
    if ids.ndim != 1 or len(ids) != n:
        raise DataError(
            f"{source}: {what}_ids has {len(ids)} entries but the matrix has {n} "
            f"{axis}; pass one id per {axis[:-1]}"
        )
    if len(np.unique(ids)) != n:
        raise DataError(f"{source}: {what}_ids has repeated ids; each must be distinct")
    return ids


def _lookup_key(v: Any, numeric: bool) -> Any:
    """The catalog key a looked-up id stands for, or None when it stands for none:
    an integer catalog takes ints, integral floats and integer strings ("42", as ids
    read from text arrive); a string catalog takes strings and ints (42 -> "42").
    Booleans, NaN and fractional floats match nothing."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if numeric:
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return int(v) if float(v).is_integer() else None
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                return None
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (int, np.integer)):
        return str(v)
    return None


def _dedupe(u, i, r, t, policy, ucat, icat, source):
    if policy == "keep":
        return u, i, r, t
    key = u.astype(np.int64) * len(icat) + i
    if policy == "error":
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        if (counts > 1).any():
            k = int(np.flatnonzero(counts > 1)[0])
            dup = np.flatnonzero(key == key[first[k]])
            raise DataError(
                f"{source}: duplicate (user, item) pair ({ucat[u[dup[0]]]!r}, "
                f"{icat[i[dup[0]]]!r}) at rows {dup[0]} and {dup[1]}; pass "
                "duplicates='last', 'first', 'mean' or 'keep' to choose a policy"
            )
        return u, i, r, t
    n = len(key)
    if policy in ("first", "last"):
        order = np.arange(n) if t is None else np.lexsort((np.arange(n), t))
        if policy == "last":
            order = order[::-1]
        _, pos = np.unique(key[order], return_index=True)
        keep = np.sort(order[pos])
        return (
            u[keep],
            i[keep],
            None if r is None else r[keep],
            None if t is None else t[keep],
        )
    # mean
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    keep = np.sort(first)
    remap = np.empty(len(uniq), dtype=np.int64)
    remap[np.argsort(first)] = np.arange(len(uniq))
    slot = remap[inv]
    out_r = None
    if r is not None:
        sums = np.bincount(slot, weights=r, minlength=len(uniq))
        out_r = (sums / np.bincount(slot, minlength=len(uniq))).astype(np.float32)
    out_t = None
    if t is not None:
        out_t = np.full(len(uniq), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(out_t, slot, t)
    return u[keep], i[keep], out_r, out_t
