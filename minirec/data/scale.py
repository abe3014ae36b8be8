"""MovieLens-shaped synthetic ratings at full size (ML-1M, ML-20M, ML-25M shapes).

:func:`movielens_shaped` makes an :class:`Interactions` with the catalog sizes and
rating count of a MovieLens release and the shape of ML-1M's distributions:

* **User activity.** ML-1M's ratings-per-user quantile function (embedded below as
  56 knots, linear in log-count between them, denser in the top tail) is read at the
  stratified levels ``(j + 0.5) / n_users``, then mapped affinely so the minimum
  stays ML-1M's 20 ratings (``lo = min(20, mean // 2)`` for small shapes) and the
  total is exactly ``n_ratings``: ``d_u = lo + (q_u - 20) * s``, capped at ML-1M's
  largest share of the catalog (2,314 of 3,706 items) with the excess moved to the
  uncapped users, rounded by largest remainders. Users get the values in a seeded
  random order. With a mean near ML-1M's 166 ratings per user (the presets have
  144-166) this is ML-1M's distribution; far below it the floor compresses the
  spread.
* **Item popularity.** ML-1M's ratings-per-item quantile function (56 knots) read the
  same way gives weights ``w_i`` (in a seeded random item order). Each user draws its
  ``d_u`` distinct items by successive sampling without replacement with
  probability proportional to ``w_i`` (draws with replacement, repeats rejected; a
  user whose draws keep repeating switches to the exponential-race sampler
  ``argsort(-log(U_i) / w_i)``, which has the same distribution). Before that every
  item is given one rating by a user drawn proportionally to ``d_u``, so every item
  of the catalog is rated, as in the MovieLens releases. Heavy users saturate the top
  items, as real ones do, so the realised item counts follow ``w`` except at the very
  top.
* **Ratings** from planted low-rank structure, ordinal:
  ``z_ui = b_u + b_i + p_u . q_i + eps`` with ``p_u, q_i ~ N(0, I_k / sqrt(k))``,
  ``b_u ~ N(0, 0.3^2)``, ``b_i ~ N(0, 0.5^2)``, ``eps ~ N(0, noise^2)``; the rating is
  1..5 by thresholds on ``z`` at the quantiles of ML-1M's rating histogram (56,174 /
  107,557 / 261,197 / 348,971 / 226,310), so the histogram is ML-1M's and the order
  of the ratings is the planted one. Whole stars as in ML-1M (ML-20M and ML-25M also
  have half stars).
* **Timestamps** (int64 seconds, optional): each user rates within a window that
  starts uniformly in ML-25M's time range (1995-01-09 to 2019-11-21) and lasts an
  exponential time of mean one year (clipped to the range); each rating is uniform
  in its user's window.

Rows come sorted by user, then item, as MovieLens files are grouped by user. Raw ids
are ``1..n_users`` and ``1..n_items``. Arrays are built as int32 / float32 (the
timestamps int64): 12 bytes per rating, 20 with timestamps. The per-user sampling is
a Numba kernel over one counter-based random stream per user, so the output depends
only on the arguments, not on the thread count.

The knots were computed from the real ML-1M (``load_movielens("ml-1m")``) as
``np.quantile(counts, LEVELS)`` rounded to 0.1; ``tests/data/test_scale.py``
recomputes them from the file when it is available.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._utils import as_rng, check_positive, check_positive_int, progress
from ..backends.numba_ops import _splitmix64_draw
from ..errors import DataError
from .interactions import Interactions

__all__ = ["movielens_shaped", "SHAPES", "ML1M_RATING_COUNTS"]

#: (n_users, n_items, n_ratings) of the MovieLens releases (items: rated movies)
SHAPES = {
    "ml-1m": (6_040, 3_706, 1_000_209),
    "ml-20m": (138_493, 26_744, 20_000_263),
    "ml-25m": (162_541, 59_047, 25_000_095),
}

#: quantile levels of the knots: every 2% up to 98%, then the top tail
LEVELS = np.concatenate(
    [np.linspace(0.0, 0.98, 50), np.linspace(0.985, 0.995, 3), [0.9975, 0.999, 1.0]]
)
#: ML-1M ratings per user at LEVELS
ML1M_USER_QUANTILES = np.array(
    [20, 21, 22, 24, 25, 27, 29, 31, 33, 36, 38, 40, 43, 46, 48, 51, 54, 58, 62, 65,
     70, 74, 78, 84, 89, 96, 101, 106, 113, 120, 126, 135, 144, 153, 162, 173, 187,
     202, 214, 231.4, 253, 277, 299, 322.5, 357, 400, 448.8, 515.7, 616, 784.2, 840.2,
     906.7, 1045.2, 1238.6, 1343.2, 2314],
    dtype=np.float64,
)  # fmt: skip
#: ML-1M ratings per (rated) item at LEVELS
ML1M_ITEM_QUANTILES = np.array(
    [1, 1, 2, 3, 5, 7, 9, 12, 16, 20, 23, 27, 31, 35, 40, 44, 49, 54, 61, 67, 74, 84,
     93, 101, 112, 123.5, 135, 146, 161, 173.9, 188, 203, 219, 237, 259, 280, 304,
     336.4, 362, 389, 429, 472.1, 518.2, 577, 652.8, 729.5, 825, 971.4, 1133.8, 1446.6,
     1627.4, 1784.9, 2282.7, 2567.5, 2734.2, 3428],
    dtype=np.float64,
)  # fmt: skip
#: ML-1M's rating histogram (ratings 1..5)
ML1M_RATING_COUNTS = np.array([56_174, 107_557, 261_197, 348_971, 226_310])
ML1M_MIN_PER_USER = 20
ML1M_MAX_USER_SHARE = 2314 / 3706  # the heaviest ML-1M user's share of the catalog
T_FIRST, T_LAST = 789_652_009, 1_574_327_703  # ML-25M's first and last timestamps
_YEAR = 365.25 * 86400
_CHUNK = 1 << 20  # ratings per kernel call (one step of the progress bar)
_UNIT = 1.0 / 9007199254740992.0  # 2**-53: a draw's top 53 bits as a float in [0, 1)


def _quantile_values(table: np.ndarray, n: int) -> np.ndarray:
    """The quantile function of `table` (log-linear between knots) at (j + .5) / n."""
    x = (np.arange(n) + 0.5) / n
    return np.exp(np.interp(x, LEVELS, np.log(table)))


def _round_to_total(d: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Integers near `d` (all <= cap) summing to `total`: floors plus one for the
    largest remainders."""
    f = np.floor(d).astype(np.int64)
    short = total - int(f.sum())
    room = np.flatnonzero(f < cap)
    order = room[np.argsort(-(d[room] - f[room]), kind="stable")]
    f[order[:short]] += 1
    return f


