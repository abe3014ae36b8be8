# %% [markdown]
# # 12 · GMF, NeuMF with pre-training, doc 001's "neural MF" and doc 003's deep ALS
#
# **Goal.** Build NCF's other two models — GMF (a learned weighting of the
# element-wise product $p_u \odot q_i$) and NeuMF (GMF and MLP fused under one output
# layer, started from the two trained models) — then sort out two "neural MF"s of
# the documents: doc 001 writes $\hat r_{ui} = \phi(p_u^\top q_i)$ but codes an MLP on
# $[p_u; q_i]$ (erratum **E2**), and doc 003's "deep-learning ALS" is exactly MF with
# P and Q as embedding layers.
#
# **Covers:** `002-3.1` (doc 002 §3.1 NCF and NeuMF, steps 1–4), `001-3.1` with
# erratum **E2** (doc 001 §3.1), `003-mlp` (doc 003 "ALS的深度学习版本", *the
# deep-learning version of ALS*),
# `002-4.2-code` (doc 002 §4.2, the PyTorch NCF code). Library:
# `minirec/models/ncf.py` (`GMF`, `NeuMF`), `minirec/models/rating_nets.py`
# (`PhiMF`, `RatingMLP`, `DeepALS`).
#
# Doc 002 §3.1 (`002_d2c789357b2f7be6.txt`):
#
# > NeuMF在NCF的基础上,引入了基于功能交叉的二阶部分 … 1) 输入用户ID和商品ID,从embedding层
# > 获取对应的嵌入向量 2) 通过MLP和二阶交互部分对嵌入向量进行变换 3) 将MLP和二阶部分的
# > 输出进行融合 4) 输出用户对该商品的兴趣分数
#
# > *English:* on top of NCF, NeuMF adds a second-order part based on feature
# > crossing … 1) take the user ID and item ID and look up their embedding vectors
# > in the embedding layer 2) transform the embeddings with the MLP and with the
# > second-order interaction part 3) fuse the outputs of the MLP and the
# > second-order part 4) output the user's interest score for the item
#
# In the NCF paper's terms: $\hat y = \sigma\big(h^\top[p^G_u \odot q^G_i;\;
# \mathrm{MLP}(p^M_u, q^M_i)]\big)$, and with pre-training
# $h \leftarrow [\alpha h^{GMF}; (1-\alpha) h^{MLP}]$, $\alpha = 0.5$.
#
# Doc 001 §3.1 (`001_9e0c25cd5ecd127f.txt`):
# $\hat{r}_{ui} = \phi(p_u^Tq_i)$,
# $\min_{P,Q}\sum_{(u,i)\in\kappa}(r_{ui} - \phi(p_u^Tq_i))^2 + \lambda(\|P\|^2 + \|Q\|^2)$
# — and its code: `x = tf.concat([u_emb, i_emb], axis=1)` → Dense(20, relu) →
# Dense(10, relu) → Dense(1), MSE, Adam.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.data import random_split, sample_negatives
from minirec.data.ncf import ncf_protocol
from minirec.evaluation import evaluate_ratings, evaluate_sampled
from minirec.models._train import gradcheck_module
from minirec.models.mf import MF
from minirec.models.ncf import GMF, NCFMLP, NeuMF
from minirec.models.rating_nets import DeepALS, PhiMF, RatingMLP
from minirec.nn import losses

T0 = time.perf_counter()

# %% [markdown]
# ## 1. GMF and NeuMF assembled from `minirec.nn`, checked against NumPy
#
# GMF is two `Embedding` tables and a `Linear` output on $p_u \odot q_i$; NeuMF
# puts a GMF branch and an MLP branch (lesson 11's network) side by side, each
# with its own embeddings, and one `Linear` output on both feature vectors. Each
# branch keeps its own output layer `h`: those are the pre-trained models whose
# output weights NeuMF's start fuses (section 2).


# %%
class GMFNet(nn.Module):
    def __init__(self, n_users, n_items, k, rng=0, std=0.01):
        self.P = nn.Embedding(n_users, k, std=std, rng=rng)
        self.Q = nn.Embedding(n_items, k, std=std, rng=rng)
        self.h = nn.Linear(k, 1, rng=rng)

    def features(self, u, i):
        return self.P(u) * self.Q(i)

    def forward(self, u, i):
        return F.reshape(self.h(self.features(u, i)), (-1,))


