# %% [markdown]
# # 08 · BPR and implicit feedback: learning to rank from clicks
#
# **Goal.** With implicit data (a click, a play, a rating *of any value*) there are
# no negative labels, only "seen" and "not seen". Bayesian personalized ranking
# (Rendle et al., UAI 2009) asks the model to rank a seen item above an unseen one
# for the same user. We write the loss and its gradient, check the gradient with
# autograd + finite differences, run one SGD step by hand against minirec's kernel,
# and compare BPR with implicit ALS (lesson 07) and popularity on the NCF-style
# leave-one-out protocol with 99 sampled negatives.
#
# **Covers:** the BPR loss that doc 000 uses for ConvNCF (`000-3.2`, "pairwise
# ranking loss (BPR)") and GRU4Rec (`000-3.3`), here on a plain dot-product model.
# Library: `minirec/models/bpr.py`, kernel `bpr_epoch` in
# `minirec/backends/numpy_ops.py`, `minirec/models/als.py::ImplicitALS`, and
# `minirec/models/ranking_mf.py::RankingMF` (kernels in
# `minirec/backends/numpy_ops/ranking.py`).

# %%
import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.backends import numba_ops, numpy_ops
from minirec.data import leave_last_out, sample_negatives
from minirec.evaluation import evaluate_sampled
from minirec.models.als import ImplicitALS
from minirec.models.baselines import Popularity
from minirec.models.bpr import BPR, sample_triples
from minirec.models.ranking_mf import RankingMF

# %% [markdown]
# ## The loss
#
# Doc 000 §3.2 (`000_b4c4b935d973744a.txt`) trains ConvNCF with a "pairwise ranking
# loss (BPR)"; in Rendle et al.'s form, for a user u, a seen item i and an unseen j,
# $$\hat x_{uij} = \hat x_{ui} - \hat x_{uj},\quad \hat x_{ui} = p_u\cdot q_i + b_i,
# \qquad L = \sum_{(u,i,j)} -\ln\sigma(\hat x_{uij}) + \tfrac{\lambda}{2}(\lVert p_u\rVert^2 +
# \lVert q_i\rVert^2 + \lVert q_j\rVert^2).$$
# Since $\frac{d}{dx}(-\ln\sigma(x)) = -\sigma(-x) =: -g$:
# $\partial L/\partial p_u = -g(q_i - q_j) + \lambda p_u$,
# $\partial L/\partial q_i = -g\,p_u + \lambda q_i$,
# $\partial L/\partial q_j = +g\,p_u + \lambda q_j$.

# %%
rng = np.random.default_rng(0)
k, lam = 4, 0.05
tu, ti, tj = np.array([0, 1, 1]), np.array([0, 2, 1]), np.array([3, 0, 3])
P0, Q0 = rng.normal(0, 0.5, (2, k)), rng.normal(0, 0.5, (4, k))


def bpr_loss(P, Q):
    x = F.sum(F.embedding(P, tu) * (F.embedding(Q, ti) - F.embedding(Q, tj)), axis=1)
    return -F.sum(F.log_sigmoid(x)) + lam / 2 * (F.sum(P * P) + F.sum(Q * Q))


print(gradcheck(bpr_loss, P0, Q0))


def by_hand(P, Q):
    gP, gQ = lam * P, lam * Q
    for u, i, j in zip(tu, ti, tj):
        g = 1 / (1 + np.exp(P[u] @ (Q[i] - Q[j])))  # σ(-x)
        gP[u] += -g * (Q[i] - Q[j])
        gQ[i] += -g * P[u]
        gQ[j] += g * P[u]
    return gP, gQ


Pt, Qt = Tensor(P0, requires_grad=True), Tensor(Q0, requires_grad=True)
bpr_loss(Pt, Qt).backward()
gP, gQ = by_hand(P0, Q0)
np.testing.assert_allclose(Pt.grad, gP, rtol=1e-10)
np.testing.assert_allclose(Qt.grad, gQ, rtol=1e-10)
print("hand-derived BPR gradient == autograd")

# %% [markdown]
# ## One SGD step per triple: hand vs kernel
#
# `bpr_epoch` applies $p_u \mathrel{+}= \eta(g(q_i-q_j) - \lambda p_u)$ etc. for each
# triple in order (the regularisation is applied per triple, as in LearnBPR).

# %%
P1, Q1 = P0.astype(np.float32), Q0.astype(np.float32)
outs = []
for mod in (numpy_ops, numba_ops):
    P, Q, b = P1.copy(), Q1.copy(), np.zeros(4, np.float32)
    mod.bpr_epoch(
        tu.astype(np.int32),
        ti.astype(np.int32),
        tj.astype(np.int32),
        P,
        Q,
        b,
        0.1,
        lam,
        0.0,
    )
    outs.append((P, Q))
