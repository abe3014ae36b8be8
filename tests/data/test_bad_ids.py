"""Bad ids, ratings and timestamps are rejected with the row (or file line) named;
sparse huge ids cost memory in proportion to the data, not to the id range."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirec.data import Interactions, load_movielens
from minirec.data.movielens import _int_codes
from minirec.errors import DataError, UnknownIdError

from .test_movielens import assert_bad_udata

BAD_IDS = [
    # (user ids, row at fault, words of the message)
    ([1, 1.9, 2], 1, ["1.9", "not an integer"]),
    ([True, False], 0, ["True", "boolean"]),
    ([1.0, np.nan, np.nan], 1, ["nan", "missing"]),
    (np.array([1, None], dtype=object), 1, ["None", "missing"]),
    (np.array([1, pd.NA], dtype=object), 1, ["<NA>", "missing"]),
    (np.array([1, 99999999999999999999], dtype=object), 1, ["int64"]),
    (np.array([1, 2**64 - 1], dtype=np.uint64), 1, ["int64"]),
    (np.array([1, -(2**63) - 1], dtype=object), 1, ["int64"]),
    ([1.0, 2.0**60], 1, ["too large"]),
    (np.array(["a", 1], dtype=object), 1, ["mixes types", "'a'"]),
    (np.array([1, (1, 2)], dtype=object), 1, ["tuple"]),
    (np.array([1 + 2j, 3]), 0, ["complex"]),
]


@pytest.mark.parametrize("users, row, words", BAD_IDS)
def test_bad_user_ids_name_the_row(users, row, words):
    items = np.arange(len(users))
    with pytest.raises(DataError) as e:
        Interactions.from_arrays(users, items, source="mine")
    msg = str(e.value)
    assert msg.startswith(f"mine row {row}: user id"), msg
    for w in words:
        assert w in msg, (w, msg)
    # the same ids as items are named as items
    with pytest.raises(DataError, match=f"row {row}: item id"):
        Interactions.from_arrays(items, users)


def test_pandas_nullable_ids_name_the_row():
    df = pd.DataFrame(
        {"user": pd.array([3, None, 4], dtype="Int64"), "item": [1, 2, 3]}
    )
    with pytest.raises(DataError, match="row 1: user id .* missing"):
        Interactions.from_dataframe(df)


def test_good_ids_keep_their_values():
    # integral floats (a pandas column that once held NaN) are integer ids
    d = Interactions.from_arrays([3.0, 1.0, 3.0], [10, 20, 20])
    assert d.user_ids.dtype == np.int64
    np.testing.assert_array_equal(d.user_ids, np.unique([3, 1, 3]))
    np.testing.assert_array_equal(d.user_ids[d.users], [3, 1, 3])
    big = np.array([2**63 - 1, -(2**63)], dtype=object)  # the int64 ends are fine
    d = Interactions.from_arrays(big, [1, 2])
    assert sorted(d.user_ids.tolist()) == [-(2**63), 2**63 - 1]
    d = Interactions.from_arrays(np.array(["b", "a"], dtype=object), [1, 2])
    assert d.user_ids.tolist() == ["a", "b"]


def test_catalog_ids_are_checked_too():
    with pytest.raises(DataError, match="user catalog row 1: user id nan"):
        Interactions.from_arrays([1, 2], [1, 1], user_ids=[1.0, np.nan, 2.0])
    with pytest.raises(UnknownIdError, match="integers but the given user catalog"):
        Interactions.from_arrays([1, 2], [1, 1], user_ids=["1", "2"])
    with pytest.raises(UnknownIdError, match="row 1: user id 3 is not in"):
        Interactions.from_arrays([1, 3], [1, 1], user_ids=[1, 2])


def test_lookups_do_not_round_or_match_booleans():
    d = Interactions.from_arrays([1, 2], [5, 5])
    for bad in (1.9, 1.5, True, np.nan, "1.9", None):
        with pytest.raises(UnknownIdError):
            d.user_index(bad)
        assert d.user_index(bad, missing="ignore") == -1
    assert d.user_index(1.0) == 0 and d.user_index("2") == 1
    assert d.user_index(np.int32(2)) == 1
    np.testing.assert_array_equal(d.user_index([2, 1]), [1, 0])
    s = Interactions.from_arrays(["7", "x"], [5, 5])
    assert s.user_index(7) == 0 and s.user_index("x") == 1
    with pytest.raises(UnknownIdError):
        s.user_index(7.0)


def test_ratings_beyond_float32_are_rejected():
    with pytest.raises(DataError, match="row 1: rating 1e\\+39 is beyond the float32"):
        Interactions.from_arrays([1, 2], [1, 1], [3.0, 1e39])
    with pytest.raises(DataError, match="row 0: rating"):
        Interactions.from_arrays([1, 2], [1, 1], [-1e39, 1.0])
    top = float(np.finfo(np.float32).max)
    d = Interactions.from_arrays([1, 2], [1, 1], [top, -top])
    assert np.isfinite(d.ratings).all()


@pytest.mark.parametrize(
    "ts, row",
    [
        ([10.0, np.nan], 1),
        (np.array([np.inf, 1.0]), 0),
        (np.array([1.0, 1e19]), 1),
        (pd.to_datetime(["2020-01-01", None]), 1),
        (np.array(["2020-01-01", "not a date"], dtype=object), 1),
        (np.array([pd.Timestamp("2020-01-01"), pd.NaT], dtype=object), 1),
        (np.array([1, 2**64 - 1], dtype=np.uint64), 1),
    ],
)
def test_missing_timestamps_name_the_row(ts, row):
    with pytest.raises(DataError, match=f"row {row}: timestamp"):
        Interactions.from_arrays([1, 2], [1, 1], [1, 2], ts)


def test_dates_become_seconds_since_1970():
    when = [dt.datetime(2020, 1, 1, 12, 30, tzinfo=dt.timezone.utc)]
    when.append(dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc))
    want = [int(w.timestamp()) for w in when]  # the standard library's clock
    naive = pd.to_datetime([w.replace(tzinfo=None) for w in when])  # read as UTC
    for ts in (naive, pd.DatetimeIndex(when), np.array(naive.astype(str))):
        d = Interactions.from_arrays([1, 2], [1, 1], [1, 2], ts)
        assert d.timestamps.tolist() == want
    d = Interactions.from_arrays([1, 2], [1, 1], [1, 2], [5.7, 6.0])
    assert d.timestamps.tolist() == [5, 6]


# ------------------------------------------------------------------ loader lines
def write_udata(root, text):
    d = root / "ml-100k"
    d.mkdir(exist_ok=True)
    (d / "u.data").write_text(text)
    return d


@pytest.mark.parametrize(
    "text, words",
    [
        ("1\t1\t5\t10\n99999999999999999999\t1\t4\t30\n", ["line 2", "user", "int64"]),
        ("1\t1\t5\t10\n2\t18446744073709551615\t4\t30\n", ["line 2", "item", "int64"]),
        ("1\t1\t5\t10\n2\t1\t4\t1e30\n", ["line 2", "timestamp"]),
        ("1\t1\t5\t10\n2\t1.5\t4\t30\n", ["line 2", "item", "integer"]),
        ("1\t1\t5\t10\n2\t1\t1e39\t30\n", ["line 2", "rating", "float32"]),
        ("1\t1\t5\t10\n2\t1\t-1e39\t30\n", ["line 2", "rating", "float32"]),
    ],
)
def test_loader_rejects_out_of_range_values(tmp_path, text, words):
    assert_bad_udata(tmp_path, text, words)


def test_loader_float_column_loses_no_id_digits(tmp_path):
    # a decimal makes pandas read the column as floats, which skip integers > 2**53
    d = write_udata(tmp_path, "1\t1.0\t5\t10\n2\t9007199254740993\t4\t30\n")
    with pytest.raises(DataError, match="line 2: item .* too large to read exactly"):
        load_movielens("ml-100k", path=d)


# ------------------------------------------------------------------ sparse ids
def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sparse_huge_ids_do_not_allocate_the_id_range(tmp_path):
    ids = np.array([1, 49_999_999])
    d = Interactions.from_arrays(ids, ids[::-1], [1.0, 2.0])
    assert d.user_ids.tolist() == [1, 49_999_999]
    assert peak_bytes(lambda: Interactions.from_arrays(ids, ids[::-1])) < 10e6
    path = write_udata(tmp_path, "1\t49999999\t5\t10\n49999999\t1\t3\t20\n")
    data = load_movielens("ml-100k", path=path)
    assert data.item_ids[data.items].tolist() == [49_999_999, 1]
    assert peak_bytes(lambda: load_movielens("ml-100k", path=path)) < 10e6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=50),
    st.sampled_from([1, 10, 10**3, 10**9]),
)
def test_int_codes_match_numpy_unique(raw, spread):
    # both the lookup-table and the sort path give np.unique's catalog and codes
    raw = np.array(raw, dtype=np.int64) // spread
    cat, codes = _int_codes(raw)
    want_cat, want_codes = np.unique(raw, return_inverse=True)
    np.testing.assert_array_equal(cat, want_cat)
    np.testing.assert_array_equal(codes, want_codes)
    assert codes.dtype == np.int32
