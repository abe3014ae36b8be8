"""Side features in the sparse *field* format that FM (and later DeepFM) train on.

A factorization machine sees each rating as a sparse vector x ∈ R^n_features: one
1 for the user id, one 1 for the item id, one 1 per categorical side feature
(gender, age bucket, occupation, ...) and the item's genres as a multi-hot group
whose values are normalised to sum to 1 (doc 000 §4.2; Rendle 2010, Fig. 1). Every
row has the same fields, so the nonzeros are stored with a **fixed width** W:

* ``idx`` (n, W) ``int32``: global feature index of slot s of row n,
* ``val`` (n, W) ``float32``: its value x (0.0 in padding slots, e.g. an item with
  fewer genres than the widest item; kernels skip slots with x = 0),
* ``slot_field`` (W,) ``int32``: which field each slot belongs to (DeepFM pools the
  slots of a field into one field embedding).

A row is the user's block (the user's slots) followed by the item's block, so the
encoder stores one block per user and one per item and :meth:`FMFields.rows`
gathers them for any (user, item) pairs: nothing per rating is stored twice, and a
fitted model can score pairs without the original tables.

Feature index layout: fields are laid out one after another; field f owns indices
``offsets[f] .. offsets[f] + sizes[f] - 1``, in the order user id, item id, the user
fields, the item fields. ``feature_names`` names each index (``"user=42"``,
``"gender=F"``, ``"genre=Comedy"``).

Fields (``user_fields`` / ``item_fields``):

``"auto"``
    every known field present in the table: users ``gender``, ``age``,
    ``occupation``; items ``genres``.
``"gender"``, ``"occupation"``, ``"zip"`` ...
    any column of the table, one-hot over its distinct values (a missing value is
    its own category ``<missing>``). ``"zip1"`` is the first character of ``zip``.
``"age"``
    one-hot; ages in years (ML-100k) are bucketed with ML-1M's bounds
    (<18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+) so both datasets share a field.
``"genres"``
    the ``genre:<Name>`` 0/1 columns as one multi-hot field, values 1/(number of
    genres of the item); an item with no genre has only padding in this field.
``"decade"``
    the item's ``year`` column bucketed by decade (``<missing>`` when NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .interactions import Interactions

__all__ = ["FMFields", "build_fm_fields", "AGE_BOUNDS"]

#: ML-1M's age codes are the lower bounds of these buckets
AGE_BOUNDS = (1, 18, 25, 35, 45, 50, 56)
_AUTO_USER = ("gender", "age", "occupation")
_AUTO_ITEM = ("genres",)
_MISSING = "<missing>"


@dataclass
class FMFields:
    """Per-user and per-item feature blocks in FM's fixed-width field format.

    Attributes
    ----------
    user_idx, user_val : (n_users, Wu) int32 / float32
        The user block of every internal user (user id first).
    item_idx, item_val : (n_items, Wi) int32 / float32
        The item block of every internal item (item id first).
    field_names : list of str
        Field names, in index order (``"user"``, ``"item"``, then side fields).
    offsets, sizes : (n_fields,) int64
        First global index and number of features of each field.
    slot_field : (Wu + Wi,) int32
        Field of each slot of a row.
    feature_names : (n_features,) str
        Name of each global feature index.
    """

    user_idx: np.ndarray
    user_val: np.ndarray
    item_idx: np.ndarray
    item_val: np.ndarray
    field_names: list[str]
    offsets: np.ndarray
    sizes: np.ndarray
    slot_field: np.ndarray
    feature_names: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.sizes.sum())

    @property
    def width(self) -> int:
        """Slots per row, W = Wu + Wi."""
        return self.user_idx.shape[1] + self.item_idx.shape[1]

    def rows(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(idx, val)`` of shape (n, W) for the (internal user, item) pairs."""
        users = np.asarray(users)
        items = np.asarray(items)
        idx = np.concatenate([self.user_idx[users], self.item_idx[items]], axis=1)
        val = np.concatenate([self.user_val[users], self.item_val[items]], axis=1)
        return np.ascontiguousarray(idx), np.ascontiguousarray(val)

    def for_data(self, data: Interactions) -> tuple[np.ndarray, ...]:
        """``(idx, val)`` rows of every interaction of `data`, in its order."""
        return self.rows(data.users, data.items)

    def describe(self) -> str:
        parts = [f"{n} ({s})" for n, s in zip(self.field_names, self.sizes.tolist())]
        return (
            f"{self.n_features:,} features in {len(self.field_names)} fields: "
            + ", ".join(parts)
            + f"; {self.width} slots per row"
        )

    # ---------------------------------------------------------------- persistence
    def state(self, prefix: str = "fields/") -> dict[str, np.ndarray]:
        """Arrays to store in a model file (no pickles)."""
        return {
            f"{prefix}user_idx": self.user_idx,
            f"{prefix}user_val": self.user_val,
            f"{prefix}item_idx": self.item_idx,
            f"{prefix}item_val": self.item_val,
            f"{prefix}field_names": np.array(self.field_names, dtype=str),
            f"{prefix}offsets": self.offsets,
            f"{prefix}sizes": self.sizes,
            f"{prefix}slot_field": self.slot_field,
            f"{prefix}feature_names": self.feature_names.astype(str),
        }

    @classmethod
    def from_state(cls, s: dict[str, np.ndarray], prefix: str = "fields/") -> FMFields:
        return cls(
            user_idx=s[f"{prefix}user_idx"],
            user_val=s[f"{prefix}user_val"],
            item_idx=s[f"{prefix}item_idx"],
            item_val=s[f"{prefix}item_val"],
            field_names=[str(x) for x in s[f"{prefix}field_names"].tolist()],
            offsets=s[f"{prefix}offsets"],
            sizes=s[f"{prefix}sizes"],
            slot_field=s[f"{prefix}slot_field"],
            feature_names=s[f"{prefix}feature_names"],
        )


