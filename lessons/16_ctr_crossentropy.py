# %% [markdown]
# # 16 · Click prediction with an inner product and cross-entropy — doc 004, fixed
#
# **Goal.** Doc 004 builds a CTR model: a user vector and an item vector, their
# inner product through a sigmoid, cross-entropy, gradient descent. Three of its
# formulas and its PyTorch code are wrong as printed. We show each failure
# numerically, fix it, and train the corrected model on MovieLens clicks.
#
# **Covers:** `004-2` (doc 004 §2: CTR prediction, inner product, cross-entropy),
# `004-ce` (the cross-entropy loss), `004-3.1` with erratum **E6** (the "inner
# product" double sum), `004-4.2` with erratum **E7** (the gradient), `004-4.4`
# with erratum **E8** (the `RecommendationModel` code). Library: `minirec.nn.losses`,
# `minirec.autograd`, `minirec/data/ctr.py`.
#
# Doc 004 (`004_f2459186f67a34fe.txt`), §3.1 / §4.1:
#
# > $\hat{y} = P_{\theta}(u,v) = \sigma(\sum_{k=1}^K \sum_{l=1}^L u_{i,k}v_{j,l})$
# > … $\mathcal{L}(\theta) = -\frac{1}{N}\sum_{i=1}^N \sum_{j=1}^M [y_{i,j}\log
# > \hat{y}_{i,j} + (1-y_{i,j})\log (1-\hat{y}_{i,j})]$
#
# §4.2: $\frac{\partial \mathcal{L}(\theta)}{\partial \theta} =
# -\frac{1}{N}\sum_{i=1}^N \sum_{j=1}^M [y_{i,j}\frac{\partial y_i}{\partial \theta}
# - (1-y_{i,j})\frac{\partial (1-y_i)}{\partial \theta}]$
#
# §4.4 (code, abridged): `user_vector = self.activation(self.linear1(user_vector))`;
# `item_vector = self.linear2(item_vector)`;
# `return self.activation(user_vector @ item_vector)`; `loss_fn = nn.BCELoss()`.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.data.ctr import ctr_task, global_auc, logloss
from minirec.data.features import build_fm_fields
from minirec.nn import losses
from minirec.optim import Adam

T0 = time.perf_counter()
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. E6: the printed double sum is not an inner product
#
# $\sum_k\sum_l u_k v_l = (\sum_k u_k)(\sum_l v_l)$: it only sees the two sums, so
# it cannot tell which factor of u meets which factor of v. The inner product is
# $\sum_k u_k v_k$ (and needs K = L).

# %%
u = np.array([1.0, -2.0, 0.5])
v = np.array([0.5, 1.0, -1.0])
double_sum = sum(u[k] * v[ll] for k in range(3) for ll in range(3))
assert np.isclose(double_sum, u.sum() * v.sum())
v_perm = v[[2, 0, 1]]  # same entries, other order
print(
    f"double sum: {double_sum:.2f} (same for permuted v: {u.sum() * v_perm.sum():.2f})"
)
print(f"inner product: {u @ v:.2f} vs permuted {u @ v_perm:.2f}")
assert not np.isclose(double_sum, u @ v)

# %% [markdown]
# ## 2. 004-ce: cross-entropy, computed stably
#
# Doc 004's loss is the binary cross-entropy derived in lesson 02b (section 1),
# which lessons 11 and 13 already train with. What matters for doc 004's code:
# taking `log(sigmoid(z))` in float32 breaks for large |z| (σ(−40) rounds to 0,
# log gives −inf); `bce_with_logits` computes softplus(z) − y z instead. (That is
# why `nn.BCELoss` on a sigmoid output, as in the printed code, is fragile.)

# %%
z = np.array([-40.0, -3.0, 0.0, 2.0, 40.0], dtype=np.float32)
y = np.array([1.0, 0.0, 1.0, 1.0, 0.0], dtype=np.float32)
with np.errstate(divide="ignore"):
    s = (1 / (1 + np.exp(-z))).astype(np.float32)
    naive = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
stable = losses.bce_with_logits(Tensor(z), y).item()
exact = np.mean(np.logaddexp(0, z.astype(np.float64)) - y * z)
print(f"naive {naive}, stable {stable:.6f}, float64 exact {exact:.6f}")
assert not np.isfinite(naive) and abs(stable - exact) < 1e-4

