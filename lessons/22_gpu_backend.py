# %% [markdown]
# # 22 · The GPU backend: what moves to the device, and the Hogwild race
#
# **Goal.** Doc 001 §7 lists "计算效率问题" (computational efficiency) among the open
# problems of deep-learning recommenders (`001-2.3`). minirec's answer is a GPU
# backend built so that it can be read and tested on a laptop: CUDA twins of the SGD,
# BPR, FM, ALS, KNN and top-k kernels written with `numba.cuda` (they run under Numba's
# CUDA simulator on a CPU), and the autograd running on CuPy arrays. This lesson shows
# what lives where, explains the race that makes GPU SGD fast and not reproducible bit
# for bit, demonstrates it on the CPU, and prints the measured GPU table when one
# exists.
#
# **Covers:** `003-als` (the SGD update of doc 003, which erratum **E5** shows is SGD,
# not ALS), `000-4.1` (the MF loss; its gradient sign is erratum **E1**), `001-2.3`
# (efficiency). Library: `minirec/backends/cuda_ops/`, `minirec/backends/device.py`,
# `Tensor(..., device="cuda")`, `Module.to("cupy")`, `GMF(device="cuda")`,
# `benchmarks/bench_gpu.py`.
#
# Doc 003, "ALS" slide, steps 4–5 (`003_4bb2a43235ff549f.txt`):
#
# > 4. 随机采样用户 u 与物品 i , 计算对应的 $P_u \cdot Q_i^T$ 与真实的评分 r_{ui} 计算损失函数。
# > 5. 设学习率为 l , 对 P_u 与 Q_i 在梯度负方向进行迭代更新, 也就是:
# >  - $P_u += l * (r_{ui} - r'_{ui}) * Q_i$
# >  - $Q_i += l * (r_{ui} - r'_{ui}) * P_u$
#
# > *English:* 4. sample a user u and an item i at random, compute $P_u \cdot Q_i^T$
# > and, with the true rating r_{ui}, the loss. 5. with learning rate l, update P_u
# > and Q_i iteratively along the negative gradient, that is:
# > $P_u += l (r_{ui} - r'_{ui}) Q_i$, $Q_i += l (r_{ui} - r'_{ui}) P_u$
#
# Step 4 samples **one** rating at a time: the update is inherently sequential, each
# step reads the rows the previous step wrote. (E5: this is stochastic gradient
# descent, not alternating least squares; E1: the loss gradient has a minus sign on
# the error, which is why the update *adds* $l\,e\,Q_i$.) A GPU has ~10⁵ threads;
# the question of this lesson is what happens when they all run step 5 at once.

# %%
import os
import shutil
import time
from pathlib import Path

# no GPU here: run the CUDA kernels under Numba's simulator (set before numba loads)
if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.autograd import Tensor
from minirec.backends import available_backends, get_kernels
from minirec.backends import numba_ops as B
from minirec.backends import numpy_ops as N
from minirec.errors import BackendUnavailableError

data = _course.load_ratings("ml-100k")
print("kernel backends available here:", available_backends())

# %% [markdown]
# ## What moves to the device
#
# | lives on the GPU (moved once, explicitly) | crosses the bus every epoch |
# |---|---|
# | parameters `P, Q, bu, bi` (MF/BPR), `w0, w, V` (FM), `X, Y` (ALS) | the loss: one float64 (a sync) |
# | the training triples `users, items, ratings` and the shuffled `order` | the new `order` (or draw it on the device) |
# | autograd: every Parameter, its `.grad`, the optimizer's moments | the loss `.item()` you print |
#
# The kernels accept three kinds of arrays: CuPy arrays (zero copy, through
# `__cuda_array_interface__`), Numba device arrays, or NumPy arrays — the last ones
# are copied to the device before the kernel and the updated ones copied back after
# it, so the in-place contract of the NumPy spec holds. Those copies are explicit
# in `cuda_ops/_launch.py` (`Launch`, the one path every kernel wrapper takes), never hidden; they are the difference between the
# "device arrays" and "host arrays" columns of the benchmark. Asking for the GPU
# where there is none is an error that names the install command, never a silent
# fallback to the CPU:

# %%
try:
    Tensor(np.ones(3)).to("cupy")
    print("CuPy and a GPU are present: tensors can move to the device")
except BackendUnavailableError as e:
    print("BackendUnavailableError:", str(e)[:150], "...")

