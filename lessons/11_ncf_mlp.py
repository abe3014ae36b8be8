# %% [markdown]
# # 11 · NCF-MLP: embeddings, a tower, and the log loss with sampled negatives
#
# **Goal.** Build NCF's MLP model (He et al., WWW 2017) from its pieces — user and
# item embeddings, a ReLU tower on their concatenation, a sigmoid output trained
# with the binary log loss on observed items and *sampled* unobserved ones — check
# every piece against minirec, then train it and rank items for users.
#
# **Covers:** `000-3.1` (doc 000 §3.1 "MLP based NCF": 3.1.1.1 embeddings, 3.1.1.2
# the MLP, 3.1.1.3 the binary log loss, 3.1.2.1 negative sampling, 3.1.2.2 mini-batch
# SGD, 3.1.2.3 learning-rate schedule, 3.1.3 Top-N) and `000-2.3` (doc 000 §2.3.1
# "embedding 技术", *embedding techniques*: user/item embeddings and how they are
# learned). Library:
# `minirec/models/ncf.py` (`NCFMLP`), `minirec/models/_train.py`.
#
# Doc 000 (`000_b4c4b935d973744a.txt`) gives §3.1 as an outline only:
#
# > 3.1.1.3 二分类的对数损失函数 · 3.1.2.1 样本的生成与负采样 ·
# > 3.1.2.2 mini-batch SGD优化算法 · 3.1.2.3 学习率调整策略 ·
# > 3.1.3.2 Top-N推荐列表的生成
#
# > *English:* 3.1.1.3 the binary log loss · 3.1.2.1 generating samples and
# > negative sampling · 3.1.2.2 mini-batch SGD · 3.1.2.3 learning-rate schedules ·
# > 3.1.3.2 generating the Top-N recommendation list
#
# so we fill it in with the NCF paper's equations (§3.1, §3.3):
#
# $$z_1 = [p_u; q_i],\quad z_{l+1} = \mathrm{ReLU}(W_l z_l + b_l),\quad
# \hat y_{ui} = \sigma(h^\top z_L + b)$$
# $$L = -\sum_{(u,i)\in Y}\log \hat y_{ui} - \sum_{(u,j)\in Y^-}\log(1-\hat y_{uj})$$
#
# with $Y^-$ = 4 items per positive that the user never touched, drawn afresh each
# epoch.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.data.ncf import ncf_protocol
from minirec.evaluation import evaluate_sampled
from minirec.models import Popularity
from minirec.models._train import NegativeSampler, gradcheck_module, pointwise_epoch
from minirec.models.ncf import NCFMLP
from minirec.nn import losses

T0 = time.perf_counter()
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Embeddings are rows of a table (doc 000 §2.3.1)
#
# An embedding layer is a matrix $P \in \mathbb{R}^{m\times d}$; "looking up" user
# $u$ is taking row $p_u$. It is learned like any weight: the gradient of the loss
# flows only into the rows the batch used (a scatter-add).
#
# We assemble the whole network from `minirec.nn` parts: two `Embedding` tables,
# an `MLP` tower (a ReLU after every `Linear`), a `Linear` output. Section 4 shows
# that the library's `NCFMLP` runs exactly this network.


# %%
class NCFMLPNet(nn.Module):
    """logit = h . tower([p_u; q_i]) + b; layers[0] = 2 x the embedding size."""

    def __init__(self, n_users, n_items, layers, rng=0, std=0.01):
        d = layers[0] // 2
        self.P = nn.Embedding(n_users, d, std=std, rng=rng)
        self.Q = nn.Embedding(n_items, d, std=std, rng=rng)
        self.tower = nn.MLP(list(layers), rng=rng)
        self.h = nn.Linear(layers[-1], 1, rng=rng)

    def forward(self, u, i):
        z = self.tower(F.concat([self.P(u), self.Q(i)], axis=-1))
        return F.reshape(self.h(z), (-1,))


