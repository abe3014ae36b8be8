"""Split properties: disjoint, complete, shared id maps, per-function guarantees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirec.data import (
    Interactions,
    leave_last_out,
    per_user_split,
    random_split,
    temporal_split,
)
from minirec.errors import DataError


def make(n_users=20, n_items=15, density=0.4, seed=0, ts=True):
    r = np.random.default_rng(seed)
    u, i = np.nonzero(r.random((n_users, n_items)) < density)
    t = r.integers(0, 50, len(u)) if ts else None  # ties on purpose
    return Interactions.from_arrays(
        u + 1, i + 1, r.integers(1, 6, len(u)), t, name="toy"
    )


def keys(d):
    return set(zip(d.users.tolist(), d.items.tolist(), strict=True))


def check_partition(data, train, test):
    assert train.same_ids(data) and test.same_ids(data)
    assert len(train) + len(test) == len(data)
    assert not keys(train) & keys(test)
    assert keys(train) | keys(test) == keys(data)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000), frac=st.floats(0.05, 0.9), density=st.floats(0.2, 0.9)
)
def test_splits_partition(seed, frac, density):
    data = make(seed=seed, density=density)
    tr, te = random_split(data, frac, seed=seed)
    check_partition(data, tr, te)
    assert len(te) == round(frac * len(data))
    n = data.user_counts()
    if (np.minimum(np.rint(frac * n), n - 1) <= 0).all():
        with pytest.raises(DataError, match="puts nothing in test"):
            per_user_split(data, frac, seed=seed)
    else:
        tr, te = per_user_split(data, frac, seed=seed)
        check_partition(data, tr, te)
        assert (tr.user_counts() >= np.minimum(1, n)).all()
    tr, te = temporal_split(data, frac)
    check_partition(data, tr, te)
    assert tr.timestamps.max() <= te.timestamps.min()
    tr, te = leave_last_out(data, n=2)
    check_partition(data, tr, te)


def test_random_split_seeded():
    data = make()
    a = random_split(data, 0.3, seed=1)[1]
    b = random_split(data, 0.3, seed=1)[1]
    c = random_split(data, 0.3, seed=2)[1]
    assert keys(a) == keys(b) and keys(a) != keys(c)


def test_per_user_counts_and_min_train():
    data = make(density=0.6)
    tr, te = per_user_split(data, 0.5, seed=0, min_train=3)
    n = data.user_counts()
    expect = np.maximum(np.minimum(np.rint(0.5 * n), n - 3), 0)
    np.testing.assert_array_equal(te.user_counts(), expect)


def test_leave_last_out_takes_latest():
    data = Interactions.from_arrays(
        [1, 1, 1, 2, 2, 3],
        [1, 2, 3, 1, 2, 1],
        [5, 4, 3, 2, 1, 5],
        [30, 10, 20, 5, 5, 7],
    )
    tr, te = leave_last_out(data)
    got = sorted(zip(te.user_ids[te.users], te.item_ids[te.items], strict=True))
    # user 1 -> item 1 (t=30); user 2 tie at t=5 -> later row (item 2); user 3 has
    # one interaction only -> stays in train
    assert got == [(1, 1), (2, 2)]
    tr2, te2 = leave_last_out(data, n=2)
    assert len(te2) == 3  # users 1 (2 rows) and 2 (1 row, one kept in train)
    assert (tr2.user_counts() >= 1).all()


def test_time_splits_need_timestamps():
    data = make(ts=False)
    for fn in (leave_last_out, temporal_split):
        with pytest.raises(DataError, match="toy.*timestamps|timestamps.*toy"):
            fn(data)


@pytest.mark.parametrize("frac", [0, 1, -0.1, 1.5, "x"])
def test_bad_fraction(frac):
    with pytest.raises(ValueError, match="test_fraction"):
        random_split(make(), frac)