# %% [markdown]
# The autograd recommenders take the same choice as a constructor parameter,
# `device="cpu" | "cuda"` (GMF, NCF-MLP, NeuMF, DeepFM, ConvNCF, AutoRec, GRU4Rec,
# SASRec and the rating nets): the network, its optimizer moments, the epoch's
# shuffles and negatives live on the device, and `predict` / `recommend` hand back
# NumPy arrays. Building such a model works anywhere (it is a plain parameter, so
# `sklearn.base.clone` keeps it); `fit` asks for the GPU. CI proves the device path
# without a GPU on a CuPy stand-in (`tests/standin/`) whose arrays refuse implicit
# host copies, as CuPy's do.

# %%
from minirec.models import GMF

gmf = GMF(k=8, n_epochs=1, device="cuda")
print(gmf)
try:
    gmf.fit(data)
    ids, _ = gmf.recommend(data.user_ids[:2], n=5)
    print("trained on the GPU; recommend returns", type(ids).__name__)
except BackendUnavailableError as e:
    print("BackendUnavailableError:", str(e)[:150], "...")

# %% [markdown]
# ## The Hogwild race, in NumPy
#
# Hogwild! (Niu, Recht, Ré, Wright 2011) runs step 5 on many threads with no locks.
# One GPU thread takes one rating: it **reads** $p_u, q_i$, computes the error and
# **writes** the new rows. Two threads holding the same user at the same time both
# read the old $p_u$; the second write overwrites the first, and one update is
# lost. The model of a GPU wave used below is the worst case of that race: $T$
# ratings are processed "at once" — all reads first, then all writes, the last
# writer wins. $T = 1$ is the serial algorithm; the code is the kernel's update,
# vectorised over the wave.


# %%
def hogwild_epoch(users, items, ratings, order, P, Q, bu, bi, mu, lr, reg, rb, T):
    """One MF epoch in waves of T concurrent updates (read all, then write all)."""
    loss = 0.0
    for s in range(0, len(order), T):
        n = order[s : s + T]
        u, i, r = users[n], items[n], ratings[n]
        p, q = P[u], Q[i]  # every thread reads the rows before anyone writes
        err = r - (mu + bu[u] + bi[i] + np.einsum("nk,nk->n", p, q))
        loss += float((err.astype(np.float64) ** 2).sum())
        bu[u] = bu[u] + lr * (err - rb * bu[u])  # duplicates: the last write wins
        bi[i] = bi[i] + lr * (err - rb * bi[i])
        P[u] = p + lr * (err[:, None] * q - reg * p)
        Q[i] = q + lr * (err[:, None] * p - reg * q)
    return loss


users, items = data.users.astype(np.int32), data.items.astype(np.int32)
ratings = data.ratings.astype(np.float32)
mu = float(ratings.mean())
K, LR, REG, RB = 32, 0.01, 0.02, 0.02


def init():
    g = np.random.default_rng(0)
    P = g.normal(0, 0.1, (data.n_users, K)).astype(np.float32)
    Q = g.normal(0, 0.1, (data.n_items, K)).astype(np.float32)
    return [
        P,
        Q,
        np.zeros(data.n_users, np.float32),
        np.zeros(data.n_items, np.float32),
    ]


