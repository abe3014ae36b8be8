"""SASRec loader/split and session-rec Sessions: small files and real counts."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.data import (
    load_sasrec,
    load_session_split,
    load_sessions,
    sasrec_negatives,
    sasrec_split,
    user_sequences,
)
from minirec.errors import DataError

SAS = "1 5\n1 3\n1 9\n1 4\n2 7\n2 5\n3 3\n3 8\n3 1\n"


def test_sasrec_order_and_split(tmp_path):
    p = tmp_path / "Toy.txt"
    p.write_text(SAS)
    data = load_sasrec(p)
    assert data.implicit and data.name == "Toy" and len(data) == 9
    indptr, items = user_sequences(data)
    seq1 = data.item_ids[items[indptr[0] : indptr[1]]].tolist()
    assert seq1 == [5, 3, 9, 4]  # file order, not sorted by item
    train, valid, test = sasrec_split(data)
    raw = lambda d: sorted(  # noqa: E731
        zip(d.user_ids[d.users].tolist(), d.item_ids[d.items].tolist(), strict=True)
    )
    assert raw(test) == [(1, 4), (3, 1)]
    assert raw(valid) == [(1, 9), (3, 8)]
    assert raw(train) == [(1, 3), (1, 5), (2, 5), (2, 7), (3, 3)]  # user 2: < 3 items
    neg = sasrec_negatives(data, test.users, n=3, seed=0)
    dense = data.to_dense() > 0
    assert neg.shape == (2, 3) and not dense[test.users[:, None], neg].any()


def test_sasrec_bad_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("1 5\n1 x\n")
    with pytest.raises(DataError, match=r"bad.txt line 2: item 'x'"):
        load_sasrec(p)
    p.write_text("1,5\n")
    with pytest.raises(DataError, match="spaces"):
        load_sasrec(p)


HEAD = "SessionId\tItemId\tTime\n"


def test_sessions_sorted_with_offsets(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text(HEAD + "2\t10\t5.5\n1\t30\t2.0\n1\t20\t1.0\n2\t20\t4.0\n3\t10\t9\n")
    s = load_sessions(p)
    np.testing.assert_array_equal(s.session_ids, [1, 2, 3])
    np.testing.assert_array_equal(s.offsets, [0, 2, 4, 5])
    assert s.item_ids[s.session(0)].tolist() == [20, 30]  # by time
    assert s.item_ids[s.session(1)].tolist() == [20, 10]
    assert s.times.dtype == np.float64 and s.times[0] == 1.0
    # length-1 sessions: kept by default, dropped with min_length=2
    assert s.lengths().tolist() == [2, 2, 1]
    s2 = load_sessions(p, min_length=2)
    assert s2.n_sessions == 2 and s2.dropped["sessions_short"] == 1
    df = s.to_dataframe()
    assert df["ItemId"].tolist() == [20, 30, 20, 10, 10]
    inter = s.to_interactions()
    assert inter.n_users == 3 and len(inter) == 5


def test_session_split_drops_unknown_items(tmp_path):
    d = tmp_path / "toy"
    d.mkdir()
    (d / "x_train_full.txt").write_text(HEAD + "1\t10\t1\n1\t20\t2\n2\t30\t3\n")
    # session 5: one unknown item -> length 1 -> dropped; session 6: all unknown ->
    # empty -> dropped; session 7: one unknown of three -> kept with 2 events
    (d / "x_test.txt").write_text(
        HEAD + "5\t10\t10\n5\t99\t11\n6\t98\t12\n6\t97\t13\n"
        "7\t20\t14\n7\t99\t15\n7\t30\t16\n"
    )
    train, test = load_session_split("toy", path=d)
    assert train.n_items == 3 and test.n_items == 3
    assert test.session_ids.tolist() == [7]
    assert test.item_ids[test.session(0)].tolist() == [20, 30]
    assert test.dropped == {"events_unknown_item": 4, "sessions_short": 2}
    assert (np.diff(test.offsets) > 0).all()  # never an empty session


def test_sessions_bad_input(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="SessionId"):
        load_sessions(p)
    p.write_text(HEAD + "1\t10\t1\n1\t20\n")
    with pytest.raises(DataError, match=r"s.txt line 3: 2 fields"):
        load_sessions(p)
    p.write_text(HEAD)
    with pytest.raises(DataError, match="no data lines"):
        load_sessions(p)


def test_real_sasrec(data_root):
    data = load_sasrec(data_root / "sasrec" / "Video.txt")
    assert (len(data), data.n_users, data.n_items) == (287_107, 31_013, 23_715)
    train, valid, test = sasrec_split(data)
    assert len(valid) == len(test) == int((data.user_counts() >= 3).sum())
    assert len(train) + len(valid) + len(test) == len(data)


def test_real_sessions(data_root):
    train, test = load_session_split(path=data_root / "sessions" / "rsc15-100k")
    assert (train.n_events, train.n_sessions, train.n_items) == (70_278, 17_794, 2_933)
    assert (test.n_events, test.n_sessions) == (13_568, 3_416)
    assert test.dropped == {"events_unknown_item": 0, "sessions_short": 0}
    assert test.times.min() >= train.times.max()
