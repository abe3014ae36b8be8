"""MovieLens loaders on small files written in tmp_path, plus real-data counts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from minirec.data import load_ml100k_split, load_movielens
from minirec.errors import DataError, DataNotFoundError

U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
    "3|Caf\xe9 Society (1996)|01-Jan-1996||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
    "4|Unrated (1990)|01-Jan-1990||http://x|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)
U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"


def write_ml100k(root, data="1\t1\t5\t10\n1\t2\t3\t20\n2\t1\t4\t30\n3\t3\t1\t40\n"):
    d = root / "ml-100k"
    d.mkdir(parents=True, exist_ok=True)
    (d / "u.data").write_text(data)
    (d / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    (d / "u.user").write_text(U_USER)
    return d


def write_ml1m(
    root, ratings="1::10::5::100\n1::20::3::200\n2::10::4::300\n", fname="ratings.dat"
):
    d = root / "ml-1m"
    d.mkdir(parents=True, exist_ok=True)
    (d / fname).write_text(ratings)
    (d / "movies.dat").write_bytes(
        "10::Heat (1995)::Action|Crime|Thriller\n20::Am\xe9lie (2001)::Comedy|Romance\n"
        "30::Never Rated (1980)::Drama\n".encode("latin-1")
    )
    (d / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return d


def test_ml100k_small(tmp_path):
    d = write_ml100k(tmp_path)
    data = load_movielens("ml-100k", path=d)
    assert (len(data), data.n_users, data.n_items) == (4, 3, 3)
    np.testing.assert_array_equal(data.item_ids, [1, 2, 3])  # item 4 unrated: dropped
    np.testing.assert_array_equal(data.timestamps, [10, 20, 30, 40])
    f = data.item_features
    assert list(f.columns[:2]) == ["title", "year"]
    assert f.loc[2, "title"] == "Caf\xe9 Society (1996)"  # Latin-1 decoded
    assert f.loc[1, "genre:Action"] == 1 and f.loc[0, "genre:Action"] == 0
    assert sum(c.startswith("genre:") for c in f.columns) == 19
    assert f["year"].tolist() == [1995, 1995, 1996]
    assert data.user_features.loc[1].tolist() == ["F", 53, "other", "94043"]
    # a parent folder holding ml-100k/ works too
    assert len(load_movielens("ml-100k", path=tmp_path)) == 4


def test_ml1m_with_and_without_timestamps(tmp_path):
    d = write_ml1m(tmp_path / "a")
    data = load_movielens("ml-1m", path=d)
    np.testing.assert_array_equal(data.timestamps, [100, 200, 300])
    assert data.n_items == 2  # the catalog is every rated movie
    f = data.item_features
    assert f["title"].tolist() == ["Heat (1995)", "Am\xe9lie (2001)"]
    assert f.loc[1, "genre:Romance"] == 1 and f.loc[0, "genre:Crime"] == 1
    assert "genre:Drama" in f.columns and f["genre:Drama"].sum() == 0
    assert data.user_features["gender"].tolist() == ["F", "M"]
    d2 = write_ml1m(
        tmp_path / "b",
        "1::10::5\n1::20::3\n2::10::4\n",
        fname="ratings_no_timestamp.dat",
    )
    data2 = load_movielens("ml-1m", path=d2)
    assert data2.timestamps is None
    np.testing.assert_array_equal(data2.ratings, [5, 3, 4])


def test_csv_format(tmp_path):
    d = tmp_path / "ml-latest-small"
    d.mkdir()
    (d / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n"
        "2,1,0.5,964982224\n"
    )
    (d / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
        '3,"American President, The (1995)",(no genres listed)\n'
    )
    data = load_movielens("ml-latest-small", path=d)
    assert len(data) == 3 and data.n_items == 2
    np.testing.assert_allclose(data.ratings, [4.0, 3.5, 0.5])
    assert data.item_titles[1] == "American President, The (1995)"
    assert [c for c in data.item_features if c.startswith("genre:")] == [
        "genre:Adventure",
        "genre:Animation",
    ]
    assert data.user_features is None


@pytest.mark.parametrize(
    "text, words",
    [
        ("1\t1\t5\t10\n1\t2\t3\n", ["u.data line 2", "3 fields", "4"]),
        ("1\t1\t5\t10\n1\t2\t3\t20\t9\n", ["u.data line 2", "5 fields"]),
        ("1\t1\t5\t10\n1\t2\tgood\t20\n", ["u.data line 2", "rating", "'good'"]),
        ("1\t1\t5\t10\n\n1\t2\tNaN\t20\n", ["u.data line 3", "rating", "NaN"]),
        ("1\t1\t5\t10\n1\t2.5\t5\t20\n", ["u.data line 2", "item", "integer"]),
        ("", ["u.data", "empty"]),
        ("  \n\n", ["u.data", "empty"]),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, text, words):
    assert_bad_udata(tmp_path, text, words)


def assert_bad_udata(tmp_path, text, words):
    """Loading a u.data holding `text` raises a DataError with all of `words`."""
    d = write_ml100k(tmp_path, text)
    with pytest.raises(DataError) as e:
        load_movielens("ml-100k", path=d)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_blank_lines_are_skipped_and_lines_counted(tmp_path):
    d = write_ml100k(tmp_path, "1\t1\t5\t10\n\n1\t2\t3\t20\n\n")
    assert len(load_movielens("ml-100k", path=d)) == 2


def test_wrong_separator_is_recognised(tmp_path):
    d = write_ml1m(tmp_path, "userId,movieId,rating,timestamp\n1,10,5,100\n")
    with pytest.raises(DataError) as e:
        load_movielens("ml-1m", path=d)
    msg = str(e.value)
    assert "ratings.dat line 1" in msg and "'::'" in msg and "CSV" in msg


def test_ml1m_mixed_field_counts(tmp_path):
    d = write_ml1m(
        tmp_path, "1::10::5\n1::20::3::200\n", fname="ratings_no_timestamp.dat"
    )
    with pytest.raises(DataError, match=r"line 2: 4 fields where 3"):
        load_movielens("ml-1m", path=d)


def test_duplicates_policy(tmp_path):
    text = "1\t1\t5\t10\n2\t1\t4\t30\n1\t1\t2\t50\n"
    d = write_ml100k(tmp_path, text)
    with pytest.raises(DataError) as e:
        load_movielens("ml-100k", path=d)
    msg = str(e.value)
    assert "u.data" in msg and "lines 1 and 3" in msg and "duplicates=" in msg
    last = load_movielens("ml-100k", path=d, duplicates="last")
    assert len(last) == 2 and last.ratings[last.users == 0].tolist() == [2.0]
    first = load_movielens("ml-100k", path=d, duplicates="first")
    assert first.ratings[first.users == 0].tolist() == [5.0]
    mean = load_movielens("ml-100k", path=d, duplicates="mean")
    assert mean.ratings[mean.users == 0].tolist() == [3.5]
    assert len(load_movielens("ml-100k", path=d, duplicates="keep")) == 3
    with pytest.raises(ValueError, match="duplicates="):
        load_movielens("ml-100k", path=d, duplicates="drop")


def test_not_found_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIREC_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("MINIREC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError) as e:
        load_movielens("ml-1m")
    msg = str(e.value)
    assert "MINIREC_DATA" in msg and "path=" in msg and "download=True" in msg
    with pytest.raises(DataNotFoundError, match="neither the dataset folder"):
        load_movielens("ml-1m", path=tmp_path)


def test_ml100k_split_small(tmp_path):
    d = write_ml100k(tmp_path)
    (d / "u1.base").write_text("1\t1\t5\t10\n1\t2\t3\t20\n")
    (d / "u1.test").write_text("2\t1\t4\t30\n3\t3\t1\t40\n")
    train, test = load_ml100k_split("u1", path=d)
    assert train.same_ids(test) and (len(train), len(test)) == (2, 2)
    assert train.n_users == 3 and train.n_items == 3
    (d / "u2.base").write_text("1\t1\t5\t10\n")
    (d / "u2.test").write_text("9\t1\t4\t30\n")
    with pytest.raises(Exception, match=r"u2.test line 1: user id 9"):
        load_ml100k_split("u2", path=d)
    with pytest.raises(ValueError, match="which="):
        load_ml100k_split("u9", path=d)


# ---------------------------------------------------------------- real data
def test_real_ml100k(data_root):
    data = load_movielens("ml-100k", path=data_root / "ml-100k")
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert data.timestamps.min() == 874724710 and data.timestamps.max() == 893286638
    np.testing.assert_array_equal(
        np.bincount(data.ratings.astype(int))[1:], [6110, 11370, 27145, 34174, 21201]
    )
    assert data.item_titles[0] == "Toy Story (1995)"
    assert data.item_features.shape[1] == 2 + 19
    for which in ("u1", "ua"):
        train, test = load_ml100k_split(which, path=data_root / "ml-100k")
        assert len(train) + len(test) == 100_000 and train.same_ids(data)


def test_real_ml1m(data_root):
    t0 = time.perf_counter()
    data = load_movielens("ml-1m", path=data_root / "ml-1m")
    secs = time.perf_counter() - t0
    assert (len(data), data.n_users, data.n_items) == (1_000_209, 6_040, 3_706)
    assert data.item_ids.max() == 3952
    np.testing.assert_array_equal(
        np.bincount(data.ratings.astype(int))[1:],
        [56174, 107557, 261197, 348971, 226310],
    )
    genres = [c for c in data.item_features if c.startswith("genre:")]
    assert len(genres) == 18 and data.user_features.shape == (6040, 4)
    assert secs < 10, f"ml-1m took {secs:.1f} s to load"


def test_ml10m_layout_without_users(tmp_path):
    d = tmp_path / "ml-10m"
    d.mkdir()
    (d / "ratings.dat").write_text("1::122::5::838985046\n1::185::4.5::838983525\n")
    (d / "movies.dat").write_text(
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n"
    )
    data = load_movielens("ml-10m", path=d)
    np.testing.assert_allclose(data.ratings, [5, 4.5])
    assert data.user_features is None and data.item_titles[1] == "Net, The (1995)"


def test_tab_file_where_colons_expected(tmp_path):
    d = write_ml1m(tmp_path, "1\t10\t5\t100\n")
    with pytest.raises(DataError, match=r"line 1: .*looks separated by tabs"):
        load_movielens("ml-1m", path=d)


def test_sparse_id_ranges_and_no_bitmap(tmp_path, monkeypatch):
    from minirec.data import movielens

    big = 10**12  # id range too wide for the lookup table: np.unique path
    d = write_ml100k(tmp_path, f"1\t{big}\t5\t10\n{big}\t2\t3\t20\n1\t2\t4\t30\n")
    data = load_movielens("ml-100k", path=d)
    np.testing.assert_array_equal(data.user_ids, [1, big])
    np.testing.assert_array_equal(data.item_ids, [2, big])
    assert data.item_ids[data.items].tolist() == [big, 2, 2]
    monkeypatch.setattr(movielens, "_DENSE_CELLS", 0)  # sort-based repeat test
    assert len(load_movielens("ml-100k", path=d)) == 3
    write_ml100k(tmp_path, "1\t1\t5\t10\n1\t1\t3\t20\n")
    with pytest.raises(DataError, match="lines 1 and 2"):
        load_movielens("ml-100k", path=d)