# numeric check: one thread (T = 1) is exactly minirec's serial spec
order = np.random.default_rng(1).permutation(len(ratings))[:2000]
a, b = init(), init()
la = hogwild_epoch(users, items, ratings, order, *a, mu, LR, REG, RB, T=1)
lb = N.sgd_mf_epoch(users, items, ratings, order, *b, mu, LR, REG, RB, True)
np.testing.assert_allclose(la, lb, rtol=1e-5)
for x, y in zip(a, b, strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
print("T = 1 wave simulator == numpy_ops.sgd_mf_epoch (2,000 ratings): ok")

# %% [markdown]
# How often do two threads of a wave share a row? For a wave of $T$ uniformly
# shuffled ratings, the expected number of collisions on items is large for popular
# items long before $T$ reaches the catalogue size. Count them, then train with
# waves of increasing width and compare with the serial run (Numba's serial kernel,
# the same update order).

# %%
EPOCHS = 20 if _course.FULL else 8
widths = (1, 256, 4096, 32768) if _course.FULL else (1, 256, 4096, 16384)
rng = np.random.default_rng(0)
order = rng.permutation(len(ratings))
for T in widths[1:]:
    waves = [order[s : s + T] for s in range(0, len(order), T)]
    lost_u = np.mean([1 - len(np.unique(users[w])) / len(w) for w in waves])
    lost_i = np.mean([1 - len(np.unique(items[w])) / len(w) for w in waves])
    print(
        f"T = {T:>6,}: share of updates that collide with another in the wave: "
        f"users {lost_u:6.1%}, items {lost_i:6.1%}"
    )

curves = {}
t0 = time.perf_counter()
for T in widths:
    st = init()
    rng = np.random.default_rng(0)
    curves[T] = []
    for _ in range(EPOCHS):
        o = rng.permutation(len(ratings))
        if T == 1:
            loss = B.sgd_mf_epoch(users, items, ratings, o, *st, mu, LR, REG, RB, True)
        else:
            loss = hogwild_epoch(users, items, ratings, o, *st, mu, LR, REG, RB, T)
        curves[T].append(np.sqrt(loss / len(ratings)))
    print(f"T = {T:>6,}: train RMSE per epoch {np.round(curves[T], 4)}")
print(f"({time.perf_counter() - t0:.1f} s)")
final = [curves[T][-1] for T in widths]
# a few hundred threads: much closer to serial than the widest wave
assert final[1] - final[0] < 0.5 * (final[-1] - final[0])
assert all(x < y for x, y in zip(final, final[1:], strict=False))  # wider = worse

fig, ax = plt.subplots(figsize=(6, 3.5))
for T, c in curves.items():
    ax.plot(range(1, EPOCHS + 1), c, marker="o", label=f"T = {T:,}")
ax.set_xlabel("epoch")
ax.set_ylabel("train RMSE (during the epoch)")
ax.set_title("Hogwild waves of T concurrent SGD updates (MF)")
ax.legend()
_course.savefig(fig, "22_hogwild_waves.png")

# %% [markdown]
# Reading the curves (quick mode: ML-100k, or the synthetic set without data): with
# a few hundred concurrent updates the race costs little — a lost update is one
# small step among many (the argument of Niu et al., who assume sparse, rarely
# colliding updates). These catalogues are small, so even T = 256 collides often
# (the shares printed above) and its curve lags the serial one by 0.02–0.03 RMSE
# after 8 epochs; for the same T the collision share falls as the catalogue grows
# (exercise 22.1 counts it; the open questions measure it on ML-1M). With very wide waves the popular rows are hit by many
# threads at once and most of their updates are lost, so each epoch does less work.
# The real GPU kernel is gentler than this model (its threads do not all read before
# all write), and `cuda_ops.launch_config(max_threads=...)` caps the number of
# threads in flight. This is also why the tests compare Hogwild kernels by their
# loss over several epochs, and compare bits only for serial launches.
#
# ## The CUDA kernel itself
#
# The same kernel source runs on a GPU and, here, under Numba's CUDA simulator
# (each GPU thread is a Python thread, so only tiny sizes). Launched with one
# thread it is the serial algorithm and must match the spec:

# %%
try:
    C = get_kernels("cuda")
except BackendUnavailableError as e:
    C = None
    print("cuda backend not available here:", str(e)[:120])
if C is not None:
    n = np.arange(300)
    a, b = init(), init()
    la = N.sgd_mf_epoch(users, items, ratings, n, *a, mu, LR, REG, RB, True)
    lb = C.sgd_mf_epoch(users, items, ratings, n, *b, mu, LR, REG, RB, True)
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    where = "the simulator" if C.SIMULATOR else "the GPU"
    print(f"cuda_ops.sgd_mf_epoch on {where} == numpy_ops.sgd_mf_epoch (300 ratings)")
    with C.launch_config(threads_per_block=8, max_threads=32):
        c = init()
        lc = C.sgd_mf_epoch_hogwild(users, items, ratings, n, *c, mu, LR, REG, RB, True)
    print(f"hogwild launch, 32 threads: loss {lc:.4f} vs serial {lb:.4f}")

# %% [markdown]
# ## Which models run on the device
#
# Every estimator whose loop-shaped work has a CUDA twin takes `backend="cuda"`: the
# list is computed, not typed, so it cannot drift from the code. A model without a
# twin says so when it is built (a `BackendUnavailableError` naming a backend that
# works), never by running on the CPU behind your back. FM keeps its feature blocks
# and `w0, w, V` on the device for the whole fit and copies them back after the last
# epoch; the KNN similarities run one GPU thread per row. With `hogwild=False`
# (the default) the FM kernel runs on one GPU thread and follows the serial update
# sequence of the CPU backends, so the losses equal Numba's; `hogwild=True` races
# like the MF kernel above, fast and not reproducible bit for bit.

# %%
import inspect

from minirec.models import available_models, get_model_class

if C is not None:
    on_cuda, without = [], {}
    for name in available_models():
        cls = get_model_class(name)
        if "backend" not in inspect.signature(cls.__init__).parameters:
            continue  # autograd models: Module.to("cupy") instead
        try:
            cls(backend="cuda")
            on_cuda.append(name)
        except BackendUnavailableError as e:
            without[name] = str(e)
    print('models with backend="cuda":', ", ".join(on_cuda))
    for name, why in without.items():
        print(f"  {name}: {why}")
    assert {"mf", "bpr", "als", "fm", "itemknn", "userknn"} <= set(on_cuda)

    FM = get_model_class("fm")
    part = data.subset(np.arange(300))  # the simulator runs each GPU thread in Python
    kw = dict(k=8, n_epochs=2, lr=0.01, seed=0)
    fm_cpu = FM(backend="numba", **kw).fit(part)
    fm_gpu = FM(backend="cuda", **kw).fit(part)
    np.testing.assert_allclose(fm_gpu.loss_history_, fm_cpu.loss_history_, rtol=1e-4)
    with C.launch_config(threads_per_block=8, max_threads=32):
        fm_hog = FM(backend="cuda", hogwild=True, **kw).fit(part)
    print(f"FM loss per epoch, numba:          {np.round(fm_cpu.loss_history_, 4)}")
    print(f"FM loss per epoch, cuda (serial):  {np.round(fm_gpu.loss_history_, 4)}")
    print(f"FM loss per epoch, cuda (hogwild): {np.round(fm_hog.loss_history_, 4)}")

# %% [markdown]
# ## Measured on a GPU
#
# `bash benchmarks/run_gpu.sh` runs the GPU tests and `benchmarks/bench_gpu.py` on a
# GPU machine and writes `benchmarks/results/gpu.md` (kernels and model epochs,
# NumPy vs Numba vs CUDA in one run, compile time apart). The table, when it exists:

# %%
results = Path(_course.HERE).parent / "benchmarks" / "results" / "gpu.md"
if results.exists():
    print(results.read_text())
else:
    print(
        "No GPU measurement exists yet: benchmarks/results/gpu.md is absent (no GPU "
        "was available where minirec was last benchmarked). Run "
        "`bash benchmarks/run_gpu.sh` on a machine with an NVIDIA GPU. Targets: SGD-MF "
        "epoch on ML-1M >= 10x the Numba all-threads epoch; NeuMF epoch >= 10x NumPy."
    )

# %% [markdown]
# ## Summary
#
# * Two GPU paths: the autograd on CuPy arrays (`Tensor(x, device="cuda")`,
#   `model.to("cupy")`, and `device="cuda"` on every autograd recommender: GMF,
#   NCF-MLP, NeuMF, DeepFM, ConvNCF, AutoRec, GRU4Rec, SASRec), and `numba.cuda` kernels (`backend="cuda"`: MF, BPR, ALS,
#   implicit ALS, FM, ItemKNN, UserKNN) for the loop-shaped work. Transfers are
#   explicit; no GPU means an error naming `pip install 'minirec[gpu]'`, never a
#   silent CPU run.
# * GPU SGD is Hogwild: one thread per rating, no locks. Updates that collide on a
#   row are lost; with realistic widths the loss curve is the serial one, and the
#   results are not reproducible bit for bit (the serial launch is).
# * `numba.cuda` was chosen over CuPy raw kernels so that CI runs the very kernel
#   source under the simulator (see the docstring of `cuda_ops/__init__.py`).


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: on ML-1M with T = 65,536,
# what share of the updates to the 10 most popular items is lost, and what cap on
# `launch_config(max_threads=...)` keeps it under 5%? On a GPU machine, run
# `python benchmarks/bench_gpu.py --k 32` and `--k 128`: how does the CUDA
# speed-up of `sgd_mf_epoch` change with k, and why?

# %% [markdown] tags=["exercise"]
# ### Exercise 22.1: the share of lost updates in a wave
#
# In a wave the last writer of a row wins, so each row keeps one of its updates.
# Return the share of the wave's updates that are lost, for the row index of each
# update `rows` (T,), and the share lost on the `n_top` rows updated most often
# in this wave (updates to those rows only).


# %% tags=["exercise"]
def exercise_22_1(rows, n_top):
    # your code here
    return 0.0, 0.0


attempt("22_1", exercise_22_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 22.2: a wave that applies every update
#
# `P[rows] += deltas` keeps only one delta of a repeated row (NumPy's buffered
# fancy assignment, like the last writer on a GPU). Return a copy of `P` in which
# every row receives the **sum** of all its deltas (an atomic add on a GPU). Why
# does the sum diverge for large T, when many threads push the same popular row?


# %% tags=["exercise"]
def exercise_22_2(P, rows, deltas):
    # your code here
    P = P.copy()
    P[rows] += deltas
    return P


attempt("22_2", exercise_22_2)
