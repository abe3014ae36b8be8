"""NCF protocol: small files in tmp_path, regeneration, real-data counts."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import Interactions, load_movielens, load_ncf_test, ncf_protocol
from minirec.errors import DataError

N = 99


def small_data():
    # 6 users (UserID 1..6), 40 ratings each among 300 movies (MovieID 10, 20, ...)
    r = np.random.default_rng(0)
    u, i, t = [], [], []
    for user in range(1, 7):
        items = r.choice(300, 40, replace=False)
        u += [user] * 40
        i += list((items + 1) * 10)
        t += list(r.permutation(40) + 100 * user)
    return Interactions.from_arrays(u, i, np.ones(len(u)) * 4, t, name="tiny")


def write_files(folder, data):
    """NCF-style files from `data`: test = latest per user, NCF ids 0-based."""
    folder.mkdir(parents=True, exist_ok=True)
    movies = data.item_ids
    (folder / "ml-1m.item_index.tsv").write_text(
        "ncf_item_index\tMovieID\n"
        + "".join(f"{k}\t{m}\n" for k, m in enumerate(movies))
    )
    rating, negative = [], []
    for u in range(data.n_users):
        rows = np.flatnonzero(data.users == u)
        last = rows[np.argmax(data.timestamps[rows])]
        seen = set(data.items[rows].tolist())
        negs = [j for j in range(data.n_items) if j not in seen][:N]
        rating.append(f"{u}\t{data.items[last]}\t4\t{data.timestamps[last]}\n")
        negative.append(
            f"({u},{data.items[last]})\t" + "\t".join(map(str, negs)) + "\n"
        )
    (folder / "ml-1m.test.rating").write_text("".join(rating))
    (folder / "ml-1m.test.negative").write_text("".join(negative))
    return folder


def test_files_round_trip(tmp_path):
    data = small_data()
    folder = write_files(tmp_path / "ncf", data)
    f = load_ncf_test(tmp_path)  # the parent folder works too
    np.testing.assert_array_equal(f.users, [1, 2, 3, 4, 5, 6])  # UserID = NCF user + 1
    assert f.negatives.shape == (6, N) and set(f.items) <= set(data.item_ids)
    train, tu, ti, neg = ncf_protocol(data, path=folder)
    assert len(train) == len(data) - 6 and train.same_ids(data)
    np.testing.assert_array_equal(tu, np.arange(6))
    # the test item is the latest of each user, and is not in train
    for u, i in zip(tu, ti, strict=True):
        rows = np.flatnonzero(data.users == u)
        assert data.items[rows[np.argmax(data.timestamps[rows])]] == i
        assert i not in train.by_user.row(u)
    assert neg.shape == (6, N) and neg.dtype == np.int32
    # regenerating gives the same test items (latest by timestamp), new negatives
    tr2, tu2, ti2, neg2 = ncf_protocol(data, regenerate=True, seed=1)
    np.testing.assert_array_equal(ti2, ti)
    dense = data.to_dense() > 0
    assert not dense[tu2[:, None], neg2].any()


def test_regenerate_needs_timestamps(tmp_path):
    d = small_data()
    no_ts = Interactions.from_arrays(
        d.user_ids[d.users], d.item_ids[d.items], d.ratings, name="no-ts"
    )
    with pytest.raises(DataError, match="no-ts.*timestamps|timestamps.*no-ts"):
        ncf_protocol(no_ts, regenerate=True)


def test_bad_files(tmp_path):
    data = small_data()
    folder = write_files(tmp_path / "ncf", data)
    lines = (folder / "ml-1m.test.negative").read_text().splitlines()
    lines[1] = lines[1].rsplit("\t", 1)[0]  # 98 negatives
    (folder / "ml-1m.test.negative").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"test.negative line 2: 100 fields where 101"):
        load_ncf_test(folder)
    write_files(folder, data)
    other = Interactions.from_arrays([1, 2], [10, 20], [3, 4])
    with pytest.raises(DataError, match="not in the data"):
        ncf_protocol(other, path=folder)


def test_real_ncf(data_root):
    data = load_movielens("ml-1m", path=data_root / "ml-1m")
    f = load_ncf_test(data_root / "ncf")
    assert f.negatives.shape == (6040, 99) and f.users.min() == 1
    train, tu, ti, neg = ncf_protocol(data, path=data_root / "ncf")
    assert (len(tu), neg.shape) == (6040, (6040, 99))
    assert len(train) == 1_000_209 - 6040
    np.testing.assert_array_equal(tu, np.arange(6040))
    # none of the 597,960 negatives is a training item of its user (README check)
    seen = train.to_dense() > 0
    assert not seen[tu[:, None], neg].any()
    # the published quirk: 156 rows list the held-out item among the negatives
    assert int((neg == ti[:, None]).any(axis=1).sum()) == 156
    # test ratings agree with the data
    key = data.users.astype(np.int64) * data.n_items + data.items
    order = np.argsort(key)
    want = tu.astype(np.int64) * data.n_items + ti
    pos = np.searchsorted(key[order], want)
    assert (key[order][pos] == want).all()
    np.testing.assert_array_equal(data.ratings[order[pos]], f.ratings)
