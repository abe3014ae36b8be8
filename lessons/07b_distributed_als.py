# %% [markdown]
# # 07b · Distributed ALS: blocks, shuffles, strata and a cost model
#
# **Goal.** Lesson 07 solved ALS on one machine. Here we see how the same
# iteration spreads over many: users and items are cut into blocks, each user
# block needs only the item factors its users rated, and those factors are what
# travels over the network in each half-iteration (the *shuffle*). We count that
# shuffle on a small matrix and check the count, solve one block from the factors
# shipped to it alone, meet DSGD's strata (the SGD counterpart, which minirec runs
# on threads), build a cost model of an iteration, O(|R| k² + (m + n) k³) flops
# plus the bytes shuffled, check it against minirec's measured time per iteration
# on two sizes, and extrapolate it on paper to a billion ratings on N workers. When
# pyspark and Java are present, Spark MLlib's ALS runs the same model in local mode.
#
# **Covers:** issue 20 part 3 (Spark MLlib ALS as the distributed engine). Library:
# `minirec/models/als.py` (`ALS(weighted=True)`, `ImplicitALS(weighted=True)`),
# `minirec/models/mf.py` (`MF(dsgd=True)`), `minirec/spark.py` (`SparkALS`),
# the kernels `als_solve` and `strata_layout`. Papers: Zhou et al. 2008 (ALS-WR,
# the blocked ALS of the Netflix Prize), Gemulla et al. 2011 (DSGD), Spark MLlib's
# `ALS` (its "in-blocks" and "out-blocks").

# %%
import os
import shutil
import time

import _course
import matplotlib.pyplot as plt
import numba
import numpy as np
from _exercises import attempt

from minirec.backends import get_kernels
from minirec.data import random_split
from minirec.data.scale import movielens_shaped
from minirec.evaluation import evaluate_ratings
from minirec.models.als import ALS
from minirec.models.mf import MF

K = get_kernels("numba")
data = _course.load_ratings("ml-100k")
train, test = random_split(data, 0.1, seed=0)
m, n, nnz = train.n_users, train.n_items, len(train)
print(f"{m:,} users x {n:,} items, {nnz:,} training ratings")

# %% [markdown]
# ## Blocked ALS: who needs what
#
# Cut the users into $B$ blocks (Spark: `numUserBlocks`, a user goes to block
# $u \bmod B$) and the items likewise. The user half-iteration solves, for each
# user $u$ of block $b$,
# $$p_u = (Q_{I_u}^\top Q_{I_u} + \lambda |I_u| I)^{-1} Q_{I_u}^\top r_u,$$
# which reads the factors $q_i$ of the items $u$ rated and nothing else. So the
# worker holding block $b$ needs the factors of
# $\mathcal{I}_b = \bigcup_{u \in b} I_u$, and each item block sends, once per
# half-iteration, the factor of item $i$ to every user block with a user who rated
# $i$ (Spark precomputes these lists: the item block's *out-block*). The number of
# item factors shipped is the number of distinct (item, user block) pairs,
# $$S_{\text{user half}} = \sum_b |\mathcal{I}_b| \;\le\; \min(|R|,\; nB),$$
# each $4k$ bytes of float32 plus an id; the item half ships user factors the same
# way. Count it two ways: from distinct pair keys, and block by block with sets.

# %%
B = 4
R = train.by_user
user_block = np.arange(m) % B  # Spark's partitioner: id mod the number of blocks
item_block = np.arange(n) % B


def shipped(rows, cols, row_block, n_blocks):
    """Distinct (col, block of row) pairs: the col factors sent to the row blocks."""
    key = cols.astype(np.int64) * n_blocks + row_block[rows]
    return len(np.unique(key))


S_user = shipped(train.users, train.items, user_block, B)
S_item = shipped(train.items, train.users, item_block, B)
by_sets = sum(
    len({int(i) for u in np.flatnonzero(user_block == b) for i in R.row(u)})
    for b in range(B)
)
assert S_user == by_sets
assert len(np.unique(train.items)) <= S_user <= min(nnz, n * B)
print(
    f"B={B}: the user half ships {S_user:,} item factors (of {nnz:,} ratings, "
    f"{n * B:,} if every block needed every item); the item half {S_item:,} user "
    f"factors"
)

# %% [markdown]
# **One block from its shipped factors.** Give the worker of block 0 only the rows
# of $Q$ in $\mathcal{I}_0$, renumbered locally, and it computes exactly the $p_u$
# the single-machine kernel computes for those users.

# %%
k, lam = 8, 0.1
rng = np.random.default_rng(0)
Q = rng.normal(0, 0.1, (n, k)).astype(np.float32)
P_all = np.empty((m, k), np.float32)
K.als_solve(R.indptr, R.indices, R.data, Q, P_all, lam, True)

