"""Numba twins of :mod:`minirec.backends.numpy_ops.shuffle` (same permutations)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..numpy_ops.shuffle import strata_layout
from ._jit import JIT as _JIT

__all__ = ["shuffle_ratings", "shuffle_ratings_blocks", "strata_layout"]


@njit(**_JIT)
def _splitmix64_draw(seed, c):
    """Draw number c of the SplitMix64 stream of `seed` (see numpy_ops._splitmix64)."""
    z = seed + np.uint64(0x9E3779B97F4A7C15) * np.uint64(c + 1)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**_JIT)
def _bucket_bits(n):
    """numpy_ops.shuffle_bucket_bits: ~256 triples per bucket, at most 4096."""
    bits = 0
    while bits < 12 and (np.int64(256) << bits) < n:
        bits += 1
    return bits


@njit(**_JIT)
def _shuffle_ratings(users, items, ratings, seed, out_users, out_items, out_ratings):
    n = len(users)
    bits = _bucket_bits(n)
    B = 1 << bits  # buckets of ~250 triples: Fisher-Yates inside one stays in L1
    shift = np.uint64(12 - bits)  # two shifts: never one by 64 (bits = 0)
    bucket = np.empty(n, dtype=np.uint16)
    ends = np.zeros(B + 1, dtype=np.int64)  # ends[b + 1] = end of bucket b
    for t in range(n):
        b = (_splitmix64_draw(seed, t) >> np.uint64(52)) >> shift
        bucket[t] = b
        ends[b + 1] += 1
    for b in range(B):
        ends[b + 1] += ends[b]
    fill = ends[:B].copy()
    for t in range(n):  # sequential reads, one write stream per bucket
        b = bucket[t]
        p = fill[b]
        out_users[p] = users[t]
        out_items[p] = items[t]
        out_ratings[p] = ratings[t]
        fill[b] = p + 1
    c = n
    for b in range(B):  # Fisher-Yates inside each bucket (a few cache-resident KB)
        start = ends[b]
        for t in range(ends[b + 1] - 1, start, -1):
            m = np.uint64(t - start + 1)
            hi = _splitmix64_draw(seed, c) >> np.uint64(32)
            j = start + np.int64((hi * m) >> np.uint64(32))
            c += 1
            out_users[t], out_users[j] = out_users[j], out_users[t]
            out_items[t], out_items[j] = out_items[j], out_items[t]
            out_ratings[t], out_ratings[j] = out_ratings[j], out_ratings[t]


def shuffle_ratings(users, items, ratings, seed, out_users, out_items, out_ratings):
    """Write the rating triples (users[n], items[n], ratings[n]) into `out_*` in a
    uniformly random order drawn from `seed`: the same permutation as the NumPy
    spec (two passes: up to 4096 buckets, then Fisher-Yates inside each; see
    numpy_ops.shuffle_ratings). It is faster than ``rng.shuffle`` of an index
    array, and the SGD kernel then reads the triples sequentially instead of
    gathering them through the index (benchmarks/results/kernels.md)."""
    _shuffle_ratings(
        users,
        items,
        ratings,
        np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF),
        out_users,
        out_items,
        out_ratings,
    )


@njit(parallel=True, **_JIT)
def _shuffle_blocks(users, items, ratings, bounds, seed, out_users, out_items, out_r):
    for b in prange(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        _shuffle_ratings(
            users[lo:hi],
            items[lo:hi],
            ratings[lo:hi],
            seed + np.uint64(b),
            out_users[lo:hi],
            out_items[lo:hi],
            out_r[lo:hi],
        )


def shuffle_ratings_blocks(
    users, items, ratings, bounds, seed, out_users, out_items, out_ratings
):
    """Numba twin of ``numpy_ops.shuffle_ratings_blocks`` (blocks in parallel)."""
    _shuffle_blocks(
        users,
        items,
        ratings,
        bounds,
        np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF),
        out_users,
        out_items,
        out_ratings,
    )
