# %% [markdown]
# # 09 · Factorization machines: ids plus side features
#
# **Goal.** Write doc 000's factorization machine as it is printed, check its
# O(kn) identity against the O(kn²) pairwise sum, check its gradient
# $\partial\hat y/\partial v_{i,f}$ against autograd and finite differences, then
# train minirec's `FM` on MovieLens with user id, item id, gender, age, occupation
# and genres, and see what the side features buy over ids alone.
#
# **Covers:** `000-4.2` (the FM formulas, printed correctly; no erratum). Library:
# `minirec/models/fm.py`, `minirec/data/features.py` (the field format),
# `minirec/backends/numpy_ops/fm.py` (NumPy spec) and `numba_ops/fm.py` (Numba twin).

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.backends import numba_ops, numpy_ops
from minirec.data import load_ml100k_split, random_split
from minirec.data.features import build_fm_fields
from minirec.evaluation import evaluate_ratings
from minirec.models import BiasedBaseline
from minirec.models.fm import FM

# %% [markdown]
# ## The model (`000-4.2`)
#
# Doc 000 (`000_b4c4b935d973744a.txt`, §4.2.1 and §4.2.2):
#
# > $\hat{y}(x)=w_0+\sum_{i=1}^n w_i x_i + \sum_{i=1}^n \sum_{j=i+1}^n \langle v_i, v_j \rangle x_i x_j$
# >
# > $\hat{y}(x)=w_0+w^Tx+\frac{1}{2}\sum_{f=1}^k ((\sum_{i=1}^n v_{i,f}x_i)^2-\sum_{i=1}^n v_{i,f}^2x_i^2)$
#
# The second line is the same number computed in O(kn) instead of O(kn²):
# $\sum_{i<j} a_i a_j = \frac12[(\sum_i a_i)^2 - \sum_i a_i^2]$ with
# $a_i = v_{i,f} x_i$, for each factor f. Both, in a few lines of NumPy:

# %%
rng = np.random.default_rng(0)


def fm_pairwise(x, w0, w, V):
    """O(k n²): the double sum of §4.2.1."""
    y = w0 + w @ x
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            y += (V[i] @ V[j]) * x[i] * x[j]
    return y


def fm_fast(x, w0, w, V):
    """O(k n): the identity of §4.2.2."""
    s = V.T @ x
    return w0 + w @ x + 0.5 * (s @ s - ((V**2).T @ x**2).sum())


n, k = 60, 8
x = rng.random(n) * (rng.random(n) < 0.3)
w0, w, V = 0.3, rng.normal(size=n), rng.normal(0, 0.3, (n, k))
np.testing.assert_allclose(fm_fast(x, w0, w, V), fm_pairwise(x, w0, w, V), rtol=1e-12)
print("O(kn) identity == O(kn²) pairwise sum:", fm_fast(x, w0, w, V))

# %% [markdown]
# How the two costs grow with the number of nonzero features (dense x here; the
# pairwise loop is Python, so read the slope, not the constant):

# %%
sizes = [20, 40, 80, 160] if not _course.FULL else [20, 40, 80, 160, 320, 640]
t_pair, t_fast = [], []
for nn in sizes:
    xx, ww, VV = rng.random(nn), rng.normal(size=nn), rng.normal(size=(nn, k))
    t0 = time.perf_counter()
    fm_pairwise(xx, 0.0, ww, VV)
    t_pair.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(100):
        fm_fast(xx, 0.0, ww, VV)
    t_fast.append((time.perf_counter() - t0) / 100)
print("n:", sizes)
print("pairwise s:", [f"{t:.2e}" for t in t_pair])
print("identity s:", [f"{t:.2e}" for t in t_fast])

# %% [markdown]
# ## The gradient (`000-4.2`, §4.2.3)
#
# > $\mathcal{L}=\sum_{i=1}^m (\hat{y}(x^{(i)})-y^{(i)})^2+\lambda_w \lVert w \rVert^2 + \lambda_V \lVert V \rVert^2$
# >
# > $\frac{\partial \hat{y}(x)}{\partial v_{i,f}}=(\sum_{j=1}^n v_{j,f}x_j-v_{i,f}x_i)x_i$
#
# This one is printed correctly. Check it three ways: the formula, autograd on the
# O(kn) form, and central differences (`gradcheck`, float64).


# %%
def y_hat_t(Vt):
    xt = Tensor(x[None, :])
    s = F.matmul(xt, Vt)  # (1, k): s_f = Σ_j v_jf x_j
    sq = F.matmul(Tensor((x**2)[None, :]), Vt * Vt)
    return w0 + F.sum(Tensor(w) * Tensor(x)) + 0.5 * F.sum(s * s - sq)


gradcheck(y_hat_t, V)  # autograd == central differences
Vt = Tensor(V, requires_grad=True, dtype=np.float64)
y_hat_t(Vt).backward()
s = V.T @ x
formula = x[:, None] * (s[None, :] - V * x[:, None])  # doc 000's ∂ŷ/∂v_if
np.testing.assert_allclose(Vt.grad, formula, rtol=1e-10, atol=1e-12)
print("doc 000's ∂ŷ/∂v_if == autograd == finite differences")

# %% [markdown]
# ## The same numbers from minirec's kernels
#
# minirec stores each rating as a fixed-width row of (feature index, value) slots
# (`minirec.data.features`): user id, item id, gender, age bucket, occupation, and
# the genres with values 1/(number of genres). `fm_predict` evaluates the identity
# for many rows; one SGD step of `sgd_fm_epoch` with λ = 0 moves V by
# $-\eta\,(\hat y - y)\,\partial\hat y/\partial V$.