# %% [markdown]
# ## 3. E7: the printed gradient drops 1/ŷ and 1/(1 − ŷ)
#
# Printed: $-\frac1N\sum[y\,\partial\hat y - (1-y)\,\partial(1-\hat y)] =
# -\frac1N\sum \partial\hat y/\partial\theta$ — it does not depend on y at all.
# Correct: $-\frac1N\sum[\frac{y}{\hat y} - \frac{1-y}{1-\hat y}]\partial\hat y/\partial\theta$,
# which for $\hat y = \sigma(\theta^\top x)$ is $\frac1N\sum(\hat y - y)x$ (lesson
# 02b's derivation). Finite differences decide between the two.

# %%
X = rng.normal(size=(6, 3))
Y = np.array([1, 0, 1, 1, 0, 0], dtype=np.float64)
theta = rng.normal(size=3)


def ce(th):
    p = 1 / (1 + np.exp(-X @ th))
    return -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))


p = 1 / (1 + np.exp(-X @ theta))
dp = (p * (1 - p))[:, None] * X  # ∂ŷ/∂θ
printed = -np.mean(Y[:, None] * dp - (1 - Y)[:, None] * (-dp), axis=0)
correct = np.mean((p - Y)[:, None] * X, axis=0)
eps = 1e-6
numeric = np.array(
    [(ce(theta + eps * e) - ce(theta - eps * e)) / (2 * eps) for e in np.eye(3)]
)
print("finite differences", np.round(numeric, 5))
print("correct (ŷ − y) x ", np.round(correct, 5))
print("printed (E7)      ", np.round(printed, 5))
np.testing.assert_allclose(correct, numeric, rtol=1e-6, atol=1e-9)
assert not np.allclose(printed, numeric, atol=1e-3)
# minirec's autograd gives the correct one
th = Tensor(theta, requires_grad=True)
losses.bce_with_logits(Tensor(X) @ th, Y).backward()
np.testing.assert_allclose(th.grad, numeric, rtol=1e-6, atol=1e-9)

# %% [markdown]
# ## 4. E8: the printed `RecommendationModel` fails on a batch
#
# `linear1` maps users to `hidden_dim`, `linear2` maps items to `output_dim`, then
# `user_vector @ item_vector` multiplies a (B, hidden) by a (B, output) matrix. It
# only runs for single vectors with hidden_dim == output_dim (and `linear2` even
# expects the item vector to have hidden_dim features). We run it as printed (in
# minirec's autograd; in PyTorch when installed) and watch it fail.


# %%
class PrintedModel(nn.Module):  # doc 004 §4.4, line for line
    def __init__(self, input_dim, hidden_dim, output_dim):
        self.linear1 = nn.Linear(input_dim, hidden_dim, rng=0)
        self.linear2 = nn.Linear(hidden_dim, output_dim, rng=1)
        self.activation = nn.Sigmoid()

    def forward(self, user_vector, item_vector):
        user_vector = self.linear1(user_vector)
        user_vector = self.activation(user_vector)
        item_vector = self.linear2(item_vector)
        return self.activation(user_vector @ item_vector)


B, input_dim, hidden_dim, output_dim = 4, 6, 5, 3
users_x = Tensor(rng.normal(size=(B, input_dim)))
items_x = Tensor(rng.normal(size=(B, hidden_dim)))
model = PrintedModel(input_dim, hidden_dim, output_dim)
try:
    model(users_x, items_x)
    failed = None
except ValueError as e:
    failed = str(e).splitlines()[0]
print("printed model on a batch ->", failed)
assert failed is not None

try:
    import torch

    class TorchPrinted(torch.nn.Module):
        def __init__(self, input_dim, hidden_dim, output_dim):
            super().__init__()
            self.linear1 = torch.nn.Linear(input_dim, hidden_dim)
            self.linear2 = torch.nn.Linear(hidden_dim, output_dim)
            self.activation = torch.nn.Sigmoid()

        def forward(self, user_vector, item_vector):
            user_vector = self.activation(self.linear1(user_vector))
            item_vector = self.linear2(item_vector)
            return self.activation(user_vector @ item_vector)

    try:
        TorchPrinted(input_dim, hidden_dim, output_dim)(
            torch.randn(B, input_dim), torch.randn(B, hidden_dim)
        )
    except RuntimeError as e:
        print("PyTorch says:", str(e).splitlines()[0])
except ImportError:
    print("(PyTorch not installed: the minirec run above shows the same failure)")


# %% [markdown]
# **The fix.** Map users and items into the *same* d-dimensional space, take the
# row-wise inner product $\hat z = \sum_k u_k v_k$ (per pair, not a matrix
# product), and train cross-entropy on the logit.


