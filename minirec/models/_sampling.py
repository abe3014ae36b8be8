"""BPR's triple sampler (LearnBPR, bootstrap): a readable NumPy spec and its Numba
twin.

Both draw the same random numbers from the same seeded NumPy Generator, in the same
order, and differ only in the membership test "has u seen j?", on the key
``u * n_items + j``:

* :func:`sample_triples_numpy` (the spec) looks the key up in the sorted keys of all
  observed pairs (``np.searchsorted``), or in a bitmap over the users x items cells
  (one bool per cell, or one bit per cell from :func:`pack_bits`);
* :func:`sample_triples_csr` (Numba, all threads) reads the key's bit in
  :func:`pack_bits`' array (n_users * n_items / 8 bytes: one memory access per test),
  or without it binary-searches ``j`` in the user's own sorted CSR row (no memory
  beyond the CSR; a few dependent accesses per test).

The same seed gives the very same triples from all of them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: rounds of rejection; the triples still rejected then (users who saw almost every
#: item) draw j directly among their unseen items, which is the distribution the
#: rejection converges to
MAX_ROUNDS = 100


def _draw_unseen(rng, todo, u, j, n_items, row) -> None:
    """j[t] uniform over the items user u[t] has not seen (``row(u)``: its sorted
    seen items), for t in todo, user by user in increasing order."""
    users, inv = np.unique(u[todo], return_inverse=True)
    for k, uu in enumerate(users.tolist()):
        unseen = np.setdiff1d(np.arange(n_items), row(uu))
        if len(unseen) == 0:
            raise ValueError(
                f"BPR: could not sample negatives for user index {uu}: it interacted "
                f"with all {n_items} items; drop such users from the training data"
            )
        at = todo[inv == k]
        j[at] = unseen[rng.integers(0, len(unseen), size=len(at))]


def sample_triples_numpy(
    rng: np.random.Generator,
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    n_samples: int,
    seen_keys: np.ndarray,
    bitmap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spec. (u, i) = (users[p], items[p]) with p uniform over the observed
    pairs (with replacement); j uniform over all items, redrawn while u has seen it
    (after ``MAX_ROUNDS`` rounds, drawn among u's unseen items). Raises ValueError
    naming a sampled user who has seen every item.

    `seen_keys`: the sorted keys u * n_items + i of all observed pairs; `bitmap`
    (optional): the same test as a gather, in a bool array over the keys or in the
    uint64 words of :func:`pack_bits` (bit ``key % 64`` of word ``key // 64``)."""
    pick = rng.integers(0, len(users), size=n_samples)
    u = users[pick]
    i = items[pick]
    j = rng.integers(0, n_items, size=n_samples).astype(np.int32)
    todo = np.arange(n_samples)
    for r in range(MAX_ROUNDS):
        keys = u[todo].astype(np.int64) * n_items + j[todo]
        if bitmap is not None and bitmap.dtype == np.uint64:
            bad = (bitmap[keys >> 6] >> (keys & 63).astype(np.uint64)) & 1 == 1
        elif bitmap is not None:
            bad = bitmap[keys]
        else:
            pos = np.searchsorted(seen_keys, keys)
            pos[pos == len(seen_keys)] = 0
            bad = seen_keys[pos] == keys
        todo = todo[bad]
        if len(todo) == 0:
            return u, i, j
        if r < MAX_ROUNDS - 1:
            j[todo] = rng.integers(0, n_items, size=len(todo))

    def row(uu):
        lo, hi = np.searchsorted(seen_keys, [uu * n_items, (uu + 1) * n_items])
        return seen_keys[lo:hi] - uu * n_items

    _draw_unseen(rng, todo, u, j, n_items, row)
    return u, i, j