P, Q, b = P0.copy(), Q0.copy(), np.zeros(4)
for u, i, j in zip(tu, ti, tj):  # by hand, old values on the right
    g = 1 / (1 + np.exp(P[u] @ (Q[i] - Q[j]) + b[i] - b[j]))
    pu, qi, qj = P[u].copy(), Q[i].copy(), Q[j].copy()
    P[u] += 0.1 * (g * (qi - qj) - lam * pu)
    Q[i] += 0.1 * (g * pu - lam * qi)
    Q[j] += 0.1 * (-g * pu - lam * qj)
    b[i] += 0.1 * g  # item biases, reg_bias = 0 here
    b[j] -= 0.1 * g
for Pk, Qk in outs:
    np.testing.assert_allclose(Pk, P, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Qk, Q, rtol=1e-5, atol=1e-6)
print("hand step == numpy spec == numba kernel")

# %% [markdown]
# ## Sampling and the leave-one-out protocol
#
# Each epoch draws |R| pairs (u, i) from the data and a uniform unseen j per pair
# (`sample_triples`, rejection sampling, seeded outside the kernel). To evaluate, we
# hold out each user's latest interaction and rank it against 99 items the user
# never touched (the NCF protocol of lesson 01; ML-1M's NCF files are used by
# `minirec reproduce ncf`).

# %%
data = _course.load_ratings("ml-100k")
train, test = leave_last_out(data, n=1)
negs = sample_negatives(data, test.users, 99, seed=0)
keys = np.sort(train.users.astype(np.int64) * train.n_items + train.items)
u, i, j = sample_triples(
    np.random.default_rng(0), train.users, train.items, train.n_items, 10_000, keys
)
assert not np.isin(u.astype(np.int64) * train.n_items + j, keys).any()
print("10,000 sampled negatives, none of them seen by its user")

points = list(range(5, 61, 5)) if _course.FULL else [5, 10, 20, 30]
hr = []
for e in points:
    m = BPR(k=64, n_epochs=e).fit(train)
    hr.append(evaluate_sampled(m, test.users, test.items, negs).metrics["HR@10"])
res = {
    "BPR": hr[-1],
    "ImplicitALS": evaluate_sampled(
        ImplicitALS(k=64, n_epochs=10).fit(train), test.users, test.items, negs
    ).metrics["HR@10"],
    "Popularity": evaluate_sampled(
        Popularity().fit(train), test.users, test.items, negs
    ).metrics["HR@10"],
}
print({k_: round(v, 4) for k_, v in res.items()}, "(HR@10, sampled 1+99)")
assert res["BPR"] > 2 * 0.10  # a random ranking has HR@10 = 10/100

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(points, hr, marker="o", label="BPR")
ax.axhline(res["ImplicitALS"], color="C1", ls="--", label="ImplicitALS")
ax.axhline(res["Popularity"], color="gray", ls=":", label="Popularity")
ax.set_xlabel("BPR epochs")
ax.set_ylabel("HR@10 (1 + 99 sampled)")
ax.set_title("BPR on ML-100k leave-one-out vs two baselines")
ax.legend()
_course.savefig(fig, "08_bpr_hr.png")

# %% [markdown]
# ## Pointwise instead of pairwise: logistic MF with sampled negatives
#
# Rendle, Krichene, Zhang and Anderson (RecSys 2020, "Neural Collaborative
# Filtering vs. Matrix Factorization Revisited") show that a plain dot product,
# trained well, matches or beats NCF on these protocols. Their model and loss:
# $$\hat y(u,i) = b + b_u + b_i + p_u\cdot q_i,\qquad
# \ell = -y\ln\sigma(\hat y) - (1-y)\ln(1-\sigma(\hat y)),$$
# with every observed pair a positive ($y=1$) and, in each epoch, 8 items drawn
# uniformly over *all* items per positive as negatives ($y=0$, no check against
# the positives), all rows shuffled, one SGD step per row (batch size 1). With
# $g = y - \sigma(\hat y)$: $p_u \mathrel{+}= \eta(g\,q_i - \lambda p_u)$,
# $q_i \mathrel{+}= \eta(g\,p_u - \lambda q_i)$, and $b_u, b_i, b$ likewise with
# gradient 1. Unlike BPR, the loss is per row, not per pair, and the user and
# global biases absorb the base rate of positives (1 in 9).
#
# One step by hand against the NumPy spec and the Numba twin of
# `sgd_logistic_mf_epoch`, on one positive row (u=1, i=2, y=1); the model feeds it
# the shuffled positive and negative rows of an epoch the same way.