# %%
class FixedModel(nn.Module):
    def __init__(self, user_dim, item_dim, d, rng=0):
        self.user_tower = nn.Linear(user_dim, d, rng=rng)
        self.item_tower = nn.Linear(item_dim, d, rng=rng)

    def forward(self, user_x, item_x):  # -> logits (B,)
        return F.sum(self.user_tower(user_x) * self.item_tower(item_x), axis=-1)


fixed = FixedModel(input_dim, hidden_dim, 4)
# one logit per (user, item) row: the row-wise inner product of the two towers
Ut = users_x.data @ fixed.user_tower.W.data + fixed.user_tower.b.data
It = items_x.data @ fixed.item_tower.W.data + fixed.item_tower.b.data
np.testing.assert_allclose(fixed(users_x, items_x).numpy(), (Ut * It).sum(1), rtol=1e-6)

# %% [markdown]
# ## 5. 004-2: train the fixed model on MovieLens clicks
#
# Click = rating >= 4. User vector = multi-hot (user id, gender, age, occupation),
# item vector = multi-hot (item id, genres); random 80/20; AUC and logloss.

# %%
data = _course.load_ratings("ml-100k")
task = ctr_task(data, test_fraction=0.2, seed=0)
fields = build_fm_fields(task.train)
Uf = np.zeros((data.n_users, fields.n_features), np.float32)
np.put_along_axis(Uf, fields.user_idx, fields.user_val, axis=1)
If = np.zeros((data.n_items, fields.n_features), np.float32)
np.put_along_axis(If, fields.item_idx, fields.item_val, axis=1)
ucols, icols = Uf.any(0), If.any(0)
Uf, If = Uf[:, ucols], If[:, icols]

ctr = FixedModel(Uf.shape[1], If.shape[1], 16, rng=0)
opt = Adam(ctr.parameters(), lr=0.003)
tr = task.train
n_ep = 5 if _course.FULL else 2
hist = []
for _epoch in range(n_ep):
    perm = rng.permutation(len(tr))
    for s in range(0, len(perm), 512):
        b = perm[s : s + 512]
        logit = ctr(Tensor(Uf[tr.users[b]]), Tensor(If[tr.items[b]]))
        loss = losses.bce_with_logits(logit, tr.ratings[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
te = task.test
z = ctr(Tensor(Uf[te.users]), Tensor(If[te.items])).numpy()
p = 1 / (1 + np.exp(-z))
auc, ll = global_auc(te.ratings, p), logloss(te.ratings, p)
const = logloss(te.ratings, np.full(len(te), tr.ratings.mean()))
print(f"test AUC {auc:.3f}, logloss {ll:.4f} (constant click rate: {const:.4f})")
assert auc > 0.6 and ll < const

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.convolve(hist, np.ones(20) / 20, mode="valid"))
ax.set(xlabel="batch", ylabel="cross-entropy (moving avg of 20)",
       title="the fixed doc 004 model on MovieLens clicks")  # fmt: skip
_course.savefig(fig, "16_ctr_crossentropy.png")
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * E6: $\sum_k\sum_l u_kv_l = (\sum u)(\sum v)$; the inner product is
#   $\sum_k u_kv_k$.
# * E7: the cross-entropy gradient is $(\hat y - y)\,\partial z/\partial\theta$; the
#   printed one ignores the labels.
# * E8: a batch needs a row-wise dot product of vectors in one space, and BCE on
#   logits, not `sigmoid` + `BCELoss`.


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: put a hidden ReLU layer in
# each tower — does the AUC move? Feed the towers only the id one-hots: how much do
# the side features add? Train with the printed (E7) gradient and watch what the
# model learns.

# %% [markdown] tags=["exercise"]
# ### Exercise 16.1: the corrected cross-entropy gradient (E7)
#
# For a logistic model $\hat y = \sigma(X\theta)$ return
# $\partial\mathcal{L}/\partial\theta$ of the mean cross-entropy (a vector like
# `theta`).


# %% tags=["exercise"]
def exercise_16_1(X, y, theta):
    # your code here
    return np.zeros_like(theta)


attempt("16_1", exercise_16_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 16.2: the fixed model's logits on a batch (E8)
#
# User features `Xu` (B, du) and item features `Xi` (B, di) go through two linear
# towers `Xu @ Wu + bu` and `Xi @ Wi + bi` into the same d-dimensional space.
# Return one logit per row (B,): the row-wise inner product, not the (B, B)
# matrix product.


# %% tags=["exercise"]
def exercise_16_2(Xu, Xi, Wu, bu, Wi, bi):
    # your code here
    return ((Xu @ Wu + bu) @ (Xi @ Wi + bi).T).sum(axis=1)


attempt("16_2", exercise_16_2)