def pack_bits(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray:
    """One bit per users x items cell, set where the user has seen the item: bit
    ``key % 64`` of word ``key // 64``, key = u * n_items + i, for the CSR rows
    ``indices[indptr[u]:indptr[u + 1]]``. Size n_users * n_items / 8 bytes."""
    n_users = len(indptr) - 1
    bits = np.zeros((n_users * n_items + 63) // 64, dtype=np.uint64)
    _set_bits(np.ascontiguousarray(indptr, dtype=np.int64), indices, n_items, bits)
    return bits


@njit(cache=True, nogil=True)
def _set_bits(indptr, indices, n_items, bits):
    # serial: a word can hold the cells of two users
    for u in range(len(indptr) - 1):
        base = u * n_items
        for p in range(indptr[u], indptr[u + 1]):
            key = base + indices[p]
            bits[key >> 6] |= np.uint64(1) << np.uint64(key & 63)


@njit(inline="always", cache=True, nogil=True)
def _has_bit(bits, key):
    return (bits[key >> 6] >> np.uint64(key & 63)) & np.uint64(1) != 0


@njit(inline="always", cache=True, nogil=True)
def _seen(u, j, indptr, indices, bits, n_items):
    """Whether user u has seen item j: its bit, or a binary search in its row when
    `bits` is empty."""
    if len(bits):
        return _has_bit(bits, np.int64(u) * n_items + j)
    return _in_row(indices, indptr[u], indptr[u + 1], j)


@njit(inline="always", cache=True, nogil=True)
def _in_row(indices, lo, hi, j):
    """Whether j is in the sorted run indices[lo:hi] (binary search)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < j:
            lo = mid + 1
        elif v > j:
            hi = mid
        else:
            return True
    return False


@njit(parallel=True, cache=True, nogil=True)
def _gather_test(pick, j, users, items, indptr, indices, bits, n_items):
    """u = users[pick], i = items[pick] and whether u has seen j, per sample."""
    n = len(pick)
    u = np.empty(n, dtype=users.dtype)
    i = np.empty(n, dtype=items.dtype)
    bad = np.empty(n, dtype=np.bool_)
    for t in prange(n):
        p = pick[t]
        uu = users[p]
        u[t] = uu
        i[t] = items[p]
        bad[t] = _seen(uu, j[t], indptr, indices, bits, n_items)
    return u, i, bad


@njit(parallel=True, cache=True, nogil=True)
def _test(todo, u, j, indptr, indices, bits, n_items):
    """Whether u[t] has seen j[t], for t in todo."""
    bad = np.empty(len(todo), dtype=np.bool_)
    for s in prange(len(todo)):
        t = todo[s]
        bad[s] = _seen(u[t], j[t], indptr, indices, bits, n_items)
    return bad


def sample_triples_csr(
    rng: np.random.Generator,
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    n_samples: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    bits: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sample_triples_numpy` with the membership test in Numba: a bit of
    `bits` (from :func:`pack_bits` on the same rows) or, when `bits` is None, a
    binary search in ``indices[indptr[u]:indptr[u + 1]]`` (u's items, sorted
    ascending). The same draws from `rng`, so the same triples."""
    n_rows = len(indptr) - 1
    if len(users) != len(items):
        raise ValueError(
            f"users ({len(users)}) and items ({len(items)}) must have one entry "
            "per observed pair"
        )
    if len(users) and (users.min() < 0 or users.max() >= n_rows):
        raise ValueError(
            f"users must lie in [0, {n_rows}), the rows of the seen-items CSR; "
            f"got [{users.min()}, {users.max()}]"
        )
    users = np.ascontiguousarray(users)
    items = np.ascontiguousarray(items)
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices)
    if bits is None:
        bits = np.zeros(0, dtype=np.uint64)
    elif bits.dtype != np.uint64 or len(bits) != (n_rows * n_items + 63) // 64:
        raise ValueError(
            f"bits must be pack_bits(indptr, indices, n_items): "
            f"{(n_rows * n_items + 63) // 64} uint64 words; got {len(bits)} "
            f"{bits.dtype} values"
        )
    pick = rng.integers(0, len(users), size=n_samples)
    j = rng.integers(0, n_items, size=n_samples).astype(np.int32)
    u, i, bad = _gather_test(pick, j, users, items, indptr, indices, bits, n_items)
    todo = np.flatnonzero(bad)
    for r in range(MAX_ROUNDS):
        if r:
            todo = todo[_test(todo, u, j, indptr, indices, bits, n_items)]
        if len(todo) == 0:
            return u, i, j
        if r < MAX_ROUNDS - 1:
            j[todo] = rng.integers(0, n_items, size=len(todo))
    _draw_unseen(
        rng, todo, u, j, n_items, lambda uu: indices[indptr[uu] : indptr[uu + 1]]
    )
    return u, i, j
