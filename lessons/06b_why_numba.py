# %% [markdown]
# # 06b · Why a Numba loop beats vectorized NumPy here
#
# **Goal.** Lesson 06 wrote MF's SGD epoch as a Python loop over ratings and
# checked it against minirec's readable NumPy spec. Every loop-shaped kernel of
# minirec (MF, BPR, FM, ALS solves, kNN similarities) also has a compiled twin with
# the same signature, written with Numba, and the models run that twin by default.
# This lesson shows the twins agree with the spec, and why compiling is worth it.
# NumPy is fast when one call does a lot of work on whole arrays. SGD for
# matrix factorization is the opposite: a million tiny, *dependent* updates (each
# rating moves p_u and q_i, which the next rating of the same user or item reads).
# We time three ways to run one epoch on the same data, in the same run:
#
# 1. the readable spec, a Python loop over ratings with NumPy row ops
#    (`minirec.backends.numpy_ops.sgd_mf_epoch`);
# 2. "vectorized NumPy": mini-batch SGD, where a batch of B ratings is computed at
#    once and the updates are scattered back with `np.add.at` (a *different*
#    algorithm: updates inside a batch see stale parameters);
# 3. the same loop as (1), compiled by Numba (`numba_ops.sgd_mf_epoch`).
#
# **Covers:** the kernels behind `000-4.1` / `003-als` (lesson 06) and their cost;
# the kernels of lessons 07-09 use the same pattern;
# the measured ratios are printed below, and the ML-1M timings with peers are in
# `benchmarks/results/kernels.md` (`python benchmarks/bench_kernels.py`).

# %%
import os
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.backends import numba_ops, numpy_ops
from minirec.data import random_split

data = _course.load_ratings("ml-100k")
train, test = random_split(data, 0.1, seed=0)
u, i, r = train.users, train.items, train.ratings
mu, k, lr, reg = float(r.mean()), 64, 0.01, 0.05
print(f"{len(u):,} ratings, k = {k}; load average {os.getloadavg()[0]:.2f}")


def init(seed=0):
    g = np.random.default_rng(seed)
    return (
        g.normal(0, 0.05, (train.n_users, k)).astype(np.float32),
        g.normal(0, 0.05, (train.n_items, k)).astype(np.float32),
        np.zeros(train.n_users, np.float32),
        np.zeros(train.n_items, np.float32),
    )


# %% [markdown]
# ## A compiled twin computes what the spec computes
#
# `numba_ops.sgd_mf_epoch` is the loop of `numpy_ops.sgd_mf_epoch` under
# `@numba.njit`: same arguments, same order of updates, so from the same start and
# the same shuffled order both end at the same parameters (up to float32 rounding).
# The same holds for lesson 04's similarity kernel. The first call compiles the
# function (or loads it from Numba's cache); later calls run machine code.