# %%
Pr, Qr = P0.astype(np.float32), Q0.astype(np.float32)
row = (np.array([1], np.int32), np.array([2], np.int32), np.ones(1, np.float32))
lr_, reg_ = 0.1, 0.01
outs = []
for fn in (
    numpy_ops.sgd_logistic_mf_epoch,
    numba_ops.sgd_logistic_mf_epoch,
):
    st = (Pr.copy(), Qr.copy(), np.zeros(2, np.float32), np.zeros(4, np.float32))
    st += (np.zeros(1, np.float32),)
    fn(*row, np.array([0]), *st, lr_, reg_)  # order = [0]: visit row 0
    outs.append(st)
P, Q = P0.copy(), Q0.copy()
g = 1 - 1 / (1 + np.exp(-P[1] @ Q[2]))  # y − σ(ŷ), all biases 0 before the step
pu = P[1].copy()
P[1] += lr_ * (g * Q[2] - reg_ * P[1])
Q[2] += lr_ * (g * pu - reg_ * Q[2])
for st in outs:
    np.testing.assert_allclose(st[0], P, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(st[1], Q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(st[4], [lr_ * g], rtol=1e-5)  # b after one step
print("hand step == numpy spec == numba kernel (logistic MF)")

# %% [markdown]
# The paper's ML-1M settings are η = 0.002, λ = 0.005, 8 negatives, 256 epochs
# (`FULL=1` runs them here); the quick mode takes a 10x larger η and 20 epochs.
# Tuned on the NCF ML-1M files, see `benchmarks/results/ncf.md` (config `ncf/ranking-mf`).

# %%
if _course.FULL:
    rmf = RankingMF(k=64, lr=0.002, reg=0.005, n_epochs=256)
else:
    rmf = RankingMF(k=64, lr=0.02, reg=0.005, n_epochs=20)
rmf.fit(train)
res["RankingMF"] = evaluate_sampled(rmf, test.users, test.items, negs).metrics["HR@10"]
print({k_: round(v, 4) for k_, v in res.items()}, "(HR@10, sampled 1+99)")
assert res["RankingMF"] > 2 * 0.10
if _course.has("ml-100k"):  # the synthetic fallback's structure is too weak
    assert res["RankingMF"] > res["Popularity"]

# %% [markdown]
# ## Summary
#
# * BPR turns "seen vs unseen" into pairwise comparisons and maximises
#   $\ln\sigma(\hat x_{ui} - \hat x_{uj})$; its gradient weight $g = \sigma(-x)$
#   fades once a pair is ranked correctly.
# * Negatives are sampled outside the kernel, so backends see identical triples.
# * The pointwise alternative (RankingMF: logistic loss, uniform negatives, user
#   and global biases, Rendle et al. 2020) trains the same dot product and is the
#   strongest dot-product model on the NCF files in this library.
# * On ML-100k leave-one-out with sampled negatives both factor models beat
#   popularity by a wide margin (on the small synthetic fallback data they do not:
#   its planted structure is weak at that density); the tuned numbers on the NCF
#   ML-1M files are in `benchmarks/results/ncf.md`.

# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically against minirec (the solutions are in `lessons/solutions/`). Open
# questions: sample negatives proportionally to popularity
# (`sample_negatives(alpha=1)`) for training (does HR@10 move?); drop the item bias
# (`item_bias=False`); evaluate with full ranking (`evaluate_full`) and compare the
# gap between BPR and popularity with the sampled protocol; train RankingMF with 1,
# 4 and 16 negatives per positive (`n_negatives`): what happens to HR@10 and to the
# time per epoch?

# %% [markdown] tags=["exercise"]
# ### Exercise 08.1: one BPR step
#
# For the triple (user `u`, positive `i`, negative `j`), apply one SGD step of BPR
# with item biases to `P`, `Q`, `bi` (learning rate `lr`, `reg` on factors,
# `reg_bias` on biases, every update with the values from before the step) and
# return `(P, Q, bi)`.


# %% tags=["exercise"]
def exercise_08_1(P, Q, bi, u, i, j, lr, reg, reg_bias):
    # your code here
    return P, Q, bi


attempt("08_1", exercise_08_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 08.2: HR@k under the sampled protocol
#
# `pos[u]` is the score of user u's held-out item and `neg[u]` the scores of its
# sampled negatives. Return HR@k, with ties counted against the positive.


# %% tags=["exercise"]
def exercise_08_2(pos, neg, k):
    # your code here
    return float(np.mean((neg > pos[:, None]).sum(axis=1) < k))


attempt("08_2", exercise_08_2)
