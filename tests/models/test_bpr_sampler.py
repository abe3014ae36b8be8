"""BPR's triple sampler: the Numba paths (bit-packed bitmap, CSR binary search)
against the NumPy spec, the definition (uniform pairs, uniform unseen negatives),
and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from minirec import Interactions
from minirec.data import movielens_shaped
from minirec.data.synthetic import checkerboard
from minirec.models import bpr as bpr_mod
from minirec.models._sampling import (
    pack_bits,
    sample_triples_csr,
    sample_triples_numpy,
)
from minirec.models.bpr import BPR, sample_triples, seen_index


def _keys(data):
    return np.sort(data.users.astype(np.int64) * data.n_items + data.items)


def _all_paths(data, seed, n, users=None, items=None):
    """The triples of every membership test, from the same seed."""
    users = data.users if users is None else users
    items = data.items if items is None else items
    c = data.by_user
    keys, bool_map = seen_index(data)
    bits = pack_bits(c.indptr, c.indices, data.n_items)
    args = (users, items, data.n_items, n)
    out = {
        "spec searchsorted": sample_triples_numpy(
            np.random.default_rng(seed), *args, keys
        ),
        "spec packed bits": sample_triples_numpy(
            np.random.default_rng(seed), *args, keys, bits
        ),
        "csr search": sample_triples_csr(
            np.random.default_rng(seed), *args, c.indptr, c.indices
        ),
        "csr bits": sample_triples_csr(
            np.random.default_rng(seed), *args, c.indptr, c.indices, bits
        ),
        "bpr.sample_triples csr": sample_triples(
            np.random.default_rng(seed), *args, c, bits
        ),
    }
    if bool_map is not None:
        out["spec bool bitmap"] = sample_triples_numpy(
            np.random.default_rng(seed), *args, keys, bool_map
        )
    return out


def _one_unseen_of_many(n_items=3000):
    """User 1 has seen every item but item 0 (100 rounds of rejection rarely find
    it); users 2 and 3 a few items."""
    users = [1] * (n_items - 1) + [2, 2, 3]
    items = list(range(1, n_items)) + [0, 5, 7]
    return Interactions.from_arrays(users, items, None)


DATASETS = {
    # dense blocks: many first draws are rejected, several redraw rounds
    "checkerboard": lambda: checkerboard(
        n_users=30, n_items=20, blocks=2, density=0.9, seed=0
    ),
    # skewed activity / popularity; n_items not a multiple of 64
    "movielens_shaped": lambda: movielens_shaped(
        (300, 177, 9000), seed=3, timestamps=False
    ),
    # the direct draw among the unseen items after the rejection rounds
    "one unseen of many": _one_unseen_of_many,
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_path_draws_the_specs_triples(name):
    data = DATASETS[name]()
    paths = _all_paths(data, seed=7, n=20_000)
    ref = paths.pop("spec searchsorted")
    for path, got in paths.items():
        for a, b in zip(ref, got):
            assert a.dtype == b.dtype, path
            np.testing.assert_array_equal(a, b, err_msg=path)


def test_int64_ids_and_duplicate_pairs_give_the_specs_triples():
    # the same pair twice: the CSR row holds the item twice, the keys twice
    d = Interactions.from_arrays(
        [1, 1, 1, 2, 2, 3, 3, 3, 3],
        [1, 1, 2, 3, 4, 1, 2, 3, 3],
        None,
        duplicates="keep",
    )
    paths = _all_paths(d, 1, 3000, d.users.astype(np.int64), d.items.astype(np.int64))
    ref = paths.pop("spec searchsorted")
    for path, got in paths.items():
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b, err_msg=path)


def test_negatives_are_unseen_and_pairs_observed_python_sets():
    data = DATASETS["movielens_shaped"]()
    seen = {}
    for u, i in zip(data.users.tolist(), data.items.tolist()):
        seen.setdefault(u, set()).add(i)
    c = data.by_user
    bits = pack_bits(c.indptr, c.indices, data.n_items)
    for b in (None, bits):
        u, i, j = sample_triples_csr(
            np.random.default_rng(0), data.users, data.items, data.n_items, 30_000,
            c.indptr, c.indices, b,
        )  # fmt: skip
        assert all(ii in seen[uu] for uu, ii in zip(u.tolist(), i.tolist()))
        assert not any(jj in seen[uu] for uu, jj in zip(u.tolist(), j.tolist()))
        assert j.min() >= 0 and j.max() < data.n_items


def test_packed_bits_are_the_seen_cells():
    data = DATASETS["movielens_shaped"]()
    c = data.by_user
    bits = pack_bits(c.indptr, c.indices, data.n_items)
    cells = np.unpackbits(bits.view(np.uint8), bitorder="little")
    dense = np.zeros(data.n_users * data.n_items, dtype=np.uint8)
    dense[data.users.astype(np.int64) * data.n_items + data.items] = 1
    np.testing.assert_array_equal(cells[: len(dense)], dense)
    assert not cells[len(dense) :].any()  # padding of the last word


def test_distribution_is_the_definition_chi_square():
    """Independent of the spec: p uniform over the observed pairs, and for a fixed
    user j uniform over the items that user has not seen."""
    data = DATASETS["checkerboard"]()
    c = data.by_user
    n = 200_000
    u, i, j = sample_triples_csr(
        np.random.default_rng(11), data.users, data.items, data.n_items, n,
        c.indptr, c.indices,
    )  # fmt: skip
    # pairs: each observed (u, i) equally often
    key = u.astype(np.int64) * data.n_items + i
    _, counts = np.unique(key, return_counts=True)
    assert len(counts) == len(data)
    assert stats.chisquare(counts).pvalue > 1e-3
    # negatives of the busiest user: uniform over its unseen items, none elsewhere
    busy = int(np.argmax(c.lengths()))
    unseen = np.setdiff1d(np.arange(data.n_items), c.row(busy))
    got = np.bincount(j[u == busy], minlength=data.n_items)
    assert got[c.row(busy)].sum() == 0
    assert stats.chisquare(got[unseen]).pvalue > 1e-3
    # a wrong definition is detected: negatives drawn by popularity instead
    pop = np.bincount(data.items, minlength=data.n_items)[unseen].astype(float)
    assert stats.chisquare(got[unseen], pop / pop.sum() * got.sum()).pvalue < 1e-3


@pytest.mark.parametrize("n_items", [12, 3000])
def test_user_with_one_unseen_item_always_gets_it(n_items):
    d = _one_unseen_of_many(n_items)
    assert d.n_items == n_items
    c = d.by_user
    full_user = int(np.flatnonzero(c.lengths() == n_items - 1)[0])
    missing = int(np.setdiff1d(np.arange(n_items), c.row(full_user))[0])
    for bits in (None, pack_bits(c.indptr, c.indices, n_items)):
        u, _, j = sample_triples_csr(
            np.random.default_rng(0), d.users, d.items, n_items, 4000,
            c.indptr, c.indices, bits,
        )  # fmt: skip
        assert (u == full_user).sum() > 2000
        assert (j[u == full_user] == missing).all()
    BPR(k=2, n_epochs=2).fit(d)  # trains: such a user still has a negative


def test_user_who_saw_every_item_is_a_clear_error():
    d = Interactions.from_arrays([1, 1, 2], [1, 2, 1], None)  # user 1: both items
    c = d.by_user
    for bits in (None, pack_bits(c.indptr, c.indices, d.n_items)):
        with pytest.raises(ValueError, match="could not sample negatives"):
            sample_triples_csr(
                np.random.default_rng(0), d.users, d.items, d.n_items, 50,
                c.indptr, c.indices, bits,
            )  # fmt: skip
    with pytest.raises(ValueError, match=r"1 user\(s\) interacted with all 2 items"):
        BPR(k=2, n_epochs=1).fit(d)
    everyone = Interactions.from_arrays([1, 1, 2, 2], [1, 2, 1, 2], None)
    with pytest.raises(ValueError, match="every user has seen every item"):
        BPR(k=2, n_epochs=1).fit(everyone)


def test_bad_arguments_are_named():
    d = DATASETS["checkerboard"]()
    c = d.by_user
    with pytest.raises(ValueError, match="users must lie in"):
        sample_triples_csr(
            np.random.default_rng(0), d.users + d.n_users, d.items, d.n_items, 10,
            c.indptr, c.indices,
        )  # fmt: skip
    with pytest.raises(ValueError, match="one entry per observed pair"):
        sample_triples_csr(
            np.random.default_rng(0), d.users, d.items[:-1], d.n_items, 10,
            c.indptr, c.indices,
        )  # fmt: skip
    with pytest.raises(ValueError, match="bits must be pack_bits"):
        sample_triples_csr(
            np.random.default_rng(0), d.users, d.items, d.n_items, 10,
            c.indptr, c.indices, np.zeros(3, dtype=np.uint64),
        )  # fmt: skip


@pytest.mark.parametrize("bitmap_max", [0, 2**34])
def test_bpr_fit_is_the_fit_with_the_spec_sampler(monkeypatch, bitmap_max):
    """BPR trained with the Numba sampler (bitmap or CSR search) equals BPR
    trained with the NumPy spec's sampler: the same triples, the same model."""
    data = DATASETS["movielens_shaped"]()
    monkeypatch.setattr(bpr_mod, "_BITMAP_MAX", bitmap_max)
    fast = BPR(k=8, n_epochs=3, backend="numba", seed=4).fit(data)
    keys = _keys(data)

    def spec(rng, users, items, n_items, n, seen, bitmap=None):
        assert (bitmap is None) == (bitmap_max == 0)  # the path under test
        return sample_triples_numpy(rng, users, items, n_items, n, keys)

    monkeypatch.setattr(bpr_mod, "sample_triples", spec)
    ref = BPR(k=8, n_epochs=3, backend="numba", seed=4).fit(data)
    for name in ("P_", "Q_", "bi_"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name))