net = NCFMLPNet(n_users=5, n_items=6, layers=[8, 4], rng=0, std=0.5)
u = np.array([0, 1, 2, 4, 1])
i = np.array([1, 2, 5, 0, 5])
y = np.array([1.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)

P, Q = net.P.W.data, net.Q.W.data
z = np.concatenate([P[u], Q[i]], axis=1)  # z_1 = [p_u; q_i]
for layer in net.tower.layers[::2]:  # Linear, ReLU, Linear, ReLU
    z = np.maximum(z @ layer.W.data + layer.b.data, 0)
logit_np = (z @ net.h.W.data + net.h.b.data)[:, 0]
np.testing.assert_allclose(net(u, i).numpy(), logit_np, rtol=1e-5, atol=1e-6)
print("NumPy forward == the network built from minirec.nn:", np.round(logit_np, 4))

# %% [markdown]
# ## 2. The log loss and its gradient
#
# Binary cross-entropy is derived in lesson 02b (section 1): with
# $\hat y = \sigma(z)$, $\ell = -[y\log\hat y + (1-y)\log(1-\hat y)]$,
# $\partial\ell/\partial z = \hat y - y$, computed stably as
# $\ell = \mathrm{softplus}(z) - yz$. Here it meets the network: the library's
# loss on our logits, then the gradient of every weight.

# %%
y_hat = 1 / (1 + np.exp(-logit_np))
ll_np = -np.mean(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))
zt = Tensor(logit_np.astype(np.float64), requires_grad=True)
ll = losses.bce_with_logits(zt, y)
ll.backward()
assert abs(ll.item() - ll_np) < 1e-6
np.testing.assert_allclose(zt.grad, (y_hat - y) / len(y), rtol=1e-6)
# and through the whole network: every weight, by central differences
res = gradcheck_module(net, lambda: losses.bce_with_logits(net(u, i), y))
assert res.ok
print(res)

# %% [markdown]
# ## 3. Negative sampling (doc 000 §3.1.2.1)
#
# Implicit data has only positives. Each epoch we pair every positive with 4 items
# the user has not interacted with, drawn uniformly, label 0.

# %%
data = _course.load_ratings("ml-100k")
if not _course.FULL:  # quick mode: the 300 most active users
    top = np.argsort(-data.user_counts())[:300]
    data = data.subset(np.flatnonzero(np.isin(data.users, top)))
train, tu, ti, negs = ncf_protocol(data, regenerate=True, seed=0)
users, items, labels = pointwise_epoch(train, 4, rng, NegativeSampler(train))
seen = set(zip(train.users.tolist(), train.items.tolist()))
assert not any((a, b) in seen for a, b in zip(users[labels == 0], items[labels == 0]))
print(f"{len(train):,} positives -> {len(users):,} examples per epoch "
      f"({labels.mean():.0%} positive)")  # fmt: skip

# %% [markdown]
# ## 4. Train NCF-MLP with mini-batches and a learning-rate schedule
#
# Protocol: leave-one-out (each user's latest rating is the test item), the test
# item ranked against 99 sampled unseen items (NCF's "1 + 99"), HR@10 / NDCG@10.

# %%
curve = []


def log(model, epoch, rec):
    m = evaluate_sampled(model, tu, ti, negs, ks=(10,)).metrics
    curve.append((epoch, rec["loss"], m["HR@10"], rec["lr"]))


n_epochs = 20 if _course.FULL else 6
# 16 predictive factors with the paper's three hidden layers (§4.1): embeddings of
# 32, [p_u; q_i] of 64 -> 64 -> 32 -> 16
mlp = NCFMLP(layers=(64, 64, 32, 16), n_epochs=n_epochs, batch_size=512, lr=0.003,
             lr_schedule="exp", lr_decay=0.9)  # fmt: skip