# %%
idx = np.flatnonzero(x)[None, :].astype(np.int32)
val = x[idx].astype(np.float32)
params = (np.array([w0], np.float32), w.astype(np.float32), V.astype(np.float32))
for kern in (numpy_ops.fm_predict, numba_ops.fm_predict):
    np.testing.assert_allclose(
        kern(idx, val, *params)[0], fm_fast(x, w0, w, V), rtol=1e-4
    )
lr, y_true = 1e-3, 4.0
V1 = params[2].copy()
numba_ops.sgd_fm_epoch(
    idx,
    val,
    np.array([y_true], np.float32),
    np.array([0]),
    params[0].copy(),
    params[1].copy(),
    V1,
    lr,
    0.0,
    0.0,
    False,
)
g = fm_fast(x, w0, w, V) - y_true
np.testing.assert_allclose(V1, V - lr * g * formula, rtol=1e-3, atol=1e-6)
print("fm_predict and one sgd_fm_epoch step agree with the formulas")

# %% [markdown]
# ## The library: `FM` on MovieLens, ids only vs side features
#
# Same split, same hyperparameters; the only difference is the fields. With ids
# only an FM is exactly biased MF: $\hat y = w_0 + w_u + w_i + \langle v_u,
# v_i\rangle$. (ML-100k u1.base/u1.test when MINIREC_DATA is set, else a random
# 90/10 split of the synthetic data.)

# %%
if _course.has("ml-100k"):
    train, test = load_ml100k_split("u1", _course.data_root())
    print("data: ML-100k u1.base -> u1.test")
else:
    train, test = random_split(_course.load_ratings("ml-100k"), 0.1, seed=0)
print(build_fm_fields(train).describe())
epochs = 40 if _course.FULL else 20
kw = dict(k=16, lr=0.01, reg_V=0.05, n_epochs=epochs, seed=0)
models = {
    "baseline μ+b_u+b_i": BiasedBaseline(),
    "FM ids only": FM(user_fields=None, item_fields=None, **kw),
    "FM + side features": FM(**kw),
}
rmse = {}
for name, m in models.items():
    t0 = time.perf_counter()
    m.fit(train)
    rmse[name] = evaluate_ratings(m, test).metrics["RMSE"]
    print(f"{name:22s} RMSE {rmse[name]:.4f}  ({time.perf_counter() - t0:.1f} s)")
assert rmse["FM + side features"] < rmse["baseline μ+b_u+b_i"]

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name in ("FM ids only", "FM + side features"):
    ax.plot(np.sqrt(models[name].loss_history_), label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training RMSE (before each update)")
ax.set_title("FM on MovieLens: ids only vs side features")
ax.legend()
_course.savefig(fig, "09_fm_training.png")

# %% [markdown]
# What the side features learned: the linear weights $w$ of the gender, age and
# genre fields (how much each shifts a rating, everything else equal).

# %%
fm = models["FM + side features"]
names = fm.fields_.feature_names
for f, fld in enumerate(fm.fields_.field_names):
    if fld in ("user", "item"):
        continue
    lo, size = fm.fields_.offsets[f], fm.fields_.sizes[f]
    top = np.argsort(-fm.w_[lo : lo + size])[:3] + lo
    print(
        f"{fld:11s} highest w:", ", ".join(f"{names[j]} {fm.w_[j]:+.3f}" for j in top)
    )

# %% [markdown]
# ## Summary
#
# * The FM prediction is a linear model plus all pairwise interactions, each
#   factorised as $\langle v_i, v_j\rangle$; the identity of §4.2.2 makes it
#   O(k·nnz), checked above against the double sum.
# * Doc 000's gradient $\partial\hat y/\partial v_{i,f} = x_i(\sum_j v_{j,f}x_j -
#   v_{i,f}x_i)$ is correct (autograd and finite differences agree).
# * With only the id fields, FM *is* biased MF. Side features enter as more
#   one-hot (or normalised multi-hot) fields; minirec's FM trains on them with a
#   Numba SGD kernel whose per-rating cost is O(k·nnz). On ML-1M (random 90/10,
#   seed 0) its RMSE next to the ids-only FM is in benchmarks/results/fm_knn.md;
#   the FM row of `minirec reproduce rating` is in benchmarks/results/rating.md.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the solutions are in `lessons/solutions/`). Open questions: add the
# `decade` item field and the `zip1` user field (`FM(item_fields=["genres",
# "decade"], user_fields=["gender", "age", "occupation", "zip1"])`): does the test
# RMSE move? (tune on a validation split carved from train first); train
# `FM(task="classification")` on the 0/1 interactions and compare its HR@10 with
# ItemKNN's on the NCF protocol (lesson 04).

# %% [markdown] tags=["exercise"]
# ### Exercise 09.1: biased MF is an FM on two one-hot fields
#
# Given biased MF's $\mu$, `bu`, `bi`, `P`, `Q`, return the FM parameters
# `(w0, w, V)` over the features [one-hot user (n_users), one-hot item (n_items)]
# whose prediction equals MF's for every (user, item) row.


# %% tags=["exercise"]
def exercise_09_1(mu, bu, bi, P, Q):
    # your code here
    n, k = len(bu) + len(bi), P.shape[1]
    return 0.0, np.zeros(n), np.zeros((n, k))


attempt("09_1", exercise_09_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 09.2: one SGD step of an FM on the squared error
#
# For one row `x` (dense feature vector) with target `y`, return the parameters
# `(w0, w, V)` after one step of $\theta \leftarrow \theta - \eta\,(\hat y - y)\,
# \partial \hat y / \partial \theta$ with learning rate `lr` (no regularization),
# using the gradient of doc 000 §4.2.3.


# %% tags=["exercise"]
def exercise_09_2(x, y, w0, w, V, lr):
    # your code here
    return w0, w, V


attempt("09_2", exercise_09_2)
