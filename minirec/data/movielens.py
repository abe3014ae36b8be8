"""MovieLens loaders for the GroupLens file formats.

Formats (detected from the files in the dataset folder):

``ml-100k``
    ``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp``; ``u.item``: ``|``-separated
    text, ``id|title|release date|video release date|IMDb URL|`` + 19 genre flags
    (names from ``u.genre``); ``u.user``: ``id|age|gender|occupation|zip``. The
    GroupLens splits ``u1..u5.base/.test`` and ``ua/ub`` have the u.data format
    (:func:`load_ml100k_split`).
``ml-1m`` / ``ml-10m``
    ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp``; a 3-column file
    ``UserID::MovieID::Rating`` (``ratings_no_timestamp.dat``, as in the shared copy)
    is read too and gives ``timestamps=None``. ``movies.dat``:
    ``MovieID::Title::Genre|Genre``; ``users.dat`` (ml-1m only):
    ``UserID::Gender::Age::Occupation::Zip`` where Age and Occupation are the codes
    of the ml-1m README.
``ml-latest-small`` / ``ml-latest`` / ``ml-20m`` / ``ml-25m`` (CSV)
    ``ratings.csv`` with header ``userId,movieId,rating,timestamp``; ``movies.csv``
    with header ``movieId,title,genres`` (quoted titles).

What you get: an :class:`~minirec.data.Interactions` whose users are the users who
rated and whose item catalog is every *rated* movie (ml-1m: 3,706 of the 3,883 in
movies.dat, as in the NCF protocol). ``item_features`` (row = internal item) has
``title``, ``year`` (float, NaN when the title has none) and one 0/1 ``uint8``
column ``genre:<Name>`` per genre; ``user_features`` has ``gender, age, occupation,
zip`` where the format has them (ml-100k: age in years and occupation names; ml-1m:
the README's codes).

Ratings files are parsed with pandas' C engine; ``'::'`` is replaced by a one-byte
separator in memory first (ml-1m loads in well under a second). Errors name the file
and the line: a malformed line (wrong number of fields), a non-numeric, NaN or
beyond-float32 rating, an id or timestamp that is not an integer or lies outside
int64, a wrong separator (a CSV where ``'::'`` is expected is recognised and the
right format suggested), an empty file, a ratings.csv whose first line is not the
header ``userId,movieId,rating,timestamp`` (its columns may come in any order), and
duplicate (user, item) pairs. Ids are coded with memory proportional to the data,
however sparse they are.

Side tables (u.item, u.user, movies.dat, users.dat, movies.csv) are read as UTF-8
when their bytes are valid UTF-8 and as Latin-1 otherwise (the GroupLens originals
are Latin-1); an empty file, a line with the wrong number of fields, a missing
header or a non-integer id, age or genre flag raises a DataError naming the file
and the line.

Duplicate policy (argument ``duplicates``): ``"error"`` (default) raises naming the
file and both lines; ``"first"`` / ``"last"`` keep one rating (the earliest / latest
by timestamp, else by line order), ``"mean"`` averages them, ``"keep"`` keeps every
line (an event log).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, DataNotFoundError, UnknownIdError
from .download import find_dataset
from .interactions import DUPLICATE_POLICIES, Interactions, _check_ratings

__all__ = ["load_movielens", "load_ml100k_split", "read_ratings_file", "ML100K_SPLITS"]

ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ML100K_SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

_SEP_NAMES = {
    "::": "'::' (the ml-1m / ml-10m ratings.dat format)",
    ",": "',' (CSV: the ml-latest / ml-20m / ml-25m ratings.csv format)",
    "\t": "tabs (the ml-100k u.data format)",
    "|": "'|'",
    ";": "';'",
    " ": "spaces (the SASRec 'user item' format)",
}
_SUB = "\x1f"  # one-byte stand-in for multi-character separators


# ------------------------------------------------------------------ generic reader
def _sniff(line: str) -> str | None:
    for sep in ("::", "\t", ",", "|", ";", " "):
        if sep in line.strip():
            return sep
    return None


def _show(line: str, psep: str, sep: str) -> str:
    s = line.replace(psep, sep) if psep != sep else line
    return repr(s if len(s) <= 80 else s[:77] + "...")


def read_table(
    path: str | os.PathLike,
    sep: str,
    names: Sequence[str],
    *,
    n_fields: Sequence[int] | None = None,
    header: bool = False,
    numeric: Sequence[str] = (),
    integer: Sequence[str] = (),
    encoding: str = "utf-8",
    example: str = "",
    raw: bytes | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read a delimited file of numbers, checking every line.

    Parameters
    ----------
    path : path
        The file.
    sep : str
        Field separator (``"::"`` is handled by a one-byte substitution in memory).
    names : sequence of str
        Column names, in file order (as many as the widest allowed line).
    n_fields : sequence of int, optional
        Allowed field counts; the *first* line fixes the count for the whole file.
        Default: ``len(names)`` only.
    header : bool
        Skip one header line (line numbers still count it).
    numeric, integer : sequence of str
        Columns that must be numbers (not NaN) / integers.
    example : str
        An example line for the messages.
    raw : bytes, optional
        The file's content, already read (and possibly rewritten); `path` then only
        names the file in messages.

    Returns
    -------
    columns : dict name -> ndarray (int64 for `integer`, float64 for other numeric)
    lines : ndarray of int64, the 1-based file line of every row (blank lines dropped)
    """
    path = Path(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DataNotFoundError(f"{path}: file not found") from None
    hint = f" (expected lines like {example!r})" if example else ""
    if not raw.strip():
        raise DataError(f"{path}: the file is empty{hint}")
    psep = sep
    if len(sep) > 1:
        raw = raw.replace(sep.encode(), _SUB.encode())
        psep = _SUB
    allowed = tuple(n_fields) if n_fields is not None else (len(names),)
    # -- the first data line fixes the layout; a missing separator means wrong format
    start = 0
    if header:
        nl = raw.find(b"\n")
        start = len(raw) if nl < 0 else nl + 1
    first_no, first = 1 + int(header), None
    pos = start
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        end = len(raw) if nl < 0 else nl
        text = raw[pos:end].decode(encoding, errors="replace").rstrip("\r")
        if text.strip():
            first = text
            break
        first_no += 1
        pos = end + 1
    if first is None:
        raise DataError(f"{path}: no data lines after the header{hint}")
    count = first.count(psep) + 1
    if count not in allowed:
        want = " or ".join(str(a) for a in allowed)
        found = _sniff(first.replace(psep, sep) if psep != sep else first)
        if count == 1 and found is not None and found != sep:
            raise DataError(
                f"{path} line {first_no}: expected {want} fields separated by "
                f"{_SEP_NAMES.get(sep, repr(sep))} but the line "
                f"{_show(first, psep, sep)} has none; it looks separated by "
                f"{_SEP_NAMES.get(found, repr(found))}. Use the loader for that format "
                "or fix the file" + hint
            )
        raise DataError(
            f"{path} line {first_no}: {count} fields where {want} were expected, "
            f"separated by {_SEP_NAMES.get(sep, repr(sep))}: {_show(first, psep, sep)}"
            + hint
        )
    cols = list(names[:count])
    try:
        df = pd.read_csv(
            io.BytesIO(raw),
            sep=psep,
            header=None,
            names=cols,
            skiprows=1 if header else 0,
            skip_blank_lines=False,
            engine="c",
            quoting=csv.QUOTE_NONE,
            encoding=encoding,
            index_col=False,
        )
    except pd.errors.ParserError:
        _raise_bad_line(raw, path, psep, sep, count, int(header), encoding, hint)
        raise  # pragma: no cover - _raise_bad_line always raises
    lines = np.arange(len(df), dtype=np.int64) + 1 + int(header)
    blank = df.isna().all(axis=1).to_numpy()
    if blank.any():
        df = df.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    if len(df) == 0:
        raise DataError(f"{path}: no data lines{hint}")
    out: dict[str, np.ndarray] = {}
    for c in cols:
        s = orig = df[c]
        if c not in numeric and c not in integer:
            out[c] = s.to_numpy()
            continue
        if not pd.api.types.is_numeric_dtype(s):
            num = pd.to_numeric(s, errors="coerce")
            bad = np.flatnonzero(num.isna().to_numpy() & s.notna().to_numpy())
            if len(bad):
                k = int(bad[0])
                raise DataError(
                    f"{path} line {lines[k]}: {c} {s.iloc[k]!r} is not a number{hint}"
                )
            s = num
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.flatnonzero(np.isnan(vals))
        if len(nan):
            k = int(nan[0])
            text = _line(raw, lines[k], encoding).rstrip("\r")
            got = text.count(psep) + 1
            if got < count:
                raise DataError(
                    f"{path} line {lines[k]}: {got} fields where {count} were expected "
                    f"(the first line has {count}): {_show(text, psep, sep)}"
                )
            raise DataError(
                f"{path} line {lines[k]}: {c} is missing or NaN "
                f"({_show(text, psep, sep)}); drop or fill that line"
            )
        if not np.isfinite(vals).all():
            k = int(np.flatnonzero(~np.isfinite(vals))[0])
            raise DataError(f"{path} line {lines[k]}: {c} is {vals[k]} (infinite)")
        if c in integer:
            frac = np.flatnonzero(vals != np.floor(vals))
            if len(frac):
                k = int(frac[0])
                raise DataError(
                    f"{path} line {lines[k]}: {c} {vals[k]!r} is not an integer id"
                )
            out[c] = _exact_int64(s, vals, orig, c, path, lines)
        else:
            out[c] = vals
    return out, lines


def _exact_int64(
    s: pd.Series,
    vals: np.ndarray,
    orig: pd.Series,
    c: str,
    path: Path,
    lines: np.ndarray,
) -> np.ndarray:
    """Integral column `s` (its float64 copy `vals`) as int64, or DataError naming the
    line of a value outside int64, or from 2**53 on where pandas read the column as
    floats (such floats no longer hold the integer written in the file)."""
    if s.dtype.kind == "i":
        return s.to_numpy().astype(np.int64)
    if s.dtype.kind == "u":
        bad = np.flatnonzero(s.to_numpy() > np.iinfo(np.int64).max)
        why = "is above the int64 range"
    else:
        bad = np.flatnonzero(np.abs(vals) >= 2.0**53)
        why = (
            "is outside the int64 range"
            if len(bad) and abs(vals[bad[0]]) >= 2.0**63
            else "is too large to read exactly in a column that also holds decimals"
        )
    if len(bad):
        k = int(bad[0])
        raise DataError(f"{path} line {lines[k]}: {c} {orig.iloc[k]} {why}")
    return vals.astype(np.int64)


def _line(raw: bytes, lineno: int, encoding: str) -> str:
    pos = 0
    for _ in range(lineno - 1):
        pos = raw.find(b"\n", pos) + 1
    end = raw.find(b"\n", pos)
    return raw[pos : len(raw) if end < 0 else end].decode(encoding, errors="replace")


def _raise_bad_line(raw, path, psep, sep, count, skip, encoding, hint):
    for no, bline in enumerate(raw.split(b"\n"), start=1):
        if no <= skip or not bline.strip():
            continue
        text = bline.decode(encoding, errors="replace").rstrip("\r")
        got = text.count(psep) + 1
        if got != count:
            raise DataError(
                f"{path} line {no}: {got} fields where {count} were expected (the "
                f"first line has {count}): {_show(text, psep, sep)}{hint}"
            )
    raise DataError(f"{path}: the file could not be parsed as {sep!r}-separated{hint}")


# ------------------------------------------------------------------ ratings
def read_ratings_file(
    path: str | os.PathLike,
    sep: str,
    *,
    header: bool = False,
    timestamps: str = "required",
    example: str = "",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read ``user sep item sep rating [sep timestamp]`` lines.

    ``timestamps``: ``"required"`` (4 fields), ``"optional"`` (3 or 4, fixed by the
    first line). Returns (columns ``user, item, rating[, timestamp]``, line numbers).
    """
    n_fields = (4,) if timestamps == "required" else (3, 4)
    return read_table(
        path,
        sep,
        ("user", "item", "rating", "timestamp"),
        n_fields=n_fields,
        header=header,
        integer=("user", "item", "timestamp"),
        numeric=("rating",),
        example=example,
    )


_DENSE_MIN = 1 << 16  # id ranges up to this always use a lookup table
_DENSE_PER_ROW = 4  # ... and up to this many table slots per row of data
_DENSE_CELLS = 256_000_000  # n_users * n_items up to which a bitmap finds repeats
_CELLS_PER_ROW = 64  # ... as long as the bitmap has at most this many cells per row


def _int_codes(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, code of each entry) for integer ids: in O(n) with a
    lookup table over the id range when that range is small next to the data
    (MovieLens ids are), else with np.unique, so that memory stays proportional to
    the data however sparse the ids."""
    lo, hi = int(raw.min()), int(raw.max())
    if hi - lo > max(_DENSE_MIN, _DENSE_PER_ROW * len(raw)):
        cat, codes = np.unique(raw, return_inverse=True)
        return cat, codes.astype(np.int32)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[raw - lo] = True
    lut = np.cumsum(present, dtype=np.int32) - 1
    return np.flatnonzero(present) + lo, lut[raw - lo]


def _codes(cols: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user catalog, user codes, item catalog, item codes) of ratings columns."""
    ucat, uc = _int_codes(cols["user"])
    icat, ic = _int_codes(cols["item"])
    return ucat, uc, icat, ic


def _check_duplicates(
    cols: dict, lines: np.ndarray, path: Path, codes: tuple | None = None
) -> None:
    u, i = cols["user"], cols["item"]
    ucat, uc, icat, ic = _codes(cols) if codes is None else codes
    key = uc.astype(np.int64) * len(icat) + ic
    cells = len(ucat) * len(icat)
    if cells <= min(_DENSE_CELLS, max(_DENSE_MIN, _CELLS_PER_ROW * len(key))):
        mark = np.zeros(cells, dtype=bool)  # fast test: any repeat at all?
        mark[key] = True
        if int(np.count_nonzero(mark)) == len(key):
            return
    order = np.argsort(key, kind="stable")
    ks = key[order]
    d = np.flatnonzero(ks[1:] == ks[:-1])
    if len(d):
        pairs = np.stack([order[d], order[d + 1]], axis=1)
        a, b = pairs[np.argmin(pairs[:, 1])]  # the duplicate met first in the file
        raise DataError(
            f"{path}: duplicate rating of user {u[a]} for item {i[a]} on lines "
            f"{lines[a]} and {lines[b]}; pass duplicates='last' (keep the latest), "
            "'first', 'mean' or 'keep' to choose a policy, or fix the file"
        )


def _interactions(
    cols: dict, lines: np.ndarray, path: Path, duplicates: str, name: str
) -> Interactions:
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(
            f"duplicates={duplicates!r}; choose one of {', '.join(DUPLICATE_POLICIES)}"
        )
    ratings = _check_ratings(cols["rating"], str(path), lines)
    if duplicates not in ("error", "keep"):
        return Interactions.from_arrays(
            cols["user"],
            cols["item"],
            ratings,
            cols.get("timestamp"),
            duplicates=duplicates,
            name=name,
            source=str(path),
        )
    # ids and ratings were checked line by line: build directly
    codes = _codes(cols)
    if duplicates == "error":
        _check_duplicates(cols, lines, path, codes)
    ucat, uc, icat, ic = codes
    return Interactions(
        uc,
        ic,
        ratings,
        cols.get("timestamp"),
        user_ids=ucat,
        item_ids=icat,
        name=name,
    )


# ------------------------------------------------------------------ side tables
_YEAR = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")


def _years(titles: pd.Series) -> np.ndarray:
    y = titles.astype("string").str.extract(_YEAR, expand=False)
    return pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _genre_frame(genres: pd.Series, index: pd.Index) -> pd.DataFrame:
    """'A|B' strings -> one uint8 column 'genre:<Name>' per genre (sorted)."""
    g = genres.fillna("").astype(str)
    dummies = g.str.get_dummies(sep="|")
    dummies = dummies.drop(
        columns=[c for c in dummies if c in ("", "(no genres listed)")]
    )
    dummies = dummies.reindex(sorted(dummies.columns), axis=1).astype(np.uint8)
    dummies.columns = [f"genre:{c}" for c in dummies.columns]
    dummies.index = index
    return dummies


def _attach(data: Interactions, items: pd.DataFrame | None, users: pd.DataFrame | None):
    """Reindex side tables (indexed by raw id) to the internal order."""
    if items is not None:
        items = items[~items.index.duplicated()]  # a repeated id: first row wins
        f = items.reindex(data.item_ids)
        for c in f.columns:
            if c.startswith("genre:"):
                f[c] = f[c].fillna(0).astype(np.uint8)
        data.item_features = f.reset_index(drop=True)
    if users is not None:
        users = users[~users.index.duplicated()]
        data.user_features = users.reindex(data.user_ids).reset_index(drop=True)
    return data


def decode_text(raw: bytes) -> str:
    """The text of a metadata file: UTF-8 when the bytes are valid UTF-8 (ASCII
    is), else Latin-1 (the encoding of the GroupLens u.item / movies.dat files, where
    accented titles are not valid UTF-8). A UTF-8 byte-order mark is dropped."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.removeprefix("\ufeff")


def _read_text_table(
    path: Path,
    sep: str,
    n: int,
    what: str,
    *,
    header: Sequence[str] | None = None,
    quoted: bool = False,
    example: str = "",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Metadata files (titles, demographics) as a DataFrame of strings with columns
    ``0..n-1``, and the 1-based file line of every row (blank lines dropped).

    Every line must have `n` fields separated by `sep` (``quoted``: CSV quoting, as
    in movies.csv); ``header``: the expected names of the first line, compared
    without case. An empty file, a wrong header or a line with another field count
    raises DataError naming the file and the line.
    """
    hint = f" (expected lines like {example!r})" if example else ""
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise DataError(f"{path}: the {what} table is empty{hint}")
    if quoted:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        records, start = [], 1
        for fields in reader:
            records.append((start, fields, sep.join(fields)))
            start = reader.line_num + 1
    else:
        rows = [line.rstrip("\r") for line in text.split("\n")]
        records = [(no, ln.split(sep), ln) for no, ln in enumerate(rows, start=1)]
    records = [r for r in records if "".join(r[1]).strip()]
    if header is not None:
        if not records:
            raise DataError(f"{path}: the {what} table is empty{hint}")
        no, fields, line = records.pop(0)
        names = [f.strip().lower() for f in fields]
        if names != [h.lower() for h in header]:
            raise DataError(
                f"{path} line {no}: the header {line!r} is not "
                f"{sep.join(header)!r}; the file must start with that header line"
            )
    if not records:
        raise DataError(f"{path}: the {what} table has no rows after the header")
    for no, fields, line in records:
        if len(fields) != n:
            raise DataError(
                f"{path} line {no}: {len(fields)} fields where {n} were expected, "
                f"separated by {sep!r}: {line[:80]!r}{hint}"
            )
    lines = np.array([r[0] for r in records], dtype=np.int64)
    return pd.DataFrame([r[1] for r in records], dtype=str), lines


def _int_field(
    values: pd.Series, lines: np.ndarray, path: Path, field: str
) -> np.ndarray:
    """A column of integer strings as int64; DataError naming the line otherwise."""
    num = pd.to_numeric(values.str.strip(), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(num) & (num == np.floor(num)) & (np.abs(num) < 2.0**53)
    bad = np.flatnonzero(~ok)
    if len(bad):
        k = int(bad[0])
        raise DataError(
            f"{path} line {lines[k]}: {field} {values.iloc[k]!r} is not an integer"
        )
    return num.astype(np.int64)


def _ml100k_items(folder: Path) -> pd.DataFrame | None:
    p = folder / "u.item"
    if not p.is_file():
        return None
    genres = list(ML100K_GENRES)
    gp = folder / "u.genre"
    if gp.is_file():
        text = decode_text(gp.read_bytes())
        g = [ln.split("|")[0] for ln in text.splitlines() if ln.strip()]
        if len(g) == 19:
            genres = g
    df, lines = _read_text_table(
        p, "|", 24, "movie", example="1|Toy Story (1995)|01-Jan-1995||URL|0|0|1|..."
    )
    ids = _int_field(df[0], lines, p, "movie id")
    titles = df[1]
    year = _years(titles)
    rel = pd.to_numeric(df[2].str[-4:], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    year = np.where(np.isnan(year), rel, year)
    out = pd.DataFrame({"title": titles.to_numpy(), "year": year}, index=ids)
    flags = df.iloc[:, 5:24].to_numpy()
    bad = np.argwhere((flags != "0") & (flags != "1"))
    if len(bad):
        r, c = bad[0]
        raise DataError(
            f"{p} line {lines[r]}: genre flag {genres[c]} is {flags[r, c]!r}, "
            "expected 0 or 1"
        )
    for k, g in enumerate(genres):
        out[f"genre:{g}"] = (flags[:, k] == "1").astype(np.uint8)
    out.index.name = "item"
    return out


def _ml100k_users(folder: Path) -> pd.DataFrame | None:
    p = folder / "u.user"
    if not p.is_file():
        return None
    df, lines = _read_text_table(p, "|", 5, "user", example="1|24|M|technician|85711")
    out = pd.DataFrame(
        {
            "gender": df[2].to_numpy(),
            "age": _int_field(df[1], lines, p, "age"),
            "occupation": df[3].to_numpy(),
            "zip": df[4].to_numpy(),
        },
        index=_int_field(df[0], lines, p, "user id"),
    )
    out.index.name = "user"
    return out


def _dat_items(folder: Path) -> pd.DataFrame | None:
    p = folder / "movies.dat"
    if not p.is_file():
        return None
    df, lines = _read_text_table(
        p, "::", 3, "movie", example="1::Toy Story (1995)::Animation|Comedy"
    )
    ids = _int_field(df[0], lines, p, "movie id")
    out = pd.DataFrame({"title": df[1].to_numpy(), "year": _years(df[1])}, index=ids)
    out = pd.concat([out, _genre_frame(df[2], out.index)], axis=1)
    out.index.name = "item"
    return out


def _dat_users(folder: Path) -> pd.DataFrame | None:
    p = folder / "users.dat"
    if not p.is_file():
        return None
    df, lines = _read_text_table(p, "::", 5, "user", example="1::F::1::10::48067")
    out = pd.DataFrame(
        {
            "gender": df[1].to_numpy(),
            "age": _int_field(df[2], lines, p, "age"),
            "occupation": _int_field(df[3], lines, p, "occupation"),
            "zip": df[4].to_numpy(),
        },
        index=_int_field(df[0], lines, p, "user id"),
    )
    out.index.name = "user"
    return out


def _csv_items(folder: Path) -> pd.DataFrame | None:
    p = folder / "movies.csv"
    if not p.is_file():
        return None
    df, lines = _read_text_table(
        p,
        ",",
        3,
        "movie",
        header=("movieId", "title", "genres"),
        quoted=True,
        example="1,Toy Story (1995),Adventure|Animation",
    )
    ids = _int_field(df[0], lines, p, "movie id")
    titles = df[1]
    out = pd.DataFrame({"title": titles.to_numpy(), "year": _years(titles)}, index=ids)
    out = pd.concat([out, _genre_frame(df[2], out.index)], axis=1)
    out.index.name = "item"
    return out


_CSV_COLUMNS = {
    "userid": "user",
    "movieid": "item",
    "rating": "rating",
    "timestamp": "timestamp",
}
_CSV_HEADER = "userId,movieId,rating,timestamp"


def _csv_ratings_names(path: Path) -> tuple[str, ...] | None:
    """The columns of ratings.csv in file order, read from its header line (any
    order of userId, movieId, rating and an optional timestamp). None for an empty
    file (read_table names that); DataError for a missing or unknown header."""
    with open(path, "rb") as f:
        first = decode_text(f.readline()).strip()
    if not first:
        return None
    fields = [x.strip().strip('"').lower() for x in first.split(",")]
    names = tuple(_CSV_COLUMNS.get(x, "") for x in fields)
    if len(set(names)) == len(names) and {"user", "item", "rating"} <= set(names):
        if "" not in names:
            return names
    if pd.to_numeric(pd.Series(fields), errors="coerce").notna().all():
        raise DataError(
            f"{path} line 1: {first!r} is a rating, not the header "
            f"{_CSV_HEADER!r}; ratings.csv must start with a header line"
        )
    raise DataError(
        f"{path} line 1: the header {first!r} does not name the columns "
        f"{_CSV_HEADER!r} (in any order; timestamp may be absent)"
    )


# ------------------------------------------------------------------ public loaders
def detect_format(folder: Path) -> str:
    """``"ml-100k"``, ``"dat"`` or ``"csv"`` from the files in `folder`."""
    if (folder / "u.data").is_file():
        return "ml-100k"
    if (folder / "ratings.dat").is_file() or (
        folder / "ratings_no_timestamp.dat"
    ).is_file():
        return "dat"
    if (folder / "ratings.csv").is_file():
        return "csv"
    raise DataError(
        f"{folder}: no MovieLens ratings file (u.data, ratings.dat, "
        "ratings_no_timestamp.dat or ratings.csv) in this folder"
    )


def load_movielens(
    name: str = "ml-100k",
    path: str | os.PathLike | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike | None = None,
    *,
    duplicates: str = "error",
) -> Interactions:
    """Load a MovieLens dataset as an :class:`Interactions` (see the module docstring).

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-1m"``, ``"ml-10m"``, ``"ml-latest-small"``,
        ``"ml-latest"``, ``"ml-20m"``, ``"ml-25m"`` (any name when `path` is given:
        the format is detected from the files).
    path : path, optional
        The dataset folder (or a folder holding ``<name>/``). Default: found through
        :func:`~minirec.data.find_dataset` ($MINIREC_DATA, then the cache).
    download : bool
        Download the GroupLens zip into the cache when the data is not found.
    cache_dir : path, optional
        Where downloads go (default $MINIREC_CACHE or ~/.cache/minirec).
    duplicates : str
        Policy for repeated (user, item) pairs: ``"error"`` (default, names the file
        and both lines), ``"first"``, ``"last"``, ``"mean"``, ``"keep"``.

    Returns
    -------
    Interactions
        Explicit ratings; timestamps (int64 seconds) when the file has them.
    """
    folder = find_dataset(name, path, download=download, cache_dir=cache_dir)
    fmt = detect_format(folder)
    label = name
    if fmt == "ml-100k":
        p = folder / "u.data"
        cols, lines = read_ratings_file(p, "\t", example="196\t242\t3\t881250949")
        data = _interactions(cols, lines, p, duplicates, label)
        return _attach(data, _ml100k_items(folder), _ml100k_users(folder))
    if fmt == "dat":
        p = folder / "ratings.dat"
        if not p.is_file():
            p = folder / "ratings_no_timestamp.dat"
        cols, lines = read_ratings_file(
            p, "::", timestamps="optional", example="1::1193::5::978300760"
        )
        data = _interactions(cols, lines, p, duplicates, label)
        return _attach(data, _dat_items(folder), _dat_users(folder))
    p = folder / "ratings.csv"
    names = _csv_ratings_names(p) or ("user", "item", "rating", "timestamp")
    cols, lines = read_table(
        p,
        ",",
        names,
        header=True,
        integer=("user", "item", "timestamp"),
        numeric=("rating",),
        example="1,1,4.0,964982703",
    )
    data = _interactions(cols, lines, p, duplicates, label)
    return _attach(data, _csv_items(folder), None)


def load_ml100k_split(
    which: str = "u1", path: str | os.PathLike | None = None
) -> tuple[Interactions, Interactions]:
    """The GroupLens ML-100K split `which` (``u1``..``u5``, ``ua``, ``ub``).

    Returns ``(train, test)`` from ``<which>.base`` and ``<which>.test``, both in the
    id space of the whole ``u.data`` (943 users x 1,682 items) with its side tables,
    so a model fitted on train is evaluated on test with the same indices.
    """
    if which not in ML100K_SPLITS:
        raise ValueError(f"which={which!r}: choose one of {', '.join(ML100K_SPLITS)}")
    full = load_movielens("ml-100k", path)
    folder = find_dataset("ml-100k", path)
    out = []
    for part in ("base", "test"):
        p = folder / f"{which}.{part}"
        if not p.is_file():
            raise DataNotFoundError(
                f"{p}: split file not found; the GroupLens ml-100k folder ships "
                f"{which}.base and {which}.test (made by mku.sh)"
            )
        cols, lines = read_ratings_file(p, "\t", example="1\t1\t5\t874965758")
        _check_duplicates(cols, lines, p)
        u = _to_internal(full.user_ids, cols["user"], lines, p, "user")
        i = _to_internal(full.item_ids, cols["item"], lines, p, "item")
        out.append(
            Interactions(
                u,
                i,
                cols["rating"],
                cols["timestamp"],
                user_ids=full.user_ids,
                item_ids=full.item_ids,
                user_features=full.user_features,
                item_features=full.item_features,
                name=f"ml-100k {which}.{part}",
            )
        )
    return out[0], out[1]


def _to_internal(
    catalog: np.ndarray, raw: np.ndarray, lines: np.ndarray, path: Path, what: str
) -> np.ndarray:
    """Internal indices of raw ids in a sorted catalog; unknown ids name the line."""
    pos = np.searchsorted(catalog, raw)
    pos = np.clip(pos, 0, len(catalog) - 1)
    bad = np.flatnonzero(catalog[pos] != raw)
    if len(bad):
        k = int(bad[0])
        raise UnknownIdError(
            f"{path} line {lines[k]}: {what} id {raw[k]} is not in the dataset's "
            f"{len(catalog):,} {what}s"
        )
    return pos.astype(np.int32)