mine = np.flatnonzero(user_block == 0)
lengths = np.diff(R.indptr)[mine]
cols = np.concatenate([R.row(u) for u in mine])
vals = np.concatenate([R.row_data(u) for u in mine]).astype(np.float32)
needed, local = np.unique(cols, return_inverse=True)  # I_0, and local ids
indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
P_block = np.empty((len(mine), k), np.float32)
K.als_solve(indptr, local.astype(np.int32), vals, Q[needed], P_block, lam, True)
np.testing.assert_allclose(P_block, P_all[mine], rtol=1e-5, atol=1e-6)
print(
    f"block 0: {len(mine):,} users solved from {len(needed):,} of {n:,} item "
    "factors, equal to the whole-matrix solve"
)

# %% [markdown]
# More blocks mean smaller pieces per worker but more copies of popular items:
# $S$ grows with $B$ until every block needs every item it can ($nB$) or every
# rating is its own pair ($|R|$).

# %%
blocks = [1, 2, 4, 8, 16, 32, 64]
S_of_B = [shipped(train.users, train.items, np.arange(m) % b, b) for b in blocks]
assert all(a <= b for a, b in zip(S_of_B, S_of_B[1:]))  # more blocks, more copies
assert S_of_B[0] == len(np.unique(train.items)) and S_of_B[-1] <= nnz
print(dict(zip(blocks, S_of_B)))

# %% [markdown]
# ## DSGD: the SGD counterpart (Gemulla et al. 2011)
#
# SGD updates $p_u$ and $q_i$ together, so two workers may run at once only on
# ratings that share no user and no item. DSGD cuts users and items into $T$ ranges
# each, a $T\times T$ grid of blocks, and runs an epoch as $T$ *strata*: in
# stratum $s$, worker $t$ takes block (user range $t$, item range $(t+s) \bmod T$).
# Within a stratum no two blocks share a row, so the $T$ workers never touch the
# same factor; between strata they swap item ranges (on a cluster: the shuffle).
# minirec's `strata_layout` kernel sorts the ratings by stratum; check the
# no-shared-row property, then fit `MF(dsgd=True)` (threads as the workers).

# %%
T = 4
perm, bounds = K.strata_layout(train.users, train.items, m, n, T)
for s in range(T):
    users_of, items_of = [], []
    for t in range(T):
        lo, hi = bounds[s * T + t], bounds[s * T + t + 1]
        users_of.append(set(train.users[perm[lo:hi]].tolist()))
        items_of.append(set(train.items[perm[lo:hi]].tolist()))
    for a in range(T):
        for b in range(a + 1, T):
            assert not users_of[a] & users_of[b] and not items_of[a] & items_of[b]
print(f"T={T}: in every stratum the {T} blocks share no user and no item")

n_epochs = 20 if _course.FULL else 10
kw = {"k": 32, "n_epochs": n_epochs, "lr": 0.01, "reg": 0.05, "lr_decay": 1.0}
rmse = {
    "serial SGD": evaluate_ratings(MF(**kw).fit(train), test).metrics["RMSE"],
    "DSGD (T=4)": evaluate_ratings(
        MF(**kw, dsgd=True, blocks=T).fit(train), test
    ).metrics["RMSE"],
}
print({name: round(v, 4) for name, v in rmse.items()})
assert abs(rmse["serial SGD"] - rmse["DSGD (T=4)"]) < 0.02

# %% [markdown]
# ## A cost model of one ALS iteration
#
# Per row with $d$ entries, a half-step forms the Gram matrix
# ($d\,k(k+1)/2$ multiply-adds, symmetric), the right-hand side ($d\,k$), a
# Cholesky factorisation ($k^3/3$ flops) and two triangular solves ($2k^2$). Every
# rating enters one user row and one item row, so an iteration costs
# $$F = 2|R|\,(k^2 + 3k) + (m + n)\,(k^3/3 + 2k^2) \text{ flops}$$
# — the $O(|R|k^2 + (m+n)k^3)$ of lesson 07 with its constants. Measure minirec's
# time per iteration (numba, all threads) on two sizes of MovieLens-shaped data,
# take the flop rate from the smaller, and predict the larger.

# %%


def flops(nnz, m, n, k):
    return 2.0 * nnz * (k * k + 3 * k) + (m + n) * (k**3 / 3 + 2 * k * k)


def seconds_per_iteration(d, k, n_epochs=3):
    ALS(k=k, n_epochs=1, weighted=True, biased=False).fit(d)  # compile, warm up
    t = time.perf_counter()
    ALS(k=k, n_epochs=n_epochs, weighted=True, biased=False).fit(d)
    return (time.perf_counter() - t) / n_epochs


