"""Malformed MovieLens files: ratings.csv headers, and side tables (u.item, u.user,
movies.dat, users.dat, movies.csv) that are empty, malformed or UTF-8. Every error is
a DataError naming the file and, where there is one, the line."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import Interactions, load_movielens
from minirec.errors import DataError

from .test_movielens import U_ITEM, U_USER, write_ml1m, write_ml100k

RATINGS = [(1, 10, 4.0, 100), (1, 30, 3.5, 200), (2, 10, 0.5, 300)]


def write_csv(root, header, rows=RATINGS, movies=None):
    d = root / "ml-latest-small"
    d.mkdir(parents=True, exist_ok=True)
    lines = [] if header is None else [header]
    lines += [",".join(str(v) for v in r) for r in rows]
    (d / "ratings.csv").write_text("\n".join(lines) + "\n")
    if movies is not None:
        (d / "movies.csv").write_bytes(movies)
    return d


# ------------------------------------------------------------------ ratings.csv
def test_headerless_csv_is_rejected_not_missing_its_first_rating(tmp_path):
    d = write_csv(tmp_path, None)
    with pytest.raises(DataError) as e:
        load_movielens("ml-latest-small", path=d)
    msg = str(e.value)
    assert "ratings.csv line 1" in msg and "not the header" in msg
    assert "userId,movieId,rating,timestamp" in msg


def test_csv_columns_are_read_by_their_header(tmp_path):
    want = Interactions.from_arrays(*map(np.array, zip(*RATINGS)))
    swapped = [(i, u, r, t) for u, i, r, t in RATINGS]
    for header, rows in [
        ("userId,movieId,rating,timestamp", RATINGS),
        ("movieId,userId,rating,timestamp", swapped),
        ('"movieId","userId","rating","timestamp"', swapped),
        ("timestamp,rating,userId,movieId", [(t, r, u, i) for u, i, r, t in RATINGS]),
    ]:
        got = load_movielens("x", path=write_csv(tmp_path / header[:9], header, rows))
        assert got.same_ids(want), header
        np.testing.assert_array_equal(got.user_ids[got.users], [1, 1, 2])
        np.testing.assert_array_equal(got.item_ids[got.items], [10, 30, 10])
        np.testing.assert_array_equal(got.ratings, want.ratings)
        np.testing.assert_array_equal(got.timestamps, want.timestamps)
    no_time = [r[:3] for r in RATINGS]
    got = load_movielens(
        "x", path=write_csv(tmp_path / "n", "userId,movieId,rating", no_time)
    )
    assert got.timestamps is None and len(got) == 3


@pytest.mark.parametrize(
    "header",
    [
        "user,item,rating,timestamp",
        "userId,userId,rating,timestamp",
        "userId,movieId,timestamp",
        "userId,movieId,rating,timestamp,tag",
    ],
)
def test_unknown_csv_headers_are_named(tmp_path, header):
    d = write_csv(tmp_path, header)
    with pytest.raises(DataError, match="ratings.csv line 1: the header"):
        load_movielens("ml-latest-small", path=d)


def test_empty_csv(tmp_path):
    d = write_csv(tmp_path, None, rows=[])
    with pytest.raises(DataError, match="ratings.csv.*empty"):
        load_movielens("ml-latest-small", path=d)
    d = write_csv(tmp_path, "userId,movieId,rating,timestamp", rows=[])
    with pytest.raises(DataError, match="ratings.csv: no data lines"):
        load_movielens("ml-latest-small", path=d)


# ------------------------------------------------------------------ side tables
ITEM_LINE = U_ITEM.splitlines()[0]
SIDE = [
    # (writer, file, good first line, bad line, words of the message)
    (
        "ml100k",
        "u.item",
        ITEM_LINE,
        "2|GoldenEye (1995)|01-Jan-1995",
        ["3 fields", "24"],
    ),
    ("ml100k", "u.item", ITEM_LINE, "x" + ITEM_LINE[1:], ["movie id 'x'"]),
    (
        "ml100k",
        "u.item",
        ITEM_LINE,
        ITEM_LINE[:-1] + "7",
        ["genre flag Western", "'7'"],
    ),
    ("ml100k", "u.user", "1|24|M|technician|85711", "2|53|F|other", ["4 fields"]),
    ("ml100k", "u.user", "1|24|M|technician|85711", "2|old|F|x|9", ["age 'old'"]),
    ("ml1m", "movies.dat", "10::Heat (1995)::Action", "20::Amelie", ["2 fields"]),
    ("ml1m", "movies.dat", "10::Heat (1995)::Action", "2.5::A::B", ["movie id '2.5'"]),
    ("ml1m", "users.dat", "1::F::1::10::48067", "2::M::56::16::70072::9", ["6 fields"]),
    ("ml1m", "users.dat", "1::F::1::10::48067", "2::M::56::x::70072", ["occupation"]),
]


def folder_with(tmp_path, writer, fname, text):
    d = (write_ml100k if writer == "ml100k" else write_ml1m)(tmp_path)
    (d / fname).write_bytes(text.encode("latin-1"))
    return d


@pytest.mark.parametrize("writer, fname, good, bad, words", SIDE)
def test_malformed_side_tables_name_file_and_line(
    tmp_path, writer, fname, good, bad, words
):
    d = folder_with(tmp_path, writer, fname, f"{good}\n\n{bad}\n")
    with pytest.raises(DataError) as e:
        load_movielens("ml", path=d)
    msg = str(e.value)
    assert f"{fname} line 3" in msg, msg  # the blank line 2 is counted
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize(
    "writer, fname",
    [
        ("ml100k", "u.item"),
        ("ml100k", "u.user"),
        ("ml1m", "movies.dat"),
        ("ml1m", "users.dat"),
    ],
)
@pytest.mark.parametrize("text", ["", "\n \n", "\x00\x01\x02", "a,b\nc,d\n", "||||"])
def test_empty_or_garbage_side_tables_are_data_errors(tmp_path, writer, fname, text):
    d = folder_with(tmp_path, writer, fname, text)
    with pytest.raises(DataError, match=fname):
        load_movielens("ml", path=d)


def test_utf8_side_tables_are_decoded_as_utf8(tmp_path):
    d = write_ml1m(tmp_path / "a")
    (d / "movies.dat").write_bytes(
        "10::Heat (1995)::Action\n20::Am\u00e9lie (2001)::Comedy\n".encode()
    )
    assert load_movielens("ml-1m", path=d).item_titles.tolist() == [
        "Heat (1995)",
        "Am\u00e9lie (2001)",
    ]
    d = write_ml100k(tmp_path / "b")
    (d / "u.item").write_bytes(U_ITEM.encode("utf-8"))
    (d / "u.user").write_bytes(U_USER.encode("utf-8"))
    titles = load_movielens("ml-100k", path=d).item_titles
    assert titles[2] == "Caf\u00e9 Society (1996)"
    # the Latin-1 originals still read as Latin-1 (their accents are not valid UTF-8)
    d = write_ml100k(tmp_path / "c")
    assert (
        load_movielens("ml-100k", path=d).item_titles[2] == "Caf\u00e9 Society (1996)"
    )


def test_movies_csv_needs_its_header_and_reads_utf8(tmp_path):
    good = "movieId,title,genres\n10,Heat (1995),Action\n"
    good += '30,"Caf\u00e9, The (1996)",Drama\n'
    d = write_csv(
        tmp_path / "a", "userId,movieId,rating,timestamp", movies=good.encode()
    )
    f = load_movielens("x", path=d).item_features
    assert f["title"].tolist() == ["Heat (1995)", "Caf\u00e9, The (1996)"]
    assert f["genre:Drama"].tolist() == [0, 1]
    headerless = good.split("\n", 1)[1].encode()
    d = write_csv(tmp_path / "b", "userId,movieId,rating,timestamp", movies=headerless)
    with pytest.raises(DataError, match="movies.csv line 1: the header"):
        load_movielens("x", path=d)
    bad = (good + "40,Only Two\n").encode()
    d = write_csv(tmp_path / "c", "userId,movieId,rating,timestamp", movies=bad)
    with pytest.raises(DataError, match="movies.csv line 4: 2 fields where 3"):
        load_movielens("x", path=d)