# %%
sub = np.random.default_rng(3).permutation(len(u))[:3000]
spec, jit = init(), init()
numpy_ops.sgd_mf_epoch(u, i, r, sub, *spec, mu, lr, reg, reg, True)
numba_ops.sgd_mf_epoch(u, i, r, sub, *jit, mu, lr, reg, reg, True)
for a, b in zip(spec, jit, strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
moved = max(float(np.abs(a - b).max()) for a, b in zip(spec, init(), strict=True))
assert moved > 1e-3  # the epoch changed the parameters, so the match means something
print("sgd_mf_epoch: NumPy spec == Numba twin on 3,000 ratings")

Xi, Xu = train.by_item, train.by_user
resid = r - mu
args = (Xi.indptr, Xi.indices, resid[Xi.rows], Xu.indptr, Xu.indices, resid[Xu.rows])
s_np = numpy_ops.knn_similarity(*args, True, 100.0, 50)
s_nb = numba_ops.knn_similarity(*args, True, 100.0, 50)
np.testing.assert_array_equal(s_np[0], s_nb[0])  # same neighbour counts per item
np.testing.assert_allclose(s_np[2], s_nb[2], rtol=1e-4, atol=1e-6)
print(f"knn_similarity: NumPy spec == Numba twin ({len(s_np[2]):,} neighbour pairs)")

# %% [markdown]
# ## Mini-batch SGD in vectorized NumPy
#
# For a batch $B$ of ratings: $e = r - (\mu + b_u + b_i + \sum_f P_{uf}Q_{if})$, then
# scatter-add $\eta(e\,q_i - \lambda p_u)$ into the rows $u$ of P (and the same for
# Q, b). `np.add.at` is needed because a user can appear twice in a batch; it is
# also notoriously slow. Every batch allocates several (B, k) temporaries.


# %%
def minibatch_epoch(order, P, Q, bu, bi, B=1024):
    loss = 0.0
    for s in range(0, len(order), B):
        idx = order[s : s + B]
        uu, ii, rr = u[idx], i[idx], r[idx]
        pu, qi = P[uu], Q[ii]
        err = rr - (mu + bu[uu] + bi[ii] + np.einsum("ij,ij->i", pu, qi))
        loss += float(err @ err)
        np.add.at(bu, uu, lr * (err - reg * bu[uu]))
        np.add.at(bi, ii, lr * (err - reg * bi[ii]))
        np.add.at(P, uu, lr * (err[:, None] * qi - reg * pu))
        np.add.at(Q, ii, lr * (err[:, None] * pu - reg * qi))
    return loss


# %% [markdown]
# ## Timing, same data, same run
#
# The Python loop is timed on a slice and scaled to the epoch (it would take tens of
# seconds). Numba is called once first so that the JIT compile (or the load from its
# cache) is not counted; the compile time is reported apart.

# %%
rng = np.random.default_rng(1)
order = rng.permutation(len(u))
t0 = time.perf_counter()
numba_ops.sgd_mf_epoch(u, i, r, order[:10], *init(), mu, lr, reg, reg, True)
jit_s = time.perf_counter() - t0


def best_of(fn, repeat=3):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


n_slice = 5_000
t_py = (
    best_of(
        lambda: numpy_ops.sgd_mf_epoch(
            u, i, r, order[:n_slice], *init(), mu, lr, reg, reg, True
        ),
        1,
    )
    * len(u)
    / n_slice
)
t_mb = best_of(lambda: minibatch_epoch(order, *init()))
t_nb = best_of(
    lambda: numba_ops.sgd_mf_epoch(u, i, r, order, *init(), mu, lr, reg, reg, True)
)
times = {"Python loop (spec)": t_py, "vectorized mini-batch": t_mb, "Numba loop": t_nb}
for name, t in times.items():
    print(f"{name:24s} {t * 1e3:9.1f} ms/epoch  ({t / t_nb:6.1f}x the Numba time)")
print(f"Numba first call (compile or cache load): {jit_s:.2f} s, apart")
assert t_nb < t_mb < t_py

fig, ax = plt.subplots(figsize=(5.5, 2.8))
ax.barh(list(times), [t * 1e3 for t in times.values()], color=["C3", "C1", "C2"])
ax.set_xscale("log")
ax.set_xlabel(f"ms per epoch ({len(u):,} ratings, k={k}; log scale)")
ax.set_ylabel("implementation")
ax.set_title("One SGD epoch of biased MF, same data and order")
_course.savefig(fig, "06b_why_numba.png")

# %% [markdown]
# ## And it is not the same algorithm
#
# Mini-batch updates within a batch do not see each other, so the two runs end at
# different parameters even from the same start and the same orders. Whether that
# costs accuracy depends on B and the learning rate (exercise 1); here we only
# check that the parameters differ and compare the held-out RMSE.


# %%
def test_rmse(P, Q, bu, bi):
    tu, ti = test.users, test.items
    pred = np.clip(mu + bu[tu] + bi[ti] + np.einsum("ij,ij->i", P[tu], Q[ti]), 1, 5)
    return float(np.sqrt(np.mean((test.ratings - pred) ** 2)))


n_ep = 10 if _course.FULL else 5
A, Bm = init(), init()
for _ in range(n_ep):
    o = rng.permutation(len(u))
    numba_ops.sgd_mf_epoch(u, i, r, o, *A, mu, lr, reg, reg, True)
    minibatch_epoch(o, *Bm)
ra, rb = test_rmse(*A), test_rmse(*Bm)
print(f"after {n_ep} epochs: per-rating SGD {ra:.4f}, mini-batch (B=1024) {rb:.4f}")
assert not np.allclose(A[0], Bm[0], rtol=1e-6, atol=1e-7)  # another algorithm

# %% [markdown]
# ## Why the loop wins
#
# * **Work per call.** Each rating is ~4k flops. A NumPy call costs about a
#   microsecond of dispatch regardless of size, so a Python loop is bound by
#   interpreter overhead, not arithmetic.
# * **Temporaries and memory traffic.** The vectorized batch builds several (B, k)
#   arrays per step (gathers, products, scatter inputs) and `np.add.at` is an
#   unbuffered slow path. The compiled loop keeps p_u, q_i in registers/L1 and
#   writes each row once.
# * **Dependencies.** SGD is sequential by nature; vectorising it changes the
#   algorithm (stale updates within a batch). The Numba loop is exactly the spec.
# * **What else matters** (see `numba_fast._sgd_mf_range`, the tuned kernel `MF`
#   trains with; `numba_ops` keeps the plain loop): reading the ratings through a shuffled index is a random access per rating; gathering a
#   block into contiguous buffers first makes the loop several times faster on ML-1M.
#   `MF` goes one step further: each epoch `shuffle_ratings` copies the rating
#   triples in a new uniform order (4096 buckets, then Fisher-Yates inside each
#   bucket, which stays in L1), and the kernel reads them front to back.
# * **Threads.** Hogwild (`MF(hogwild=True)`) lets two threads race on shared rows;
#   on a 2-core machine it is no faster than one thread, because the cache lines
#   of popular items and of the bias vectors bounce between the cores. DSGD
#   (`MF(dsgd=True)`, Gemulla et al. 2011) cuts users and items into contiguous
#   blocks so that the threads of a sub-epoch never share a row: about 2x the serial
#   kernel here, and reproducible bit for bit (benchmarks/results/kernels.md).
#   Hogwild scales too once it runs over that grid (`MF(hogwild=True, blocks=8)`):
#   each thread takes its own user blocks, stratum after stratum, without waiting
#   for the other, and shares rows of Q only when it runs a stratum ahead. Ten
#   runs: 8.8-12.0x Surprise's epoch at k = 64, against 3.3-4.6x for Hogwild over
#   one uniform order. The race is not what costs; the moving cache lines are.
# * **Cache blocking.** The same DSGD order helps one thread too. At k = 64, P and Q
#   take 2.5 MB, more than this CPU's 2 MB of L2 per core, and a uniform order
#   touches all of it all the time. With `MF(dsgd=True, blocks=8)` a block touches
#   an eighth of the users and an eighth of the items, about 0.3 MB, which stays in
#   L2 (LIBMF, Zhuang et al. 2013, blocks its epochs for the same reason). On one
#   thread that is 1.3-1.6x faster per epoch, to the same RMSE on ML-1M
#   (kernels.md, the "blocked serial" rows).
# * **Vector width and a known trip count.** LLVM vectorises the two loops over k,
#   but its tuning for this AVX-512 CPU prefers 256-bit registers, and with k read
#   from the array each vectorised loop sits behind runtime checks (do the rows
#   overlap? how many iterations are left over?) about as long as the loop itself
#   at k = 64. The tuned kernel (`minirec/backends/numba_fast.py`) calls
#   `_codegen.wide_vectors()` (512-bit registers, for that kernel only) and is
#   compiled once more for k = 32, 64 and 128 with k a constant. The wide vectors alone took the loop to 0.81-0.88x of its time,
#   the constant k alone to 0.91-1.01x, both together to 0.71-0.74x, to the same
#   RMSE (`minirec/backends/_codegen.py`).
#
# **Summary.** For loop-shaped, dependent, tiny-per-step work, compile the loop.
# For big independent operations (scoring all items: `P[u] @ Q.T`), NumPy's BLAS is
# already the right tool.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the solutions are in `lessons/solutions/`). Open questions: vary B
# in `minibatch_epoch` (where is it fastest, and what happens to the RMSE?); time
# `numba_ops.sgd_mf_epoch_hogwild` with `numba.set_num_threads(1)` and 2, then
# `MF(dsgd=True)`: why does one scale and the other not? Under
# `numba.set_num_threads(1)`, time `MF(dsgd=True, blocks=B, n_epochs=5)` on ML-1M
# for B = 1, 2, 4, 8, 16, 32 at k = 64 and k = 128: from which B do the rows of a
# block fit in L2 (2 MB per core here), and why does the gain stop growing after
# that?

# %% [markdown] tags=["exercise"]
# ### Exercise 06b.1: a scatter-add without `np.add.at`
#
# Return the (n x k) array whose row `r` is the sum of `values[t]` over all `t`
# with `rows[t] == r` (0 for rows never listed): what `np.add.at(out, rows,
# values)` computes in `minibatch_epoch`, written with `np.bincount` instead. Then
# time both on a batch of 1024 ratings.


# %% tags=["exercise"]
def exercise_06b_1(rows, values, n):
    # your code here
    out = np.zeros((n, values.shape[1]))
    out[rows] += values
    return out


attempt("06b_1", exercise_06b_1)
