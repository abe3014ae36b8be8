# %% [markdown]
# # 15 · AutoRec: an autoencoder that fills in a rating matrix
#
# **Goal.** Doc 001 §3.2 announces "autoencoder-based recommendation" and then
# elides it. The model it points to is AutoRec (Sedhain et al., WWW 2015): feed an
# item's column of ratings through a bottleneck and reconstruct it, counting the
# error only on observed ratings. We write it in NumPy, check it against minirec,
# gradcheck the masked loss, and train I-AutoRec.
#
# **Covers:** `001-3.2` (doc 001 §3.2 基于自编码器的推荐算法, *autoencoder-based
# recommendation*). Library:
# `minirec/models/autorec.py`.
#
# Doc 001 (`001_9e0c25cd5ecd127f.txt`) §3.2 in full:
#
# > ### 3.2 基于自编码器的推荐算法
# > ...
# > (此处省略,完整篇幅过长,仅给出一个算法示例)
#
# > *English:* 3.2 Autoencoder-based recommendation algorithms … (omitted here: the
# > full text is too long; only one example algorithm is given)
#
# AutoRec (paper eq. 2–3), item-based: for item i with rating vector
# $r_i \in \mathbb{R}^m$ (0 where unobserved),
# $$h(r_i) = W\,g(V r_i + \mu) + b,\qquad g = \text{sigmoid}$$
# $$\min_\theta \sum_i \|(r_i - h(r_i)) \odot O_i\|^2 + \frac{\lambda}{2}(\|W\|_F^2 + \|V\|_F^2)$$
# with $O_i$ the mask of observed ratings; $\hat r_{ui} = h(r_i)_u$.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.data import random_split
from minirec.evaluation import evaluate_ratings
from minirec.models import BiasedBaseline
from minirec.models._train import gradcheck_module
from minirec.models.autorec import AutoRec, autorec_loss, full_objective

T0 = time.perf_counter()
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The network from `minirec.nn` parts; the forward pass and masked loss in NumPy
#
# I-AutoRec is a `Linear` encoder (V, μ), a `Sigmoid` and a `Linear` decoder (W, b),
# applied to item rows. Section 4 shows that the library's `AutoRec` runs exactly
# this network.


# %%
class AutoRecNet(nn.Module):
    """h(r) = sigmoid(r V + mu) W + b on a batch of item rows r (B, m)."""

    def __init__(self, n_users, k, rng=0):
        self.encoder = nn.Linear(n_users, k, rng=rng)  # V, mu
        self.decoder = nn.Linear(k, n_users, rng=rng)  # W, b

    def forward(self, r):
        return self.decoder(F.sigmoid(self.encoder(r)))


m_users, hidden = 7, 3
M = (rng.random((4, m_users)) < 0.5).astype(np.float64)  # 4 items
M[:, 2] = 0.0  # user 2 rated none of them
R = np.round(rng.uniform(1, 5, M.shape)) * M
net = AutoRecNet(m_users, hidden, rng=0)
V, mu = net.encoder.W.data, net.encoder.b.data  # (m, k): row-vector convention
W, b = net.decoder.W.data, net.decoder.b.data
h = (1 / (1 + np.exp(-(R @ V + mu)))) @ W + b
np.testing.assert_allclose(net(Tensor(R)).numpy(), h, rtol=1e-5)
lam = 0.5
L_np = (((R - h) * M) ** 2).sum() + lam / 2 * ((W**2).sum() + (V**2).sum())
assert abs(autorec_loss(net, R, M, lam).item() * len(R) - L_np) < 1e-3 * L_np
res = gradcheck_module(net, lambda: autorec_loss(net, R, M, lam))
assert res.ok
print("forward, masked loss and its gradient check out:", res)

# %% [markdown]
# ## 2. Only observed ratings teach
#
# Changing a reconstruction where $O_{iu} = 0$ does not change the loss: the
# gradient of the library's loss (`autorec_loss`, which applies the mask itself)
# on the output bias of a user with no rating in the batch is exactly zero, and
# nonzero for the users with ratings.

# %%
net.zero_grad()
autorec_loss(net, R, M, lam).backward()
unobserved_users = np.flatnonzero(M.sum(axis=0) == 0)
observed_users = np.flatnonzero(M.sum(axis=0) > 0)
print("users with no rating in this batch:", unobserved_users,
      "-> output-bias gradient", net.decoder.b.grad[unobserved_users])  # fmt: skip
assert np.all(net.decoder.b.grad[unobserved_users] == 0)
assert np.all(net.decoder.b.grad[observed_users] != 0)

# %% [markdown]
# ## 3. The penalty counts once per pass over the data
#
# The paper's $L$ has one penalty next to the *sum* of the squared errors over all
# items. A mini-batch of $B$ of the $n$ items carries its share $B/n$ of it, so the
# batches of one pass add up to $L$ exactly; adding the whole $\frac{\lambda}{2}
# \|\cdot\|^2$ to every batch would multiply λ by the number of batches. (The
# authors' code halves the squared error, $\frac12\sum e^2 + \frac{\lambda}{2}
# \|\cdot\|^2$: its λ is half of this one.)

