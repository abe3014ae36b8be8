"""Reading and checking model files (:meth:`Recommender.save` / ``load``).

A model file is an ``.npz``: a zip of ``.npy`` members (the state arrays, the id
maps, the seen-item CSR) and a JSON metadata string. Loading trusts nothing in it:

1. every member's ``.npy`` header is read before any data (dtype and shape), object,
   structured and complex dtypes are refused, and the total size the headers
   declare is capped before anything is allocated (:func:`size_cap`);
2. the metadata must hold its required keys with their types;
3. every array's dtype and shape are checked against a schema: the base arrays'
   (:data:`BASE_SCHEMA`), the model class's ``state_schema`` (and the FM field
   blocks' :data:`FIELDS_SCHEMA` when present); dimensions are ``n_users`` and
   ``n_items`` (the id arrays' lengths), the class's ``state_dims`` aliases (a name
   for another, or ``"<= other"``: a free name at most the other's value),
   integer hyperparameters of the model (e.g. ``k``) and free names bound by the
   first array that uses them (e.g. the number of stored neighbours);
4. after reading: every floating-point array of the state and the base is finite,
   index arrays lie within their bound, CSR pointer arrays start at 0, never
   decrease and end at their indices' length, id arrays hold no duplicate.

Any violation raises :class:`~minirec.errors.ModelFileError` naming the file and
the field. A schema entry is one string::

    "<dtype> (<dim>, ...) [< <dim>] [indptr <key> [sorted]] [unique] [optional]"

``<dtype>`` is a NumPy name (``float32``, ``int64``...) or a kind: ``float``, ``int``
(signed or unsigned), ``str`` (unicode), ``id`` (int or str); ``< n`` bounds the
values to [0, n); ``indptr key`` makes the array the row pointer of the indices
array ``key`` (``sorted``: column indices increase within each row); ``unique``
refuses duplicates; ``optional`` lets the array be absent. A dimension is a name,
an integer or a sum of them (``n_items+1``). Metadata specs (``meta_schema`` of a
class, for its ``extra`` dict) use the same form with the JSON types ``float``,
``int``, ``str``, ``bool``, ``dict``, ``list`` (``float (2,)``: a list of two).
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from ..errors import ModelFileError

#: environment variable that overrides the cap on the bytes a model file declares
MAX_BYTES_ENV = "MINIREC_MAX_MODEL_BYTES"
#: absolute cap on the declared bytes of all arrays of a file, by default
DEFAULT_MAX_BYTES = 16 << 30
#: without an explicit cap, a file may declare at most this many times its own size
#: (zip bombs reach about 1000; model arrays compress far less)...
MAX_EXPANSION = 100
#: ...or this many bytes, whichever is larger
EXPANSION_FLOOR = 64 << 20
#: members a model file may hold
MAX_MEMBERS = 10_000
#: bytes the JSON metadata may declare
MAX_META_BYTES = 16 << 20

BASE_SCHEMA: dict[str, str] = {
    "__user_ids__": "id (n_users,) unique",
    "__item_ids__": "id (n_items,) unique",
    "__seen_indptr__": "int (n_users+1,) indptr __seen_indices__",
    "__seen_indices__": "int (n_seen,) < n_items",
    "__seen_data__": "float (n_seen,) optional",
    "__item_popularity__": "float (n_items,)",
    "__item_mean__": "float (n_items,)",
    "__item_titles__": "str (n_items,) optional",
}

#: the arrays of :meth:`minirec.data.features.FMFields.state` (FM, DeepFM)
FIELDS_SCHEMA: dict[str, str] = {
    "fields/user_idx": "int32 (n_users, n_user_slots) < n_features",
    "fields/user_val": "float32 (n_users, n_user_slots)",
    "fields/item_idx": "int32 (n_items, n_item_slots) < n_features",
    "fields/item_val": "float32 (n_items, n_item_slots)",
    "fields/field_names": "str (n_fields,)",
    "fields/offsets": "int64 (n_fields,) < n_features+1",
    "fields/sizes": "int64 (n_fields,) < n_features+1",
    "fields/slot_field": "int32 (n_user_slots+n_item_slots,) < n_fields",
    "fields/feature_names": "str (n_features,)",
}

META_SCHEMA: dict[str, str] = {
    "class": "str",
    "name": "str",
    "params": "dict",
    "global_mean": "float",
    "extra": "dict optional",
    "fit_info": "dict optional",
    "fitted": "dict optional",
}

_ARRAY_KINDS = {
    "float": "f",
    "int": "iu",
    "str": "U",
    "id": "iuU",
}
_JSON_TYPES = {
    "float": (int, float),
    "int": (int,),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
}
# what a stored dtype may be at all: bool, integers, floats, unicode
_STORABLE_KINDS = "biufU"
_FITTED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_\Z")


# ------------------------------------------------------------------ specs
@dataclass(frozen=True)
class Spec:
    """One parsed schema entry (see the module docstring)."""

    dtype: str
    dims: tuple[str, ...] | None
    below: str | None = None
    indptr_of: str | None = None
    sorted_rows: bool = False
    unique: bool = False
    optional: bool = False

    def text(self) -> str:
        dims = "" if self.dims is None else " (" + ", ".join(self.dims) + ",)"
        return self.dtype + dims


_SPEC = re.compile(r"\s*(?P<dtype>\w+)\s*(?:\((?P<dims>[^)]*)\))?\s*(?P<rest>.*)\Z")


@functools.cache
def parse_spec(text: str) -> Spec:
    """A schema string as a :class:`Spec`; ValueError for a malformed one."""
    m = _SPEC.match(text)
    if m is None:
        raise ValueError(f"schema entry {text!r} is malformed")
    dims = None
    if m["dims"] is not None:
        dims = tuple(
            d.strip().replace(" ", "") for d in m["dims"].split(",") if d.strip()
        )
    words = m["rest"].split()
    kw: dict[str, Any] = {}
    n = 0
    while n < len(words):
        w = words[n]
        if w in ("<", "indptr") and n + 1 < len(words):
            kw["below" if w == "<" else "indptr_of"] = words[n + 1]
            n += 2
            continue
        if w in ("sorted", "unique", "optional"):
            kw[{"sorted": "sorted_rows"}.get(w, w)] = True
            n += 1
            continue
        raise ValueError(f"schema entry {text!r}: unknown word {w!r}")
    return Spec(m["dtype"], dims, **kw)


class Dims:
    """Values of the dimension names of a schema for one file."""

    def __init__(self, params: dict, aliases: dict[str, str], where: str) -> None:
        self.params = params
        self.aliases = aliases
        self.where = where
        self.values: dict[str, int] = {}
        self.bound_by: dict[str, str] = {}

    def known(self, name: str) -> int | None:
        """The value of one name (no sums), None while unbound."""
        if name.isdigit():
            return int(name)
        if name in self.aliases and not self.aliases[name].startswith("<="):
            return self.known(self.aliases[name])
        if name in self.values:
            return self.values[name]
        if name not in self.params:
            return None
        v = self.params[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ModelFileError(
                f"{self.where}: hyperparameter {name}={v!r} in the metadata must be "
                "an integer (it sets the shape of stored arrays)"
            )
        return int(v)

    def value(self, expr: str) -> int | None:
        total = 0
        for part in expr.split("+"):
            v = self.known(part)
            if v is None:
                return None
            total += v
        return total

    def bind(self, expr: str, size: int, key: str) -> None:
        """Bind the one unbound name of `expr` (``name`` or ``name+number``) so
        that `expr` equals `size`, the length seen in array `key`."""
        name, _, rest = expr.partition("+")
        if "+" in rest or (rest and not rest.isdigit()) or self.value(expr) is not None:
            return
        while name in self.aliases and not self.aliases[name].startswith("<="):
            name = self.aliases[name]
        if self.known(name) is None and size - int(rest or 0) >= 0:
            self.values[name] = size - int(rest or 0)
            self.bound_by[name] = key

    def explain(self, expr: str) -> str:
        """``"name=value from array"`` for each name in `expr`."""
        out = []
        for part in expr.split("+"):
            if part.isdigit():
                continue
            name = part
            while name in self.aliases and not self.aliases[name].startswith("<="):
                name = self.aliases[name]
            src = self.bound_by.get(name)
            out.append(f"{part}={self.value(part)}" + (f" from {src}" if src else ""))
        return ", ".join(out)

    def ceiling(self, expr: str) -> int | None:
        """The value of `expr`, or for a free ``"<= other"`` name left unbound
        (used only as a bound), the other's value."""
        v = self.value(expr)
        text = self.aliases.get(expr, "")
        if v is None and text.startswith("<="):
            return self.value(text[2:].strip())
        return v

    def check_ceilings(self) -> None:
        """Aliases ``"<= other"``: a free name at most another's value."""
        for name, text in self.aliases.items():
            if not text.startswith("<="):
                continue
            limit = self.value(text[2:].strip())
            v = self.values.get(name)
            if v is not None and limit is not None and v > limit:
                raise ModelFileError(
                    f"{self.where}: array {self.bound_by[name]} implies {name}={v}, "
                    f"more than {text[2:].strip()}={limit}; the file is damaged"
                )