def _user_degrees(rng, n_users: int, n_items: int, n_ratings: int) -> np.ndarray:
    """Ratings per user (module docstring), int64 summing to n_ratings."""
    mean = n_ratings / n_users
    lo = max(1, min(ML1M_MIN_PER_USER, int(mean // 2)))
    cap = max(lo + 1, int(np.ceil(ML1M_MAX_USER_SHARE * n_items)))
    if n_ratings > cap * n_users:
        raise ValueError(
            f"n_ratings={n_ratings:,} is more than {n_users:,} users can rate with at "
            f"most {cap:,} of the {n_items:,} items each (ML-1M's largest share); "
            "lower n_ratings or raise n_items"
        )
    base = _quantile_values(ML1M_USER_QUANTILES, n_users) - ML1M_MIN_PER_USER
    d = lo + base * ((n_ratings - n_users * lo) / base.sum())
    for _ in range(100):  # move the excess of capped users onto the others
        over = d > cap
        if not over.any():
            break
        excess = float((d[over] - cap).sum())
        d[over] = cap
        free = d < cap
        d[free] += excess * (d[free] - lo + 1e-9) / (d[free] - lo + 1e-9).sum()
    d = _round_to_total(np.minimum(d, cap), n_ratings, cap)
    return rng.permutation(d)


def _calibrated_weights(deg: np.ndarray, target: np.ndarray, n_users: int):
    """Sampling weights under which users of degrees `deg`, each drawing its items
    without replacement, give item i about target[i] ratings.

    Successive sampling of d items is an exponential race: item i is in when its
    key ``E_i / w_i`` is below the user's d-th smallest key, ``tau_d``, i.e. with
    probability ``1 - exp(-tau_d w_i)`` where ``sum_i (1 - exp(-tau_d w_i)) = d``.
    The fixed point ``w <- w * target / expected`` is solved on 256 log-spaced
    target values (items histogrammed onto them) and the distinct degrees, then
    interpolated to the items. Targets are capped at 90% of the users.
    """
    t = np.clip(target, 1e-3, 0.9 * n_users)
    grid = np.geomspace(t.min(), t.max() * (1 + 1e-9), 256)
    pos = np.clip(np.searchsorted(grid, t), 0, len(grid) - 1)
    m = np.bincount(pos, minlength=len(grid)).astype(np.float64)
    keep = m > 0
    grid, m = grid[keep], m[keep]
    du, nu = np.unique(deg, return_counts=True)
    du = du.astype(np.float64)
    share = grid / (m @ grid)  # each item's share of all ratings, to match
    w = share.copy()
    for _ in range(200):
        # F(tau) = expected items of a user with key threshold tau, on a tau grid
        tau = np.geomspace(0.1 * du[0] / (m @ w), 1e3 * du[-1] / (m @ w), 512)
        F = -np.expm1(-tau[:, None] * w[None, :]) @ m
        tau_d = np.exp(np.interp(du, F, np.log(tau)))
        expected = nu @ -np.expm1(-tau_d[:, None] * w[None, :])
        ratio = share / (expected / (m @ expected))
        if np.max(np.abs(ratio - 1.0)) < 1e-3:
            break
        w *= ratio
        w /= w.sum()
    return np.exp(np.interp(np.log(t), np.log(grid), np.log(w)))


def _seed_ratings(rng, deg: np.ndarray, n_items: int):
    """One (user, item) per item, users drawn proportionally to their degree, no user
    given more than half its degree: (CSR indptr over users, items)."""
    n_users = len(deg)
    limit = deg // 2
    if limit.sum() < n_items:
        raise ValueError(
            f"{int(deg.sum()):,} ratings are too few to rate each of the "
            f"{n_items:,} items once; raise n_ratings or lower n_items"
        )
    owner = rng.choice(n_users, size=n_items, p=deg / deg.sum())
    for _ in range(100):
        order = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=n_users)
        # rank of each item among its owner's: items past the owner's limit move
        starts = np.cumsum(counts) - counts
        rank = np.empty(n_items, np.int64)
        rank[order] = np.arange(n_items) - starts[owner[order]]
        moved = np.flatnonzero(rank >= limit[owner])
        if len(moved) == 0:
            break
        spare = np.maximum(limit - counts, 0).astype(np.float64)
        owner[moved] = rng.choice(n_users, size=len(moved), p=spare / spare.sum())
    else:
        raise DataError("could not give every item a rating; raise n_ratings")
    order = np.lexsort((np.arange(n_items), owner))
    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=n_users), out=indptr[1:])
    return indptr, order.astype(np.int32)


