"""sample_negatives: never a seen/excluded item, distinct, seeded, popularity bias."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirec.data import Interactions, sample_negatives
from minirec.data import sampling as sampling_mod
from minirec.errors import DataError


def make(n_users=30, n_items=25, density=0.3, seed=0):
    r = np.random.default_rng(seed)
    u, i = np.nonzero(r.random((n_users, n_items)) < density)
    return Interactions.from_arrays(
        u, i, None, user_ids=np.arange(n_users), item_ids=np.arange(n_items)
    )


@pytest.fixture(params=["bitmap", "searchsorted"])
def membership(request, monkeypatch):
    if request.param == "searchsorted":
        monkeypatch.setattr(sampling_mod, "_DENSE_CELLS", 0)
    return request.param


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1000),
    n=st.integers(1, 8),
    density=st.floats(0.05, 0.6),
    alpha=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_never_seen_distinct(seed, n, density, alpha):
    data = make(density=density, seed=seed)
    users = np.random.default_rng(seed).integers(0, data.n_users, 50)
    try:
        neg = sample_negatives(data, users, n, alpha=alpha, seed=seed)
    except DataError as e:  # only when some user truly has too few allowed items
        counts = data.item_counts()
        ok = counts > 0 if alpha else np.ones(data.n_items, bool)
        dense = data.to_dense() > 0
        avail = (ok[None, :] & ~dense[users]).sum(axis=1)
        assert (avail < n).any(), str(e)
        return
    assert neg.shape == (50, n) and neg.dtype == np.int32
    dense = data.to_dense() > 0
    assert not dense[users[:, None], neg].any()
    assert all(len(set(row)) == n for row in neg.tolist())
    if alpha:
        assert (data.item_counts()[neg] > 0).all()


def test_both_membership_paths(membership):
    data = make(density=0.5)
    users = np.arange(data.n_users)
    neg = sample_negatives(data, users, 5, seed=3)
    assert not (data.to_dense() > 0)[users[:, None], neg].any()
    again = sample_negatives(data, users, 5, seed=3)
    np.testing.assert_array_equal(neg, again)


def test_seeded_and_uniform():
    data = make(n_users=5, n_items=200, density=0.05)
    users = np.repeat(np.arange(5), 400)
    a = sample_negatives(data, users, 3, seed=1)
    np.testing.assert_array_equal(a, sample_negatives(data, users, 3, seed=1))
    assert not np.array_equal(a, sample_negatives(data, users, 3, seed=2))
    counts = np.bincount(a.ravel(), minlength=200)
    # uniform over unseen items: no item is drawn far more than the mean (6000/200)
    assert counts.max() < 3 * counts.mean()


def test_popularity_alpha_follows_counts():
    r = np.random.default_rng(0)
    n_items = 20
    pop = np.arange(1, n_items + 1)  # item j has j+1 interactions (users 100..)
    u = np.concatenate([100 + np.arange(c) for c in pop])
    i = np.repeat(np.arange(n_items), pop)
    data = Interactions.from_arrays(
        np.concatenate([u, [0]]),
        np.concatenate([i, [0]]),
        None,
        user_ids=np.arange(200),
        item_ids=np.arange(n_items),
    )
    users = np.zeros(20_000, dtype=np.int64)  # user 0 saw item 0 only
    neg = sample_negatives(data, users, 1, alpha=1.0, seed=0, unique=False)
    freq = np.bincount(neg.ravel(), minlength=n_items)[1:] / len(users)
    w = (data.item_counts()[1:]).astype(float)
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.01)
    del r


def test_exclude_csr_and_array():
    data = make(density=0.2)
    users = np.arange(data.n_users)
    extra = make(density=0.3, seed=5)
    neg = sample_negatives(data, users, 3, exclude=extra.by_user, seed=0)
    both = (data.to_dense() > 0) | (extra.to_dense() > 0)
    assert not both[users[:, None], neg].any()
    neg2 = sample_negatives(data, users, 3, exclude=extra, seed=0)
    np.testing.assert_array_equal(neg, neg2)
    # per-row array exclusion, -1 pads
    ex = np.full((data.n_users, 2), -1)
    ex[:, 0] = 0
    neg3 = sample_negatives(data, users, 3, exclude=ex, seed=0)
    assert not (neg3 == 0).any()
    neg4 = sample_negatives(data, users, 3, exclude=np.ones(data.n_users, int), seed=0)
    assert not (neg4 == 1).any()
    with pytest.raises(ValueError, match="exclude has shape"):
        sample_negatives(data, users, 3, exclude=np.zeros((3, 2), int))


def test_too_few_unseen_items_names_user():
    data = Interactions.from_arrays([7, 7, 7, 8], [1, 2, 3, 1], None)
    with pytest.raises(DataError, match=r"user 7 .*0 items.*n=1"):
        sample_negatives(data, np.array([0]), 1)
    with pytest.raises(DataError, match=r"user 8 .*2 items.*n=3"):
        sample_negatives(data, np.array([1]), 3)
    # exactly enough: the exact fallback finds them
    neg = sample_negatives(data, np.array([1, 1]), 2, seed=0)
    assert sorted(neg[0].tolist()) == [1, 2]


def test_dense_user_uses_fallback():
    # a user who saw 998 of 1000 items: rejection almost always fails
    n_items = 1000
    u = np.zeros(998, dtype=int)
    data = Interactions.from_arrays(
        np.r_[u, 1], np.r_[np.arange(998), 0], None, item_ids=np.arange(n_items)
    )
    neg = sample_negatives(data, np.zeros(10, dtype=np.int64), 2, seed=0)
    assert (np.sort(neg, axis=1) == [998, 999]).all()


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"n": 0}, "n=0"),
        ({"alpha": -1}, "alpha"),
        ({"users": np.array([99])}, "outside"),
    ],
)
def test_bad_arguments(kw, msg):
    args = {"data": make(), "users": np.array([0, 1]), "n": 2} | kw
    with pytest.raises(ValueError, match=msg):
        sample_negatives(**args)