k_cost = 32
sizes = [(1_510, 926, 250_000), (6_040, 3_706, 1_000_209)]  # a quarter, ML-1M
if _course.FULL:
    sizes = [(6_040, 3_706, 1_000_209), (30_200, 18_530, 5_000_000)]
measured = []
for shape in sizes:
    d = movielens_shaped(shape, seed=0, timestamps=False, show_progress=False)
    measured.append((d.n_users, d.n_items, len(d), seconds_per_iteration(d, k_cost)))
    print(f"{shape}: {measured[-1][3]:.3f} s per iteration at k={k_cost}")
rate = flops(*measured[0][:3], k_cost) / measured[0][3]
predicted = flops(*measured[1][:3], k_cost) / rate
ratio = predicted / measured[1][3]
print(
    f"rate from the smaller: {rate / 1e9:.2f} GFLOP/s; the larger predicted "
    f"{predicted:.3f} s, measured {measured[1][3]:.3f} s (ratio {ratio:.2f})"
)
# a shared machine is noisy; the model must still be right to a factor of 2
assert 0.5 < ratio < 2.0, ratio

# %% [markdown]
# ## On paper: a billion ratings, k = 128, N workers
#
# Take $|R| = 10^9$ ratings from $m = 6\cdot10^6$ users and $n = 2\cdot10^5$ items
# with ML-1M's user-activity and item-popularity shapes (degrees scaled up), and
# $B = N$ blocks (one per worker). Each worker computes $F/N$ at the rate just
# measured per core times 8 cores, and ships its share of the shuffle over a
# 10 Gbit/s link (1.25 GB/s). With hash blocking an item rated $d$ times lands in
# $N(1 - (1 - 1/N)^d)$ user blocks on average, so the user half ships
# $\sum_i N(1-(1-1/N)^{d_i})$ item factors of $4k + 4$ bytes, and the item half the
# same sum over users. Both sums grow with N, towards one factor per rating.

# %%
ml1m = movielens_shaped("ml-1m", seed=0, timestamps=False, show_progress=False)


def scaled_degrees(counts, n_rows, total):
    """`n_rows` degrees with the distribution of `counts`, summing to `total`."""
    q = np.quantile(counts, (np.arange(n_rows) + 0.5) / n_rows)
    return q * (total / q.sum())


big_nnz, big_m, big_n, big_k = 1e9, 6_000_000, 200_000, 128
deg_u = scaled_degrees(np.bincount(ml1m.users), big_m, big_nnz)
deg_i = scaled_degrees(np.bincount(ml1m.items), big_n, big_nnz)
per_worker = 8 * rate / numba.get_num_threads()  # the measured rate was on all threads
workers = np.array([1, 4, 16, 64, 256, 1024])
compute_s, shuffle_s = [], []
for N in workers:
    compute_s.append(flops(big_nnz, big_m, big_n, big_k) / (N * per_worker))
    pairs = N * (1 - (1 - 1 / N) ** deg_i).sum() + N * (1 - (1 - 1 / N) ** deg_u).sum()
    shipped_bytes = 0 if N == 1 else pairs * (4 * big_k + 4)
    shuffle_s.append(shipped_bytes / (N * 1.25e9))
    print(
        f"N={N:5d}: compute {compute_s[-1]:9.1f} s, shuffle "
        f"{shipped_bytes / 1e9:8.1f} GB = {shuffle_s[-1]:7.2f} s per iteration"
    )
total_s = np.add(compute_s, shuffle_s)
share = np.divide(shuffle_s, total_s)
print("share of the iteration spent shuffling:", np.round(share, 3))
# compute falls as 1/N; the bytes shipped grow with N towards every rating being
# its own (row, block) pair, 2 |R| factors, so the shuffle's share keeps growing
assert np.all(np.diff(share) > 0)
assert shipped_bytes <= 2 * big_nnz * (4 * big_k + 4)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
nnzs = [x[2] for x in measured]
ax0.loglog(nnzs, [x[3] for x in measured], "o", label="minirec, measured")
ax0.loglog(
    nnzs, [flops(*x[:3], k_cost) / rate for x in measured], "--", label="cost model"
)
ax0.set_xlabel("ratings |R|")
ax0.set_ylabel(f"seconds per ALS iteration (k={k_cost})")
ax0.set_title("One machine: model vs measurement")
ax0.legend()
ax1.loglog(workers, compute_s, "o-", label="compute F / (N rate)")
ax1.loglog(workers[1:], shuffle_s[1:], "s-", label="shuffle / (N x 1.25 GB/s)")
ax1.loglog(workers, total_s, "k:", label="total")
ax1.set_xlabel("workers N (8 cores each)")
ax1.set_ylabel("seconds per iteration")
ax1.set_title("On paper: 10⁹ ratings, k = 128")
ax1.legend()
_course.savefig(fig, "07b_cost_model.png")