class MLPNet(nn.Module):
    def __init__(self, n_users, n_items, layers, rng=0, std=0.01):
        self.P = nn.Embedding(n_users, layers[0] // 2, std=std, rng=rng)
        self.Q = nn.Embedding(n_items, layers[0] // 2, std=std, rng=rng)
        self.tower = nn.MLP(list(layers), rng=rng)
        self.h = nn.Linear(layers[-1], 1, rng=rng)

    def features(self, u, i):
        return self.tower(F.concat([self.P(u), self.Q(i)], axis=-1))


class NeuMFNet(nn.Module):
    def __init__(self, n_users, n_items, k, layers, rng=0):
        self.gmf = GMFNet(n_users, n_items, k, rng=rng)
        self.mlp = MLPNet(n_users, n_items, layers, rng=rng)
        self.h = nn.Linear(k + layers[-1], 1, rng=rng)

    def forward(self, u, i):
        z = F.concat([self.gmf.features(u, i), self.mlp.features(u, i)], axis=-1)
        return F.reshape(self.h(z), (-1,))


net = GMFNet(5, 6, 3, rng=0, std=0.5)
u, i = np.array([0, 1, 2, 4]), np.array([1, 2, 5, 0])
y = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)
z_np = (net.P.W.data[u] * net.Q.W.data[i]) @ net.h.W.data[:, 0] + net.h.b.data[0]
np.testing.assert_allclose(net(u, i).numpy(), z_np, rtol=1e-5, atol=1e-7)
# with h = 1 and b = 0, GMF is plain MF: z = p_u . q_i
net.h.W.data[:] = 1.0
net.h.b.data[:] = 0.0
np.testing.assert_allclose(
    net(u, i).numpy(), (net.P.W.data[u] * net.Q.W.data[i]).sum(1), rtol=1e-5
)
neu = NeuMFNet(5, 6, 2, [4, 2], rng=1)
assert gradcheck_module(neu, lambda: losses.bce_with_logits(neu(u, i), y)).ok
print("GMF forward and NeuMF log-loss gradient check out")

# %% [markdown]
# ## 2. GMF, MLP, NeuMF with pre-training on the NCF protocol
#
# Leave-one-out by timestamp, 1 + 99 sampled, HR@10. Quick mode uses the 300 most
# active ML-100k users; the ML-1M numbers are in `benchmarks/results/ncf.md`
# (`minirec reproduce ncf --only gmf`, `ncf-mlp`, `neumf`).
# 16 predictive factors: GMF k = 16; the MLP has the paper's three hidden layers
# 64 → 32 → 16 on embeddings of 32 (§4.1), `layers=(64, 64, 32, 16)`.
#
# The epoch is chosen **without the test set**, as the paper's §4.1 tunes: one
# training interaction per user is held out with 99 sampled items as validation,
# `fit(..., valid=...)` measures HR@10 on it after every epoch, keeps the best
# epoch's weights (`best_epoch_`) and stops after `patience` epochs without gain.

# %%
data = _course.load_ratings("ml-100k")
if not _course.FULL:
    top = np.argsort(-data.user_counts())[:300]
    data = data.subset(np.flatnonzero(np.isin(data.users, top)))
train, tu, ti, negs = ncf_protocol(data, regenerate=True, seed=0)
R = train.by_user  # one random training interaction per user -> validation
has = np.flatnonzero(R.lengths() > 1)  # (quick mode keeps 300 of the users)
off = np.random.default_rng(1).random(len(has)) * R.lengths()[has]
pick = R.rows[R.indptr[has] + off.astype(np.int64)]
fit_on = train.subset(np.setdiff1d(np.arange(len(train)), pick))
valid = (train.users[pick], train.items[pick])
valid += (sample_negatives(data, valid[0], 99, seed=1),)
ep = 20 if _course.FULL else 4
kw = dict(batch_size=512, lr=0.003, n_epochs=ep)
gmf = GMF(k=16, **kw).fit(fit_on, valid=valid)
mlp = NCFMLP(layers=(64, 64, 32, 16), **kw).fit(fit_on, valid=valid)
neumf = NeuMF(k=16, layers=(64, 64, 32, 16), optimizer="sgd", lr=0.05, n_epochs=2,
              batch_size=512, gmf=gmf, mlp=mlp).fit(fit_on, valid=valid)  # fmt: skip
# the library's GMF and NeuMF run the networks of section 1: our modules with the
# trained weights copied in (same parameter names) give the same scores
pu = np.random.default_rng(2).integers(0, train.n_users, 500)
pi = np.random.default_rng(3).integers(0, train.n_items, 500)
for ours, lib, sizes in [
    (GMFNet(train.n_users, train.n_items, 16), gmf, "GMF k=16"),
    (NeuMFNet(train.n_users, train.n_items, 16, [64, 64, 32, 16]), neumf, "NeuMF"),
]:
    ours.load_state_dict(lib.net_.state_dict())
    np.testing.assert_allclose(
        ours(pu, pi).numpy(), lib.predict_pairs(pu, pi), rtol=1e-5, atol=1e-5
    )
    print(f"{sizes}: the library's trained scores == our network's (500 pairs)")
hr = {
    name: evaluate_sampled(m, tu, ti, negs).metrics["HR@10"]
    for name, m in [("GMF", gmf), ("MLP", mlp), ("NeuMF (pre-trained)", neumf)]
}
print({k: round(v, 3) for k, v in hr.items()})
print("epochs kept (best on validation):",
      {"GMF": gmf.best_epoch_, "MLP": mlp.best_epoch_, "NeuMF": neumf.best_epoch_})  # fmt: skip
# the fused start is α z_GMF + (1 − α) z_MLP (a test checks it exactly); with
# `valid` it competes as epoch 0, and NeuMF's best_epoch_ == 0 means no fine-tuned
# epoch beat it (the case in the ML-1M rows of benchmarks/results/ncf.md). α is a
# hyperparameter like any other: `NeuMF(alpha="valid")` picks it on the validation
# cases (on ML-1M: 0.6 for the best GMF and MLP, config `ncf/neumf`); the paper
# fixes 0.5 (config `ncf/neumf-alpha05`).

# %% [markdown]
# ## 3. Erratum E2: φ(p·q) is not an MLP on [p; q]
#
# $\phi(p_u^\top q_i)$ sees one number per pair: any φ is a function of the dot
# product, so two pairs with equal dot products get equal predictions. The code's
# MLP on the concatenation sees all 2k numbers (that is NCF-MLP on ratings). We
# build both and compare on a 90/10 rating split.

# %%
rtrain, rtest = random_split(data, 0.1, seed=0)
n = 20 if _course.FULL else 5
phi = PhiMF(k=16, n_epochs=n, batch_size=256).fit(rtrain)
cat = RatingMLP(k=16, n_epochs=n, batch_size=256).fit(rtrain)
rm = {
    "PhiMF  φ(p·q)": evaluate_ratings(phi, rtest).metrics["RMSE"],
    "RatingMLP [p;q]": evaluate_ratings(cat, rtest).metrics["RMSE"],
}
print({k: round(v, 4) for k, v in rm.items()})
# Equal dot products give equal φ predictions; the concat MLP tells them apart.
# Move q_i along a direction v ⟂ p_u: p_u·(q_i + v) = p_u·q_i.
rng = np.random.default_rng(0)


def orth(p):
    v = rng.normal(size=p.shape).astype(np.float32)
    return v - (v @ p) / (p @ p) * p


pu, qi = phi.net_.P.W.data[0], phi.net_.Q.W.data[0]
v = orth(pu)


def phi_pred(q):
    return phi.net_.phi(Tensor(np.array([[pu @ q]], np.float32))).item()


pc, qc = cat.net_.P.W.data[0], cat.net_.Q.W.data[0]
vc = orth(pc)


def cat_pred(q):
    x = np.concatenate([pc, q])[None].astype(np.float32)
    return cat.net_.tower(Tensor(x)).item()


print(f"φ model:   {phi_pred(qi):.4f} vs {phi_pred(qi + v):.4f} (same p·q)")
print(f"concat MLP: {cat_pred(qc):.4f} vs {cat_pred(qc + vc):.4f} (same p·q)")
assert abs(phi_pred(qi) - phi_pred(qi + v)) < 1e-4
assert abs(cat_pred(qc) - cat_pred(qc + vc)) > 1e-4

# %% [markdown]
# ## 4. Doc 003: "the deep-learning version of ALS" is MF
#
# > P 矩阵等效于随机初始化一个User Embedding层，而 Q 矩阵等效于随机初始化一个Item Embedding层。
#
# > *English:* the matrix P is equivalent to a randomly initialized User Embedding
# > layer, and the matrix Q to a randomly initialized Item Embedding layer.
#
# (doc 003, `003_4bb2a43235ff549f.txt`, "ALS的深度学习版本")
#
# (and it is trained by SGD, not ALS: erratum E5, lesson 07). With batch size 1 and
# SGD, autograd on two embedding layers performs *exactly* the updates of the MF
# kernel:

# %%
kw = dict(k=8, lr=0.01, reg=0.05, reg_bias=0.02, n_epochs=1, seed=0,
          init_std=0.05, lr_decay=0.9)  # fmt: skip
small = rtrain.subset(np.arange(1500))
mf = MF(backend="numpy", **kw).fit(small)
deep = DeepALS(batch_size=1, optimizer="sgd", **kw).fit(small)
np.testing.assert_allclose(deep.P_, mf.P_, atol=1e-5)
np.testing.assert_allclose(deep.Q_, mf.Q_, atol=1e-5)
print("DeepALS == MF: max |ΔP| =", float(np.abs(deep.P_ - mf.P_).max()))

# %% [markdown]
# ## 5. Doc 002 §4.2's PyTorch NCF
#
# The printed code (cut off) has `nn.Embedding(num_users, 16)` and
# `nn.Linear(embedding_dim * 2, 64)`: a tower that *widens* 32 → 64, unlike the NCF
# paper's halving tower. In minirec that is `NCFMLP(layers=(32, 64, ...))`; we finish
# it as 32 → 64 → 32 → 16 → output.

# %%
doc_ncf = NCFMLP(layers=(32, 64, 32, 16), batch_size=512, lr=0.003, n_epochs=ep)
doc_ncf.fit(fit_on, valid=valid)
hr["doc 002 NCF (16-d, 32-64-32-16)"] = evaluate_sampled(doc_ncf, tu, ti, negs).metrics[
    "HR@10"
]

fig, ax = plt.subplots(1, 2, figsize=(12, 3))
ax[0].barh(list(hr), list(hr.values()))
ax[0].set(xlabel="HR@10 (1+99)", title="ranking (NCF protocol)",
          xlim=(max(0.0, min(hr.values()) - 0.1), max(hr.values()) + 0.03))  # fmt: skip
ax[1].barh(list(rm), list(rm.values()))
ax[1].set(xlabel="test RMSE (lower is better)", title="E2: rating prediction",
          xlim=(0.8, max(rm.values()) + 0.05))  # fmt: skip
fig.tight_layout()
_course.savefig(fig, "12_gmf_neumf.png")
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * GMF generalizes MF (h = 1 gives the dot product); NeuMF concatenates the GMF and
#   MLP features and is started from both trained models.
# * E2: doc 001's formula φ(p·q) and its code (MLP on [p; q]) are different models;
#   the code is NCF-MLP on ratings.
# * Doc 003's deep ALS is MF trained by autograd — identical updates, checked.


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: give PhiMF a wider φ — can it
# beat a plain dot product with biases? Train DeepALS with `batch_size=256,
# optimizer="adam"`: RMSE vs MF? Fit GMF for 20 epochs without `valid` and log the
# test HR@10 per epoch: how far is the last epoch from the best?

# %% [markdown] tags=["exercise"]
# ### Exercise 12.1: the GMF logit
#
# Return $h^\top(p_u \odot q_i) + b$ for the pairs `(u, i)`, given the tables `P`,
# `Q`, the output weights `h` (a vector of size k) and the bias `b`.


# %% tags=["exercise"]
def exercise_12_1(P, Q, h, b, u, i):
    # your code here
    return np.zeros(len(u))


attempt("12_1", exercise_12_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 12.2: NeuMF's output layer from the two pre-trained ones
#
# GMF scores with $h_G^\top x_G + b_G$, the MLP with $h_M^\top x_M + b_M$. Return
# the fused `(h, b)` for the concatenated features $[x_G; x_M]$ such that the fused
# logit is exactly $\alpha z_{GMF} + (1 - \alpha) z_{MLP}$. (With `alpha=1.0`,
# which model do you start from?)


# %% tags=["exercise"]
def exercise_12_2(h_gmf, b_gmf, h_mlp, b_mlp, alpha):
    # your code here
    return np.concatenate([h_gmf, h_mlp]), b_gmf + b_mlp


attempt("12_2", exercise_12_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 12.3: a pair φ(p·q) cannot tell apart (E2)
#
# Return a vector `q2` with $p^\top q_2 = p^\top q$ that is at distance at least 1
# from `q` (so an MLP on $[p; q]$ would see a different input, φ the same one).


# %% tags=["exercise"]
def exercise_12_3(p, q, rng):
    # your code here
    return q.copy()


attempt("12_3", exercise_12_3)