# ------------------------------------------------------------------ opening
def source_name(source: Any) -> str:
    """How error messages name a path or file object."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None)
    return f"file {name}" if isinstance(name, str) else f"<{type(source).__name__}>"


def is_file_object(obj: Any) -> bool:
    return not isinstance(obj, (str, bytes, os.PathLike)) and (
        hasattr(obj, "read") or hasattr(obj, "write")
    )


def save_path(path: Any) -> Path:
    """The file a path argument of ``save`` names: ``.npz`` appended when it has
    another suffix or none; a folder raises IsADirectoryError."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"save() takes a path or an open binary file, got {type(path).__name__}"
        )
    path = Path(path)
    if path.is_dir() or str(path).endswith(os.sep):
        raise IsADirectoryError(
            f"save({str(path)!r}): that is a folder; give a file name inside it, "
            f"e.g. {path / 'model.npz'}"
        )
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return path


def write_file_object(f: Any, data: bytes) -> None:
    """Write `data` to an open binary file; a text file raises TypeError."""
    if isinstance(f, io.TextIOBase) or not hasattr(f, "write"):
        raise TypeError(
            f"save(): {source_name(f)} is not a file opened for binary writing; open "
            "it with mode 'wb'"
        )
    f.write(data)
    flush = getattr(f, "flush", None)
    if flush is not None:
        flush()


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