# %% [markdown]
# ## Spark MLlib's ALS in local mode
#
# Spark's `ALS` is this blocked ALS with ALS-WR's $\lambda |I_u|$, in the explicit
# and the implicit model alike. `minirec.spark.SparkALS` trains it and pulls the
# factors back into a minirec model; here on `local[2]` (two local cores as the
# cluster), next to `ALS(weighted=True, biased=False)`, the same objective. The
# full comparison on ML-1M and the NCF files is in `benchmarks/results/spark.md`.

# %%
have_spark = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
try:
    import pyspark  # noqa: F401
except ImportError:
    have_spark = False
if not have_spark:
    print(
        "Spark section skipped: needs pyspark (pip install 'minirec[spark]') and Java 17+"
    )
else:
    from minirec.spark import SparkALS, get_spark

    # the JVM's console (Spark's log lines, its Python workers' messages) goes to a
    # file, so this page shows only what the lesson prints
    get_spark(console_log=str(_course.out_dir() / "spark_console.log"))
    kw = {"k": 8, "reg": 0.05, "n_epochs": 10}
    t = time.perf_counter()
    spark_model = SparkALS(**kw, n_blocks=B).fit(train)
    spark_s = time.perf_counter() - t
    ours = ALS(**kw, weighted=True, biased=False).fit(train)
    r_spark = evaluate_ratings(spark_model, test).metrics["RMSE"]
    r_ours = evaluate_ratings(ours, test).metrics["RMSE"]
    print(
        f"test RMSE: Spark {r_spark:.4f} ({spark_s:.1f} s with the JVM's start), "
        f"minirec {r_ours:.4f}"
    )
    assert abs(r_spark - r_ours) < 0.02

# %% [markdown]
# ## Summary
#
# * Blocked ALS: a user block needs the factors of the items its users rated, no
#   more; the shuffle of a half-iteration is the number of distinct (item, user
#   block) pairs times $4k$ bytes, between $n$ and $\min(|R|, nB)$ factors.
# * DSGD runs SGD on a $T\times T$ grid in $T$ strata of blocks that share no
#   row; minirec runs them on threads (`MF(dsgd=True, blocks=T)`).
# * One iteration costs $2|R|(k^2+3k) + (m+n)(k^3/3+2k^2)$ flops; one measured
#   rate predicts another size's time. On N workers compute falls as $1/N$, while
#   the bytes shipped grow with N (popular items copied to every block, then every
#   rating its own pair, up to $2|R|$ factors): the shuffle's share of an
#   iteration grows with N. Add Spark's fixed cost per stage (about a second per
#   iteration on ML-1M in `benchmarks/results/spark.md`, where minirec takes
#   0.08 s) and one machine with a compiled kernel goes a long way before a
#   cluster pays off.

# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open question: with range blocking (user
# $u$ in block $\lfloor uB/m \rfloor$) instead of hashing, and users sorted by
# signup date, does the shuffle grow or shrink, and why?

# %% [markdown] tags=["exercise"]
# ### Exercise 07b.1: the shuffle of the user half-iteration
#
# Return the number of item factors sent to user blocks in one user half-iteration:
# for ratings `(users[j], items[j])` and user `u` in block `u % n_blocks`, the number
# of distinct (item, user block) pairs.


# %% tags=["exercise"]
def exercise_07b_1(users, items, n_blocks):
    # your code here
    return len(items)


attempt("07b_1", exercise_07b_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 07b.2: DSGD strata
#
# Users are in `T` blocks `ub` (one per rating) and items in `T` blocks `ib`.
# Return a stratum in `0..T-1` for every rating such that inside each stratum no
# two ratings of different user blocks share an item block, and every user block
# works on one item block only.


# %% tags=["exercise"]
def exercise_07b_2(ub, ib, T):
    # your code here
    return np.zeros(len(ub), dtype=np.int64)


attempt("07b_2", exercise_07b_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 07b.3: solve a block from its shipped factors
#
# A worker holds the users of one block as a CSR over *global* item ids (`indptr`,
# `indices`, `ratings`) and receives `shipped`: a dict item id -> factor (k,) for
# exactly the items its users rated. Return the ALS-WR user factors (one row per
# user of the block): $p_u = (Q_{I_u}^\top Q_{I_u} + \lambda|I_u| I)^{-1}
# Q_{I_u}^\top r_u$.


# %% tags=["exercise"]
def exercise_07b_3(indptr, indices, ratings, shipped, lam):
    # your code here
    k = len(next(iter(shipped.values())))
    return np.zeros((len(indptr) - 1, k))


attempt("07b_3", exercise_07b_3)