mlp.fit(train, on_epoch=log)
pop = Popularity().fit(train)
hr_mlp = evaluate_sampled(mlp, tu, ti, negs).metrics["HR@10"]
hr_pop = evaluate_sampled(pop, tu, ti, negs).metrics["HR@10"]
print(f"HR@10: NCF-MLP {hr_mlp:.3f}, popularity {hr_pop:.3f}")
assert curve[-1][1] < curve[0][1]  # the log loss went down

# the library's network is the one of section 1: copy the trained weights into
# ours (same parameter names) and score the same pairs
ours = NCFMLPNet(train.n_users, train.n_items, [64, 64, 32, 16])
ours.load_state_dict(mlp.net_.state_dict())
pu, pi = rng.integers(0, train.n_users, 500), rng.integers(0, train.n_items, 500)
np.testing.assert_allclose(
    ours(pu, pi).numpy(), mlp.predict_pairs(pu, pi), rtol=1e-5, atol=1e-5
)
print("NCFMLP's trained scores == our NCFMLPNet with its weights (500 pairs)")

ep, loss, hr, lr = map(np.array, zip(*curve))
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot(ep, loss, "o-")
ax[0].set(xlabel="epoch", ylabel="train log loss", title="NCF-MLP training loss")
ax[1].plot(ep, hr, "o-", label="NCF-MLP")
ax[1].axhline(hr_pop, ls="--", c="gray", label="popularity")
ax[1].set(xlabel="epoch", ylabel="HR@10 (1+99)", title="test HR@10 after each epoch")
ax[1].legend()
_course.savefig(fig, "11_ncf_mlp.png")

# %% [markdown]
# ## 5. Top-N (doc 000 §3.1.3)
#
# Recommending = scoring every item for the user and keeping the N best unseen.

# %%
ids, scores = mlp.recommend(train.user_ids[:1], n=5)
print("top-5 for user", train.user_ids[0], "->", ids[0])
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * NCF-MLP = embeddings → concatenation → ReLU tower → sigmoid; all of it is
#   checked against NumPy and by gradcheck.
# * The log loss is computed from the logit (softplus form); its gradient is
#   $\hat y - y$.
# * Implicit feedback needs sampled negatives, re-drawn each epoch.
# * On ML-1M with the paper's protocol see `benchmarks/results/ncf.md` (config
#   `ncf/ncf-mlp`).


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically against minirec (the solutions are in `lessons/solutions/`). Open
# questions to try on the trained model: train with `n_negatives=1` and `8` (HR@10,
# epoch time); use `lr_schedule="none"` with a larger lr; pick the epoch on a
# validation interaction per user instead of the test curve (lesson 12 does this).

# %% [markdown] tags=["exercise"]
# ### Exercise 11.1: the NCF-MLP forward pass
#
# Given the embedding tables `P` (users x d) and `Q` (items x d), the tower's
# weights `Ws[l]` (in x out) and biases `bs[l]`, and the output weights `h` (a
# vector) and bias `b`, return the logits $h^\top z_L + b$ for the pairs `(u, i)`,
# with $z_1 = [p_u; q_i]$ and a ReLU after every tower layer.


# %% tags=["exercise"]
def exercise_11_1(P, Q, Ws, bs, h, b, u, i):
    # your code here
    return np.zeros(len(u))


attempt("11_1", exercise_11_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 11.2: the log loss and its gradient, stable for any logit
#
# Return `(loss, grad)`: the mean binary log loss of logits `z` against labels `y`
# and its gradient with respect to `z`. It must stay finite for logits like ±800
# (use the softplus form of section 2).


# %% tags=["exercise"]
def exercise_11_2(z, y):
    # your code here
    return 0.0, np.zeros_like(z)


attempt("11_2", exercise_11_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 11.3: uniform negative sampling
#
# Draw `n` item indices in `0..n_items-1`, uniformly and with replacement, among
# the items that are **not** in `seen` (an array of item indices), using the
# Generator `rng`.


# %% tags=["exercise"]
def exercise_11_3(n_items, seen, n, rng):
    # your code here
    return np.zeros(n, dtype=np.int64)


attempt("11_3", exercise_11_3)
