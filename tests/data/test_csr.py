"""Interactions.from_csr / to_csr against scipy.sparse itself: indices line up with
the matrix, stored zeros are not interactions, repeated COO entries are summed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from minirec.data import Interactions
from minirec.errors import DataError


def random_matrix(seed=0, shape=(7, 9), density=0.4):
    rng = np.random.default_rng(seed)
    m = sp.random(*shape, density=density, format="lil", random_state=rng)
    m[3, :] = 0  # an empty row and an empty column stay in the id space
    m[:, 4] = 0
    m = m.tocsr()
    m.data = np.round(m.data * 5, 1) + 0.5
    m.data[[0, 5]] = 0.0  # stored zeros: not interactions
    return m


def test_from_csr_keeps_every_row_and_column():
    m = random_matrix()
    assert (m.data == 0).sum() >= 2  # the stored zeros are really there
    d = Interactions.from_csr(m)
    assert d.shape == m.shape
    np.testing.assert_array_equal(d.user_ids, np.arange(7))
    np.testing.assert_array_equal(d.item_ids, np.arange(9))
    assert len(d) == m.count_nonzero()
    np.testing.assert_array_equal(d.to_dense(), m.toarray().astype(np.float32))
    assert (d.ratings != 0).all() and not d.implicit
    back = d.to_csr()
    assert isinstance(back, sp.csr_matrix) and back.shape == m.shape
    assert back.dtype == np.float32 and back.has_canonical_format
    assert abs(back - m).max() < 1e-6 and back.nnz == m.count_nonzero()


@pytest.mark.parametrize("fmt", ["coo", "csc", "lil", "dok"])
def test_any_sparse_format(fmt):
    m = random_matrix(1)
    d = Interactions.from_csr(m.asformat(fmt))
    np.testing.assert_array_equal(d.to_dense(), m.toarray().astype(np.float32))
    d = Interactions.from_csr(sp.csr_array(m))
    assert d.shape == m.shape and len(d) == m.count_nonzero()


def test_repeated_coo_entries_are_summed_and_input_untouched():
    coo = sp.coo_matrix(([1.0, 2.0, 4.0, -4.0], ([0, 0, 1, 1], [1, 1, 0, 0])), (2, 3))
    csr = sp.csr_matrix(coo)  # scipy keeps the repeats in a non-canonical CSR
    before = (csr.data.copy(), csr.indices.copy(), csr.indptr.copy())
    for m in (coo, csr):
        d = Interactions.from_csr(m)
        np.testing.assert_array_equal(d.to_dense(), coo.toarray())  # scipy's sum
        assert len(d) == 1  # (1, 0) summed to zero: not an interaction
    for a, b in zip(before, (csr.data, csr.indices, csr.indptr)):
        np.testing.assert_array_equal(a, b)


def test_implicit_flag_and_ids():
    ones = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0]], dtype=np.float64))
    d = Interactions.from_csr(ones, user_ids=["u1", "u2"], item_ids=[30, 10, 20])
    assert d.implicit
    assert d.user_index("u2") == 1 and d.item_index(10) == 1
    np.testing.assert_array_equal(d.item_ids[d.items], [10, 20, 30])
    assert not Interactions.from_csr(ones * 2).implicit
    assert not Interactions.from_csr(ones, implicit=False).implicit
    bools = Interactions.from_csr(ones.astype(bool))
    assert bools.implicit and len(bools) == 3


def test_from_arrays_to_csr_matches_scipy():
    rng = np.random.default_rng(3)
    u, i = rng.integers(0, 20, 200), rng.integers(0, 30, 200)
    r = rng.integers(1, 6, 200).astype(np.float32)
    d = Interactions.from_arrays(u, i, r, duplicates="keep")
    want = sp.coo_matrix((r, (d.users, d.items)), shape=d.shape).tocsr()
    got = d.to_csr()
    assert abs(got - want).max() == 0 and got.nnz == want.nnz


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"user_ids": [1, 2]}, "user_ids has 2 entries but the matrix has 3 rows"),
        ({"item_ids": [1, 1, 2, 3]}, "item_ids has repeated ids"),
        ({"user_ids": [1, np.nan, 3]}, "user_ids row 1: user id nan is missing"),
    ],
)
def test_bad_ids_are_named(kwargs, match):
    with pytest.raises(DataError, match=match):
        Interactions.from_csr(sp.eye(3, 4, format="csr"), **kwargs)


def test_bad_values_and_types():
    m = sp.csr_matrix(np.array([[0, 1.0], [np.nan, 0]]))
    with pytest.raises(DataError, match="row 1, column 0: value nan"):
        Interactions.from_csr(m)
    with pytest.raises(DataError, match="row 0, column 1: value 1e\\+39"):
        Interactions.from_csr(sp.csr_matrix(np.array([[0, 1e39]])))
    with pytest.raises(TypeError, match="scipy.sparse"):
        Interactions.from_csr(np.eye(3))
    with pytest.raises(DataError, match="not ratings"):
        Interactions.from_csr(sp.csr_matrix(np.eye(2, dtype=np.complex128)))
    empty = Interactions.from_csr(sp.csr_matrix((2, 3)))
    assert len(empty) == 0 and empty.shape == (2, 3)
    assert empty.to_csr().shape == (2, 3)


def test_row_major_order_equals_lexsort():
    """The one-key stable sort gives lexsort's order, duplicates in input order,
    and the lexsort fallback where row * n_cols would overflow."""
    from minirec.data.interactions import _row_major_order

    rng = np.random.default_rng(3)
    row = rng.integers(0, 50, 4000).astype(np.int32)
    col = rng.integers(0, 30, 4000).astype(np.int32)  # many duplicate pairs
    np.testing.assert_array_equal(
        _row_major_order(row, col, 50), np.lexsort((col, row))
    )
    big = np.array([2**40, 5, 2**40, 0], dtype=np.int64)
    r = np.array([1, 1, 0, 0], dtype=np.int64)
    np.testing.assert_array_equal(_row_major_order(r, big, 2**30), np.lexsort((big, r)))
    assert len(_row_major_order(r[:0], big[:0], 0)) == 0