@njit(parallel=True, cache=True, nogil=True)
def _draw_items(indptr, pre_ptr, pre_items, cdf, weights, seed, u0, u1, tries, out):
    """For users u0 <= u < u1, fill out[indptr[u]:indptr[u+1]] with distinct items,
    sorted: first the seed items pre_items[pre_ptr[u]:pre_ptr[u+1]], then successive
    sampling proportional to `weights` (cdf: their normalised cumulative sums): up
    to ``tries * (d + 16)`` draws with rejection of repeats, then (when a user is
    still short) the exponential race over all items for that user."""
    n_items = len(cdf)
    n_blocks = 16
    n = u1 - u0
    for b in prange(n_blocks):
        mark = np.zeros(n_items, np.bool_)
        for u in range(u0 + b * n // n_blocks, u0 + (b + 1) * n // n_blocks):
            lo, hi = indptr[u], indptr[u + 1]
            s = _splitmix64_draw(seed, u)
            got = 0
            for t in range(pre_ptr[u], pre_ptr[u + 1]):
                mark[pre_items[t]] = True
                out[lo + got] = pre_items[t]
                got += 1
            c = 0
            limit = tries * (hi - lo + 16)
            while lo + got < hi and c < limit:
                x = (_splitmix64_draw(s, c) >> np.uint64(11)) * _UNIT
                c += 1
                i = min(np.searchsorted(cdf, x, side="right"), n_items - 1)
                if not mark[i]:
                    mark[i] = True
                    out[lo + got] = i
                    got += 1
            if lo + got < hi:
                # exponential race: the d smallest -log(U_i) / w_i, seed items first
                for t in range(lo, lo + got):
                    mark[out[t]] = False
                keys = np.empty(n_items)
                for i in range(n_items):
                    x = (_splitmix64_draw(s, c + i) >> np.uint64(11)) + 1.0
                    keys[i] = -np.log(x * _UNIT) / weights[i]
                for t in range(pre_ptr[u], pre_ptr[u + 1]):
                    keys[pre_items[t]] = -1.0
                pick = np.argsort(keys)[: hi - lo]
                for t in range(hi - lo):
                    out[lo + t] = pick[t]
            for t in range(lo, hi):
                mark[out[t]] = False
            out[lo:hi].sort()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def _rate(users, items, a, b, P, Q, bu, bi, noise, seed, start, span, z, ts):
    """z[n] = bu[u] + bi[i] + P[u] . Q[i] + noise * N(0, 1) and, when ts is not
    empty, ts[n] uniform in [start[u], start[u] + span[u]), for a <= n < b; the
    normal draw is Box-Muller on draws 3n, 3n + 1 of `seed`, the time uses 3n + 2."""
    k = P.shape[1]
    for n in prange(a, b):
        u, i = users[n], items[n]
        acc = np.float32(0.0)
        for f in range(k):
            acc += P[u, f] * Q[i, f]
        r1 = ((_splitmix64_draw(seed, 3 * n) >> np.uint64(11)) + 1.0) * _UNIT
        r2 = (_splitmix64_draw(seed, 3 * n + 1) >> np.uint64(11)) * _UNIT
        eps = np.sqrt(-2.0 * np.log(r1)) * np.cos(2.0 * np.pi * r2)
        z[n] = acc + bu[u] + bi[i] + noise * eps
        if len(ts):
            r3 = (_splitmix64_draw(seed, 3 * n + 2) >> np.uint64(11)) * _UNIT
            ts[n] = np.int64(start[u] + r3 * span[u])


def _shape(shape) -> tuple[str, int, int, int]:
    if isinstance(shape, str):
        if shape not in SHAPES:
            raise ValueError(
                f"shape={shape!r}: choose one of {', '.join(SHAPES)} or pass "
                "(n_users, n_items, n_ratings)"
            )
        return (shape, *SHAPES[shape])
    try:
        n_users, n_items, n_ratings = shape
    except (TypeError, ValueError):
        raise ValueError(
            f"shape={shape!r}: a name ({', '.join(SHAPES)}) or a tuple "
            "(n_users, n_items, n_ratings)"
        ) from None
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_ratings = check_positive_int("n_ratings", n_ratings)
    if n_items < 2:
        raise ValueError(f"n_items={n_items}: must be >= 2")
    if max(n_users, n_items) > np.iinfo(np.int32).max:
        raise ValueError("n_users and n_items must fit int32 internal indices")
    return (f"{n_users}x{n_items}x{n_ratings}", n_users, n_items, n_ratings)


def movielens_shaped(
    shape="ml-25m",
    seed: int = 0,
    *,
    k: int = 10,
    noise: float = 0.5,
    timestamps: bool = True,
    return_truth: bool = False,
    show_progress: bool | None = None,
):
    """Synthetic ratings with a MovieLens release's shape (module docstring).

    Parameters
    ----------
    shape : str or (int, int, int)
        ``"ml-1m"``, ``"ml-20m"``, ``"ml-25m"`` (:data:`SHAPES`), or
        ``(n_users, n_items, n_ratings)``.
    seed : int
        The output is a function of the arguments (not of the thread count).
    k : int
        Rank of the planted factors.
    noise : float
        Standard deviation of eps, against unit variance of ``p_u . q_i``.
    timestamps : bool
        Add int64 timestamps (8 more bytes per rating).
    return_truth : bool
        Also return a dict with ``P, Q, bu, bi`` (internal order, float32), the
        rating ``thresholds`` on z, the item ``weights`` and the user ``degrees``.
    show_progress : bool, optional
        A progress bar over the rating chunks (default: on a terminal).

    Returns
    -------
    Interactions, or (Interactions, dict) with `return_truth`.
    """
    label, n_users, n_items, n_ratings = _shape(shape)
    k = check_positive_int("k", k)
    noise = check_positive("noise", noise)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed={seed!r}: must be an integer")
    rng = as_rng(int(seed))
    deg = _user_degrees(rng, n_users, n_items, n_ratings)
    counts = rng.permutation(_quantile_values(ML1M_ITEM_QUANTILES, n_items))
    counts *= n_ratings / counts.sum()  # the target ratings per item
    weights = _calibrated_weights(deg, counts - 1.0, n_users)
    pre_ptr, pre_items = _seed_ratings(rng, deg, n_items)
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(deg, out=indptr[1:])
    items = np.empty(n_ratings, np.int32)
    stream = np.uint64(int(rng.integers(0, 2**63)))
    chunks = range(0, n_ratings, _CHUNK)
    bar = progress(chunks, f"{label} items", len(chunks), show_progress, "chunk")
    for a in bar:  # the users whose ratings start in [a, a + _CHUNK)
        u0, u1 = np.searchsorted(indptr[:-1], [a, a + _CHUNK])
        _draw_items(indptr, pre_ptr, pre_items, cdf, weights, stream, u0, u1, 4, items)
    users = np.repeat(np.arange(n_users, dtype=np.int32), deg)

    sd = (1.0 / np.sqrt(k)) ** 0.5
    P = rng.normal(0.0, sd, (n_users, k)).astype(np.float32)
    Q = rng.normal(0.0, sd, (n_items, k)).astype(np.float32)
    bu = rng.normal(0.0, 0.3, n_users).astype(np.float32)
    bi = rng.normal(0.0, 0.5, n_items).astype(np.float32)
    span = np.minimum(rng.exponential(_YEAR, n_users), T_LAST - T_FIRST)
    start = T_FIRST + rng.random(n_users) * (T_LAST - T_FIRST - span)
    z = np.empty(n_ratings, np.float32)  # becomes the ratings in place
    ts = np.empty(n_ratings if timestamps else 0, np.int64)
    stream = np.uint64(int(rng.integers(0, 2**63)))
    for a in progress(chunks, f"{label} ratings", len(chunks), show_progress, "chunk"):
        b = min(a + _CHUNK, n_ratings)
        _rate(users, items, a, b, P, Q, bu, bi, noise, stream, start, span, z, ts)
    shares = np.cumsum(ML1M_RATING_COUNTS)[:-1] / ML1M_RATING_COUNTS.sum()
    step = max(1, n_ratings // 2_000_000)  # a strided sample fixes the thresholds
    thresholds = np.quantile(z[::step], shares).astype(np.float32)
    for a in chunks:
        zc = z[a : a + _CHUNK]
        zc[:] = np.searchsorted(thresholds, zc) + 1
    data = Interactions(
        users,
        items,
        z,
        ts if timestamps else None,
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        item_ids=np.arange(1, n_items + 1, dtype=np.int64),
        name=f"{label}-shaped synthetic (seed {int(seed)})",
        implicit=False,
    )
    if return_truth:
        truth = {
            "P": P,
            "Q": Q,
            "bu": bu,
            "bi": bi,
            "thresholds": thresholds,
            "weights": weights,
            "degrees": deg,
        }
        return data, truth
    return data