# --------------------------------------------------------------------------- encoders
def _bucket_age(col: pd.Series) -> pd.Series:
    """Ages in years -> ML-1M's bucket codes; ML-1M codes pass through unchanged."""
    v = pd.to_numeric(col, errors="coerce")
    if v.dropna().isin(AGE_BOUNDS).all():
        return v.astype("Int64")
    bounds = np.array(AGE_BOUNDS)
    arr = v.to_numpy(dtype=np.float64, na_value=np.nan)
    out = bounds[np.clip(np.searchsorted(bounds, arr, side="right") - 1, 0, None)]
    out = pd.Series(np.where(np.isnan(arr), np.nan, out), index=col.index)
    return out.astype("Int64")


def _categorical(
    table: pd.DataFrame, name: str, who: str
) -> tuple[np.ndarray, list[str]]:
    """Codes 0..c-1 of one categorical field and the names of its categories."""
    if name == "zip1" and "zip" in table.columns:
        col = table["zip"].astype("string").str[:1]
    elif name == "decade" and "year" in table.columns:
        y = pd.to_numeric(table["year"], errors="coerce")
        col = (y // 10 * 10).astype("Int64").astype("string") + "s"
    elif name not in table.columns:
        cols = [c for c in table.columns if not str(c).startswith("genre:")]
        raise DataError(
            f"{who}_fields: {name!r} is not a column of the {who} feature table "
            f"(columns: {cols}); pick from those or use 'auto'"
        )
    elif name == "age":
        col = _bucket_age(table[name])
    else:
        col = table[name]
    s = col.astype("string").fillna(_MISSING)
    cats = sorted(s.unique().tolist(), key=lambda c: (c == _MISSING, _natural(c)))
    lookup = {c: n for n, c in enumerate(cats)}
    codes = s.map(lookup).to_numpy(dtype=np.int64)
    return codes, [f"{name}={c}" for c in cats]


def _natural(c: str):
    """Sort key that orders numeric strings by value ("1" < "18" < "56")."""
    try:
        return (0, float(c), "")
    except ValueError:
        return (1, 0.0, c)


def _genres(table: pd.DataFrame, who: str) -> tuple[np.ndarray, list[str]]:
    cols = [c for c in table.columns if str(c).startswith("genre:")]
    if not cols:
        raise DataError(
            f"{who}_fields: 'genres' needs 'genre:<Name>' 0/1 columns in the {who} "
            "feature table (load_movielens provides them); none found"
        )
    G = table[cols].to_numpy(dtype=np.float64)
    if np.isnan(G).any() or (G < 0).any():
        raise DataError(f"{who} table: genre columns must be 0/1 flags without NaN")
    return G, [f"genre={str(c)[6:]}" for c in cols]


def _resolve(fields: str | Sequence[str] | None, table, auto, who) -> list[str]:
    if fields is None:
        return []
    if isinstance(fields, str):
        if fields != "auto":
            fields = [fields]
        elif table is None:
            return []
        else:
            have = set(table.columns)
            out = []
            for f in auto:
                if f == "genres":
                    if any(str(c).startswith("genre:") for c in have):
                        out.append(f)
                elif f in have:
                    out.append(f)
            return out
    fields = list(fields)
    if fields and table is None:
        raise DataError(
            f"{who}_fields={fields} but the data has no {who} feature table; load "
            f"MovieLens with load_movielens (it attaches {who}_features) or pass "
            f"{who}_fields=None"
        )
    if len(set(fields)) != len(fields):
        raise DataError(f"{who}_fields={fields} names a field twice")
    return fields


def _block(
    table: pd.DataFrame | None,
    fields: list[str],
    n_rows: int,
    id_name: str,
    start: int,
    who: str,
) -> tuple:
    """Fixed-width block of one side (id field first), with global indices."""
    if table is not None and len(table) != n_rows:
        raise DataError(
            f"the {who} feature table has {len(table)} rows but the data has "
            f"{n_rows} {who}s; row r must describe internal {who} r"
        )
    names = [id_name]
    sizes = [n_rows]
    idx_cols = [np.arange(n_rows, dtype=np.int64)[:, None]]
    val_cols = [np.ones((n_rows, 1))]
    feat_names = [f"{id_name}={r}" for r in range(n_rows)]
    slot_field_local = [0]
    for f in fields:
        if f == "genres":
            G, cat_names = _genres(table, who)
            width = max(1, int((G > 0).sum(axis=1).max()))
            idx = np.zeros((n_rows, width), dtype=np.int64)
            val = np.zeros((n_rows, width))
            for r in range(n_rows):  # a few thousand rows: a plain loop is clear
                nz = np.flatnonzero(G[r] > 0)
                if len(nz):
                    idx[r, : len(nz)] = nz
                    val[r, : len(nz)] = G[r, nz] / G[r, nz].sum()
                    idx[r, len(nz) :] = nz[0]  # padding points at a real feature
        else:
            codes, cat_names = _categorical(table, f, who)
            idx, val, width = codes[:, None], np.ones((n_rows, 1)), 1
        off = sum(sizes)
        names.append(f)
        sizes.append(len(cat_names))
        idx_cols.append(idx + off)
        val_cols.append(val)
        feat_names += cat_names
        slot_field_local += [len(names) - 1] * width
    idx = np.concatenate(idx_cols, axis=1) + start
    val = np.concatenate(val_cols, axis=1)
    return (
        names,
        sizes,
        idx.astype(np.int32),
        val.astype(np.float32),
        feat_names,
        slot_field_local,
    )


def build_fm_fields(
    data: Interactions,
    user_fields: str | Sequence[str] | None = "auto",
    item_fields: str | Sequence[str] | None = "auto",
) -> FMFields:
    """Encode the side tables of `data` as FM field blocks.

    Parameters
    ----------
    data : Interactions
        Its ``user_features`` / ``item_features`` tables (row r = internal id r)
        give the side fields; the id fields always come first.
    user_fields, item_fields : "auto", list of str, or None
        Which side fields to use (see the module docstring); None for ids only.

    Returns
    -------
    FMFields

    Raises
    ------
    DataError
        A field that is not in the table, a table whose length differs from the
        number of users/items, or NaN/negative genre flags.
    """
    ufields = _resolve(user_fields, data.user_features, _AUTO_USER, "user")
    ifields = _resolve(item_fields, data.item_features, _AUTO_ITEM, "item")
    un, us, ui, uv, ufn, usf = _block(
        data.user_features, ufields, data.n_users, "user", 0, "user"
    )
    ioff = int(sum(us))
    inn, isz, ii, iv, ifn, isf = _block(
        data.item_features, ifields, data.n_items, "item", ioff, "item"
    )
    sizes = np.array(us + isz, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    slot_field = np.array(usf + [f + len(un) for f in isf], dtype=np.int32)
    return FMFields(
        user_idx=ui,
        user_val=uv,
        item_idx=ii,
        item_val=iv,
        field_names=un + inn,
        offsets=offsets,
        sizes=sizes,
        slot_field=slot_field,
        feature_names=np.array(ufn + ifn, dtype=str),
    )