# %%
n_items = 11
M2 = (rng.random((n_items, m_users)) < 0.5).astype(np.float64)
R2 = np.round(rng.uniform(1, 5, M2.shape)) * M2
h2 = (1 / (1 + np.exp(-(R2 @ V + mu)))) @ W + b
L_paper = (((R2 - h2) * M2) ** 2).sum() + lam / 2 * ((W**2).sum() + (V**2).sum())
batches = [slice(0, 4), slice(4, 8), slice(8, 11)]
L_batches = sum(
    (s.stop - s.start)
    * autorec_loss(net, R2[s], M2[s], lam, (s.stop - s.start) / n_items).item()
    for s in batches
)
net.zero_grad()
L_full = full_objective(net, R2, M2, lam)
print(
    f"L = {L_paper:.4f}, sum over batches {L_batches:.4f}, full_objective {L_full:.4f}"
)
assert abs(L_batches - L_paper) < 1e-4 * L_paper
assert abs(L_full - L_paper) < 1e-4 * L_paper

# %% [markdown]
# ## 4. Train I-AutoRec: 90/10 random split, early stopping, RMSE
#
# The defaults follow the paper: 500 sigmoid units, full-batch L-BFGS on $L$.
# 5% of the training ratings are held out (of the inputs and the targets); their
# RMSE after every L-BFGS iteration picks the weights kept. The test RMSE per
# iteration is drawn for the picture only: it selects nothing.

# %%
data = _course.load_ratings("ml-100k")
train, test = random_split(data, 0.1, seed=0)
curve = []


def log(model, epoch, rec):
    curve.append((rec["valid_rmse"], evaluate_ratings(model, test).metrics["RMSE"]))


ae = AutoRec() if _course.FULL else AutoRec(k=200, n_epochs=40)
ae.fit(train, on_epoch=log)
rmse = evaluate_ratings(ae, test).metrics["RMSE"]
base = evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]
print(ae)
print(
    f"test RMSE: I-AutoRec {rmse:.4f} (weights of iteration {ae.best_epoch_} of "
    f"{len(ae.history_)}), baseline μ+b_u+b_i {base:.4f}"
)
assert np.isclose(rmse, curve[ae.best_epoch_ - 1][1], atol=1e-6)

# the library's network is the one of section 1: ours with the trained weights
# (same parameter names) reconstructs item rows exactly as the library's does
ours = AutoRecNet(train.n_users, ae.k)
ours.load_state_dict(ae.net_.state_dict())
R_items = train.to_dense().T[:200].astype(np.float32)  # 200 item rows (items x users)
np.testing.assert_allclose(
    ours(Tensor(R_items)).numpy(),
    ae.net_(Tensor(R_items)).numpy(),
    rtol=1e-5,
    atol=1e-5,
)
print("AutoRec's trained network == our AutoRecNet with its weights (200 item rows)")

fig, ax = plt.subplots(figsize=(5, 3))
it = range(1, len(curve) + 1)
ax.plot(it, [c[0] for c in curve], label="validation (5% of train)")
ax.plot(it, [c[1] for c in curve], label="test")
ax.axvline(ae.best_epoch_, ls=":", c="k", label="weights kept")
ax.axhline(base, ls="--", c="gray", label="μ + b_u + b_i")
ax.set(xlabel="L-BFGS iteration", ylabel="RMSE", ylim=(0.85, 1.1),
       title="I-AutoRec: RMSE after each iteration")  # fmt: skip
ax.legend()
_course.savefig(fig, "15_autorec.png")
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * I-AutoRec reconstructs each item's rating column through a sigmoid bottleneck;
#   unobserved entries are inputs of 0 and carry no error.
# * λ belongs to the *sum* over all ratings: a mini-batch carries its share B/n of
#   the penalty, never the whole of it.
# * The net has ~2·500·m weights for n item rows: it overfits once the penalty stops
#   holding it; a held-out part of the training ratings says when, and the best
#   iteration's weights are kept.
# * ML-1M 90/10 (the paper's protocol) is in `benchmarks/results/rating.md`
#   (`minirec reproduce rating --only ml1m-autorec`).


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: build U-AutoRec (users as
# rows: transpose R) — the paper finds it worse; do you? Try `reg` in
# {10, 100, 400, 1000}; train with `optimizer="adam"` and compare with L-BFGS.

# %% [markdown] tags=["exercise"]
# ### Exercise 15.1: the AutoRec objective
#
# Item rows `R` (n x m, 0 where unobserved), the mask `M`, encoder `V` (m x k),
# `mu` (k,), decoder `W` (k x m), `b` (m,): return
# $L = \sum_i \|(r_i - h(r_i)) \odot O_i\|^2 + \frac{\lambda}{2}(\|W\|_F^2 +
# \|V\|_F^2)$ with $h(r) = \sigma(r V + \mu) W + b$ (row-vector convention).


# %% tags=["exercise"]
def exercise_15_1(R, M, V, mu, W, b, lam):
    # your code here
    return 0.0


attempt("15_1", exercise_15_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 15.2: the gradient on the output bias
#
# Return $\partial L / \partial b$ (m,) for the same $L$ (the penalty does not
# involve b). A user with no rating among the rows must get exactly 0.


# %% tags=["exercise"]
def exercise_15_2(R, M, V, mu, W, b, lam):
    # your code here
    return np.zeros_like(b)


attempt("15_2", exercise_15_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 15.3: predictions clipped to the rating scale
#
# The identity output can predict 6.3 or -0.4. Return the predictions of `H`
# (any shape) mapped through $1 + 4\sigma(h - 3)$, which stays inside (1, 5) and
# passes through 3 at $h = 3$, and its derivative with respect to h.


# %% tags=["exercise"]
def exercise_15_3(H):
    # your code here
    return np.clip(H, 1, 5), np.ones_like(H)


attempt("15_3", exercise_15_3)