# ------------------------------------------------------------------ the file
@dataclass
class Member:
    key: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    KeyError,
    zlib.error,
)


class ModelFile:
    """An opened model file: the headers of its members, read on open; the data
    of a member on demand. Use as a context manager."""

    def __init__(self, source: Any) -> None:
        self.name = source_name(source)
        if is_file_object(source):
            if isinstance(source, io.TextIOBase) or not hasattr(source, "read"):
                raise TypeError(
                    f"load(): {self.name} is not a file opened for binary reading; "
                    "open it with mode 'rb'"
                )
            raw = source if _seekable(source) else io.BytesIO(source.read())
            if not isinstance(raw.read(0), bytes):
                raise TypeError(
                    f"load(): {self.name} is opened in text mode; open it with 'rb'"
                )
            start = raw.tell()
            raw.seek(0, io.SEEK_END)
            self.file_size = raw.tell() - start
            raw.seek(start)
            self._fh = raw
            self._owned = False
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if path.is_dir():
                raise ModelFileError(f"{path} is a folder, not a model file")
            if not path.exists():
                raise FileNotFoundError(f"no model file at {path}")
            self._fh = open(path, "rb")
            self._owned = True
            self.file_size = os.fstat(self._fh.fileno()).st_size
        else:
            raise TypeError(
                f"load() takes a path or an open binary file, got "
                f"{type(source).__name__}"
            )
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        head = self._fh.read(6)
        self._fh.seek(-len(head), io.SEEK_CUR)
        if head == npy_format.MAGIC_PREFIX:
            raise ModelFileError(
                f"{self.name} is a single .npy array, not a minirec model file; "
                "model files are the .npz files Recommender.save writes"
            )
        try:
            self.zip = zipfile.ZipFile(self._fh)
            infos = self.zip.infolist()
        except _READ_ERRORS as e:
            raise self._unreadable(e) from None
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(
                f"{self.name} holds {len(infos):,} members; a model file has at most "
                f"{MAX_MEMBERS:,}"
            )
        self.members: dict[str, Member] = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise ModelFileError(
                    f"{self.name}: member {info.filename!r} is not an .npy array; "
                    "the file was not written by minirec"
                )
            key = info.filename[: -len(".npy")]
            if key in self.members:
                raise ModelFileError(f"{self.name}: array {key} appears twice")
            self.members[key] = self._header(key, info)

    def _unreadable(self, e: BaseException) -> ModelFileError:
        return ModelFileError(
            f"{self.name} is not a readable minirec model file ({type(e).__name__}: "
            f"{e}); it may be truncated or not written by minirec"
        )

    def _header(self, key: str, info: zipfile.ZipInfo) -> Member:
        try:
            with self.zip.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = npy_format.read_array_header_2_0(f)
                else:
                    raise ValueError(f".npy format version {version} is not read")
        except _READ_ERRORS as e:
            raise ModelFileError(
                f"{self.name}: array {key} has no readable .npy header "
                f"({type(e).__name__}: {e}); the file is damaged"
            ) from None
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
            raise ModelFileError(
                f"{self.name}: array {key} has dtype {dtype}; model files hold only "
                "numbers and text"
            )
        if dtype.kind not in _STORABLE_KINDS:
            raise ModelFileError(
                f"{self.name}: array {key} has dtype {dtype} (kind {dtype.kind!r}); "
                "model files hold booleans, integers, floats and text only"
            )
        return Member(key, info, tuple(int(s) for s in shape), dtype)

    def read(self, key: str) -> np.ndarray:
        """The data of member `key` (its header already checked and counted)."""
        m = self.members[key]
        try:
            with self.zip.open(m.info) as f:
                a = npy_format.read_array(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise ModelFileError(
                f"{self.name}: array {key} cannot be read ({type(e).__name__}: {e}); "
                "the file is truncated or damaged"
            ) from None
        if a.shape != m.shape or a.dtype != m.dtype:  # pragma: no cover - numpy
            raise ModelFileError(f"{self.name}: array {key} does not match its header")
        return a

    def close(self) -> None:
        z = getattr(self, "zip", None)
        if z is not None:
            z.close()
        if self._owned:
            self._fh.close()

    def __enter__(self) -> ModelFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- metadata
    def meta(self) -> dict:
        """The metadata dict (``__meta__``), parsed; its size capped first."""
        m = self.members.get("__meta__")
        if m is None:
            raise ModelFileError(
                f"{self.name} is an .npz file but not a minirec model (no __meta__)"
            )
        if m.dtype.kind != "U" or m.shape != () or m.nbytes > MAX_META_BYTES:
            raise ModelFileError(
                f"{self.name}: __meta__ must be one JSON string of at most "
                f"{MAX_META_BYTES:,} bytes, got dtype {m.dtype}, shape {m.shape}"
            )
        try:
            meta = json.loads(str(self.read("__meta__")))
        except json.JSONDecodeError:
            raise ModelFileError(
                f"{self.name}: model metadata is not valid JSON"
            ) from None
        if not isinstance(meta, dict):
            raise ModelFileError(f"{self.name}: model metadata is not a JSON object")
        return meta

    # -------------------------------------------------------------- arrays
    def check_declared(self, model: Any, max_bytes: int | None) -> dict[str, Spec]:
        """Check every member's dtype and shape against the schemas and the total
        declared size against the cap, before reading any data. Returns the spec
        of each member that has one."""
        cls = type(model)
        schema = {k: parse_spec(v) for k, v in BASE_SCHEMA.items()}
        state_schema = dict(getattr(cls, "state_schema", {}))
        if any(k.startswith("state/fields/") for k in self.members):
            state_schema = {**FIELDS_SCHEMA, **state_schema}
        schema.update({f"state/{k}": parse_spec(v) for k, v in state_schema.items()})
        aliases = dict(getattr(cls, "state_dims", {}))
        dims = Dims(model.get_params(deep=False), aliases, self.name)
        for key, spec in schema.items():
            if key not in self.members and not spec.optional:
                what = "state array" if key.startswith("state/") else "array"
                raise ModelFileError(
                    f"{self.name}: {what} {key} is missing; the file is damaged or "
                    f"was written for another {cls.__name__} version"
                )
        present = [(k, s) for k, s in schema.items() if k in self.members]
        for key, spec in present:  # bind the free names first
            m = self.members[key]
            if spec.dims is not None and len(m.shape) == len(spec.dims):
                for d, size in zip(spec.dims, m.shape):
                    dims.bind(d, size, key)
        dims.check_ceilings()
        for key, spec in present:
            self._check_member(self.members[key], spec, dims)
        for key, m in self.members.items():
            if key.startswith("fitted/") and not _FITTED_NAME.match(key[7:]):
                raise ModelFileError(f"{self.name}: bad fitted attribute name {key!r}")
            if not key.startswith("state/") or key in schema:
                continue
            if m.dtype.kind == "U" or (
                key.startswith("state/net/") and m.dtype.kind != "f"
            ):
                what = "weights are floats" if "/net/" in key else "arrays hold numbers"
                raise ModelFileError(
                    f"{self.name}: state array {key} has dtype {m.dtype}; its {what}"
                )
        self.dims = dims
        self._check_size(max_bytes)
        return dict(present)

    def _check_member(self, m: Member, spec: Spec, dims: Dims) -> None:
        kinds = _ARRAY_KINDS.get(spec.dtype)
        ok = m.dtype.kind in kinds if kinds else m.dtype == np.dtype(spec.dtype)
        if not ok:
            raise ModelFileError(
                f"{self.name}: array {m.key} has dtype {m.dtype}, expected "
                f"{spec.dtype}; the file is damaged or not written by minirec"
            )
        if spec.dims is None:
            return
        want = tuple(dims.value(d) for d in spec.dims)
        if len(m.shape) != len(want) or any(
            w is not None and w != s for w, s in zip(want, m.shape)
        ):
            names = ", ".join(dims.explain(d) for d in spec.dims if not d.isdigit())
            raise ModelFileError(
                f"{self.name}: array {m.key} has shape {m.shape}, expected "
                f"({', '.join(spec.dims)}) = {want} ({names}); the file is damaged "
                "or its hyperparameters do not match its arrays"
            )

    def _check_size(self, max_bytes: int | None) -> None:
        total = sum(m.nbytes for m in self.members.values())
        explicit = max_bytes is not None or os.environ.get(MAX_BYTES_ENV)
        cap = size_cap(max_bytes)
        limit = (
            cap
            if explicit
            else min(cap, max(EXPANSION_FLOOR, MAX_EXPANSION * self.file_size))
        )
        if total > limit:
            biggest = max(self.members.values(), key=lambda m: m.nbytes)
            raise ModelFileError(
                f"{self.name}: its arrays declare {total:,} bytes (the largest, "
                f"{biggest.key}, {biggest.nbytes:,} bytes of shape {biggest.shape}), "
                f"more than the {limit:,} allowed for a file of {self.file_size:,} "
                f"bytes; if you trust it, raise the cap with load(..., max_bytes=N) "
                f"or the environment variable {MAX_BYTES_ENV}"
            )

    def read_checked(self, specs: dict[str, Spec]) -> dict[str, np.ndarray]:
        """Read every member and check the values: finite floats, indices within
        their bound, CSR pointers, unique ids."""
        arrays = {k: self.read(k) for k in self.members if k != "__meta__"}
        for key, a in arrays.items():
            if a.dtype.kind == "f" and not key.startswith("fitted/"):
                if not np.isfinite(a).all():
                    bad = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
                    raise ModelFileError(
                        f"{self.name}: array {key} holds {a.ravel()[bad]} at flat "
                        f"index {bad}; stored numbers must be finite"
                    )
        for key, spec in specs.items():
            a = arrays[key]
            if spec.below is not None:
                self._check_bound(key, a, spec.below)
            if spec.indptr_of is not None:
                self._check_indptr(key, a, spec, arrays)
            if spec.unique and len(np.unique(a)) != a.size:
                vals, counts = np.unique(a, return_counts=True)
                raise ModelFileError(
                    f"{self.name}: array {key} holds {vals[counts > 1][0]!r} more "
                    "than once; ids must be unique"
                )
        return arrays

    def _check_bound(self, key: str, a: np.ndarray, below: str) -> None:
        n = self.dims.ceiling(below)
        if n is None:  # pragma: no cover - schema names an unbound dimension
            raise ModelFileError(f"{self.name}: no value for {below} (array {key})")
        if a.size and (a.min() < 0 or a.max() >= n):
            bad = a.min() if a.min() < 0 else a.max()
            where = int(np.flatnonzero(a.ravel() == bad)[0])
            raise ModelFileError(
                f"{self.name}: array {key} holds index {bad} at flat index {where}, "
                f"outside [0, {below}={n}); the file is damaged"
            )

    def _check_indptr(
        self, key: str, p: np.ndarray, spec: Spec, arrays: dict[str, np.ndarray]
    ) -> None:
        target = spec.indptr_of
        idx_key = target if target.startswith("__") else f"state/{target}"
        nnz = len(arrays[idx_key]) if idx_key in arrays else None
        fail = None
        if p.ndim != 1 or len(p) == 0:
            fail = "must be a 1-d row pointer"
        elif p[0] != 0:
            fail = f"starts at {p[0]}, not 0"
        elif (np.diff(p) < 0).any():
            fail = f"decreases at row {int(np.flatnonzero(np.diff(p) < 0)[0])}"
        elif nnz is not None and p[-1] != nnz:
            fail = f"ends at {p[-1]}, not at the length of {idx_key} ({nnz})"
        if fail is None and spec.sorted_rows and nnz:
            ind = arrays[idx_key]
            step = np.diff(ind.astype(np.int64))
            row_start = np.zeros(len(ind), dtype=bool)
            row_start[p[:-1][p[:-1] < len(ind)]] = True
            bad = np.flatnonzero((step <= 0) & ~row_start[1:])
            if len(bad):
                fail = (
                    f"has a row whose indices in {idx_key} do not increase "
                    f"(position {int(bad[0]) + 1})"
                )
        if fail is not None:
            raise ModelFileError(
                f"{self.name}: row pointer {key} {fail}; the file is damaged"
            )


def size_cap(max_bytes: int | None) -> int:
    """The absolute cap on declared bytes: `max_bytes`, else the environment
    variable MINIREC_MAX_MODEL_BYTES, else :data:`DEFAULT_MAX_BYTES`."""
    if max_bytes is None:
        env = os.environ.get(MAX_BYTES_ENV)
        if not env:
            return DEFAULT_MAX_BYTES
        try:
            max_bytes = int(env)
        except ValueError:
            raise ValueError(
                f"{MAX_BYTES_ENV}={env!r}: must be a whole number of bytes"
            ) from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
        raise ValueError(f"max_bytes={max_bytes!r}: must be a whole number of bytes")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes={max_bytes!r}: must be positive")
    return int(max_bytes)


# ------------------------------------------------------------------ metadata
def check_json(where: str, obj: Any, schema: dict[str, str], field: str) -> None:
    """Check the keys of a JSON dict `obj` against `schema` (JSON specs)."""
    if not isinstance(obj, dict):
        raise ModelFileError(f"{where}: {field} must be a JSON object")
    for key, text in schema.items():
        spec = parse_spec(text)
        name = f"{field}.{key}" if field else key
        if key not in obj or obj[key] is None:
            if spec.optional:
                continue
            state = "missing" if key not in obj else "null"
            raise ModelFileError(
                f"{where}: metadata field {name} is {state}; the file is damaged "
                "or not written by this minirec"
            )
        value = obj[key]
        items = [value]
        if spec.dims is not None:
            n = int(spec.dims[0])
            if not isinstance(value, list) or len(value) != n:
                raise ModelFileError(
                    f"{where}: metadata field {name} must be a list of {n} "
                    f"{spec.dtype}, got {value!r}"
                )
            items = value
        types = _JSON_TYPES[spec.dtype]
        for v in items:
            ok = isinstance(v, types) and (
                spec.dtype == "bool" or not isinstance(v, bool)
            )
            if ok and spec.dtype == "float":
                ok = math.isfinite(v)
            if not ok:
                raise ModelFileError(
                    f"{where}: metadata field {name} must be "
                    f"{'a finite number' if spec.dtype == 'float' else spec.dtype}, "
                    f"got {v!r}"
                )


# ------------------------------------------------------------------ fitted extras
class _NotJSON(Exception):
    pass


def to_json(v: Any) -> Any:
    """`v` as plain JSON values (NumPy scalars unwrapped); _NotJSON otherwise."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic) and v.dtype.kind in "biuf":
        return v.item()
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: to_json(x) for k, x in v.items()}
    raise _NotJSON


def plain_json(parts: dict[str, Any], owner: str) -> dict[str, Any]:
    """Each value of `parts` as plain JSON; TypeError naming the parts that are
    not (numbers, strings, lists and dicts with string keys only)."""
    out, bad = {}, []
    for k, v in parts.items():
        try:
            out[k] = to_json(v)
        except _NotJSON:
            bad.append(k)
    if bad:
        raise TypeError(
            f"{' and '.join(bad)} of {owner} are not JSON-serialisable (numbers, "
            "strings, lists and dicts with string keys only)"
        )
    return out


def fitted_extras(
    model: Any, skip: set[str], state: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The public fitted attributes (``name_``) that neither the base file layout
    (`skip`) nor the model's state restores: JSON-able ones for the metadata and
    arrays (not already stored in the state) for ``fitted/<name>`` members.
    Objects of other types are rebuilt by the model's ``_set_state``."""
    stored = {id(a) for a in state.values()}
    as_json: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, v in vars(model).items():
        if name in skip or not _FITTED_NAME.match(name):
            continue
        if isinstance(v, np.ndarray):
            if id(v) not in stored and v.dtype.kind in _STORABLE_KINDS:
                arrays[f"fitted/{name}"] = v
            continue
        try:
            as_json[name] = to_json(v)
        except _NotJSON:
            continue
    return as_json, arrays


def restore_fitted(
    model: Any, where: str, values: dict, arrays: dict[str, np.ndarray]
) -> None:
    """Set the fitted attributes of :func:`fitted_extras` that the state did not
    set already (a later model version may restore them itself)."""
    items = list(values.items()) + [(k[len("fitted/") :], a) for k, a in arrays.items()]
    for name, v in items:
        if not isinstance(name, str) or not _FITTED_NAME.match(name):
            raise ModelFileError(f"{where}: bad fitted attribute name {name!r}")
        if name in vars(model) or hasattr(type(model), name):
            continue
        setattr(model, name, v)
