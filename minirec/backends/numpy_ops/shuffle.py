"""Shuffles and the DSGD layout of the ratings: the spec (Numba twins in
``numba_ops/shuffle.py``)."""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
SHUFFLE_MAX_BITS = 12  # at most 2^12 = 4096 buckets; see shuffle_bucket_bits


def _splitmix64(seed: int, first: int, count: int) -> np.ndarray:
    """Draws first .. first+count-1 of the SplitMix64 stream of `seed` (Steele et
    al. 2014), as uint64: draw c = mix(seed + (c + 1) * golden mod 2^64). Counter
    based, so a draw is a function of its number: NumPy computes them all at once,
    the Numba twin one after the other, and both get the same numbers."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & _MASK64) + np.uint64(_GOLDEN) * (
            np.arange(first + 1, first + count + 1, dtype=np.uint64)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def shuffle_bucket_bits(n: int) -> int:
    """log2 of the number of buckets :func:`shuffle_ratings` uses for n triples:
    the fewest that leave at most 256 triples per bucket on average, and at most
    12 bits (4096 buckets; ~250 triples each on ML-1M's million ratings). Few
    buckets for a small block (a DSGD block of ML-1M in 8 x 8 has ~15,600 triples:
    64 buckets) keep the scatter's write streams in L1."""
    bits = 0
    while bits < SHUFFLE_MAX_BITS and (256 << bits) < n:
        bits += 1
    return bits


def shuffle_ratings(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    seed: int,
    out_users: np.ndarray,
    out_items: np.ndarray,
    out_ratings: np.ndarray,
) -> None:
    """Write the rating triples (users[n], items[n], ratings[n]) into `out_*` in a
    uniformly random order drawn from `seed` (the per-epoch shuffle of SGD).

    Two passes, so that the fast twin never jumps around a large array
    (Rao 1961, Sandelius 1962): (1) every triple draws one of 2^b buckets (the top
    b bits of its draw, b = :func:`shuffle_bucket_bits` (n): up to 4096 buckets of
    ~250 triples) and the triples are written bucket after bucket, keeping
    their order inside a bucket; (2) each bucket is shuffled by Fisher-Yates. Given
    the bucket sizes every arrangement is equally likely, so the result is a uniform
    permutation. Random integers in [0, m) are ``(hi32 * m) >> 32`` of a draw's
    upper 32 bits (Lemire 2019 without the rejection step: bias below m / 2^32).
    Draws 0..n-1 pick the buckets; the Fisher-Yates steps use the following draws,
    bucket by bucket, from the last slot down.

    The SGD kernels then read the shuffled triples front to back (pass
    ``order = arange(n)``): sequential reads instead of a random gather per rating.
    """
    n = len(users)
    bits = shuffle_bucket_bits(n)
    B = 1 << bits
    top12 = _splitmix64(seed, 0, n) >> np.uint64(64 - SHUFFLE_MAX_BITS)
    bucket = (top12 >> np.uint64(SHUFFLE_MAX_BITS - bits)).astype(np.int64)
    where = np.argsort(bucket, kind="stable")  # bucket by bucket, original order
    out_users[:] = users[where]
    out_items[:] = items[where]
    out_ratings[:] = ratings[where]
    ends = np.cumsum(np.bincount(bucket, minlength=B))
    draws = _splitmix64(seed, n, n)  # at most n - 1 of them are used
    c = 0
    start = 0
    for b in range(B):
        for t in range(int(ends[b]) - 1, start, -1):
            m = t - start + 1
            j = start + int(((int(draws[c]) >> 32) * m) >> 32)
            c += 1
            for a in (out_users, out_items, out_ratings):
                a[t], a[j] = a[j], a[t]
        start = int(ends[b])


def shuffle_ratings_blocks(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    bounds: np.ndarray,
    seed: int,
    out_users: np.ndarray,
    out_items: np.ndarray,
    out_ratings: np.ndarray,
) -> None:
    """:func:`shuffle_ratings` of each block ``[bounds[b], bounds[b + 1])`` on its
    own, with seed ``seed + b`` (mod 2^64): triples stay in their block. (The Numba
    twin shuffles the blocks in parallel.)"""
    for b in range(len(bounds) - 1):
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        shuffle_ratings(
            users[lo:hi],
            items[lo:hi],
            ratings[lo:hi],
            (seed + b) & _MASK64,
            out_users[lo:hi],
            out_items[lo:hi],
            out_ratings[lo:hi],
        )


def _id_blocks(ids: np.ndarray, n_ids: int, T: int) -> np.ndarray:
    """Block (0..T-1) of every id: T contiguous id ranges with about equal numbers
    of ratings (contiguous, so two threads never write the same cache line of the
    bias vectors)."""
    cum = np.cumsum(np.bincount(ids, minlength=n_ids))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, T) / T, side="right")
    return np.searchsorted(cuts, np.arange(n_ids), side="right")


def strata_layout(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, T: int
) -> tuple[np.ndarray, np.ndarray]:
    """The DSGD layout of the ratings in T x T blocks (Gemulla et al. 2011).

    Users and items are cut into T contiguous blocks each (about equal rating
    counts); the rating (u, i) lies in stratum (s, t) with t = block(u) and
    s = (block(i) - t) mod T. In sub-epoch s, block t holds only rows of user
    block t and item block (t + s) mod T, so the T blocks of a sub-epoch never
    touch the same row and can run on as many threads. T may exceed the thread
    count (each thread then runs several blocks of a sub-epoch in turn): smaller
    blocks keep their rows of P and Q in the CPU cache. Returns ``perm`` (the
    ratings sorted by stratum s * T + t, stable) and ``bounds`` (T² + 1 offsets
    into it)."""
    ub = _id_blocks(users, n_users, T)[users]
    ib = _id_blocks(items, n_items, T)[items]
    key = ((ib - ub) % T) * T + ub
    perm = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[perm], np.arange(T * T + 1)).astype(np.int64)
    return perm, bounds
