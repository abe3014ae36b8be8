# %% [markdown]
# # 14 · ConvNCF: a CNN over the outer product of two embeddings, with BPR
#
# **Goal.** Build ConvNCF (He et al., IJCAI 2018): the interaction *map*
# $E = p_u q_i^\top$ (k × k), a tower of 2×2 / stride-2 convolutions that halves it
# layer by layer, max pooling and a fully connected output, trained with the
# pairwise BPR loss, Adam, L2 and dropout. We check the convolution against a
# direct NumPy loop, gradcheck the BPR loss, and train it on a small slice.
#
# **Covers:** `000-3.2` (doc 000 §3.2 "CNN based NCF": 3.2.1.1 the interaction of
# the user and item embeddings, 3.2.1.2 the CNN, 3.2.1.3 max pooling + FC, 3.2.2.1
# pairwise ranking loss, 3.2.2.2 Adam, 3.2.2.3 L2 and dropout, 3.2.3 Top-N).
# Library: `minirec/models/convncf.py`.
#
# Doc 000 (`000_b4c4b935d973744a.txt`) §3.2 is an outline:
#
# > 3.2.1.1 用户embedding与物品embedding的交互 · 3.2.1.2 卷积神经网络的设计 ·
# > 3.2.1.3 最大池化层与全连接层 · 3.2.2.1 Pairwise ranking loss的设计 ·
# > 3.2.2.2 Adam优化算法 · 3.2.2.3 L2正则化与Dropout
#
# > *English:* 3.2.1.1 the interaction of the user and item embeddings · 3.2.1.2
# > designing the convolutional network · 3.2.1.3 max pooling and the fully
# > connected layer · 3.2.2.1 designing the pairwise ranking loss · 3.2.2.2 the Adam
# > optimizer · 3.2.2.3 L2 regularization and dropout
#
# Filled in from the paper: $E = p_u \otimes q_i$;
# $E^{(l+1)} = \mathrm{ReLU}(\mathrm{conv}_{2\times2,s=2}(E^{(l)}))$;
# $\hat y_{ui} = w^\top \mathrm{maxpool}(E^{(L)}) + b$;
# $L = -\sum \log\sigma(\hat y_{ui} - \hat y_{uj}) + \lambda\|\Theta\|^2$.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import ops as F
from minirec.data.ncf import ncf_protocol
from minirec.evaluation import evaluate_sampled
from minirec.models._train import gradcheck_module
from minirec.models.bpr import BPR
from minirec.models.convncf import ConvNCF
from minirec.nn import losses

T0 = time.perf_counter()

# %% [markdown]
# ## 1. The network from `minirec.nn` parts, and one convolution in NumPy
#
# Two `Embedding` tables, the outer product as a one-channel k × k image,
# `Conv2d(kernel=2, stride=2)` layers with ReLU down to 2 × 2, `MaxPool2d(2)` and a
# `Linear` output. Section 3 shows that the library's `ConvNCF` computes the same
# scores.


# %%
class ConvNCFNet(nn.Module):
    def __init__(self, n_users, n_items, k, channels, rng=0):
        self.P = nn.Embedding(n_users, k, std=0.1, rng=rng)
        self.Q = nn.Embedding(n_items, k, std=0.1, rng=rng)
        n_conv = int(np.log2(k)) - 1  # k x k -> 2 x 2
        self.convs = [
            nn.Conv2d(1 if layer == 0 else channels, channels, 2, stride=2, rng=rng)
            for layer in range(n_conv)
        ]
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(channels, 1, rng=rng)

    def interaction_map(self, u, i):  # E = p_u q_iᵀ as (B, 1, k, k)
        E = F.outer(self.P(u), self.Q(i))
        return F.reshape(E, (E.shape[0], 1, *E.shape[1:]))

    def forward(self, u, i):
        x = self.interaction_map(u, i)
        for conv in self.convs:
            x = F.relu(conv(x))
        g = F.reshape(self.pool(x), (x.shape[0], -1))  # (B, channels)
        return F.reshape(self.fc(g), (-1,))


net = ConvNCFNet(n_users=4, n_items=5, k=8, channels=3, rng=0)
u, i = np.array([1, 2]), np.array([3, 0])
E = net.P.W.data[u][:, :, None] * net.Q.W.data[i][:, None, :]  # p_u q_iᵀ
np.testing.assert_allclose(net.interaction_map(u, i).numpy()[:, 0], E, rtol=1e-6)

conv = net.convs[0]
Wc = conv.W.data  # (C_out, C_in, 2, 2)
out = np.zeros((2, 3, 4, 4))
for n in range(2):
    for a in range(4):
        for b in range(4):
            patch = E[n, 2 * a : 2 * a + 2, 2 * b : 2 * b + 2]
            out[n, :, a, b] = (Wc[:, 0] * patch).sum(axis=(1, 2)) + conv.b.data
got = conv(net.interaction_map(u, i)).numpy()
np.testing.assert_allclose(got, out, rtol=1e-4, atol=1e-6)
print("map 8x8 -> conv 2x2/2 -> 4x4 x 3 channels: matches the NumPy loop")

# %% [markdown]
# ## 2. BPR loss and its gradient through the CNN

# %%
ui, pi, ni = np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0, 4, 2])


def bpr_loss():
    s = net(np.concatenate([ui, ui]), np.concatenate([pi, ni]))
    return losses.bpr(s[:3], s[3:])


assert gradcheck_module(net, bpr_loss, atol=1e-5).ok
print("BPR loss gradient checked through conv, max pooling and FC")

# %% [markdown]
# ## 3. Train on a slice (it is the most expensive model of the course)
#
# The paper starts from MF-BPR embeddings, and so do we: `BPR` (the Numba kernel of
# lesson 08) trains the tables in seconds, then `ConvNCF(init_from=bpr)` copies
# them into ConvNCF, whose CNN starts random. Compared on the 1 + 99 sampled
# protocol. (On the full ML-1M NCF files, see benchmarks/results/ncf.md, config
# `ncf/convncf`.)

# %%
data = _course.load_ratings("ml-100k")
n_users = 943 if _course.FULL else 200
top = np.argsort(-data.user_counts())[:n_users]
data = data.subset(np.flatnonzero(np.isin(data.users, top)))
train, tu, ti, negs = ncf_protocol(data, regenerate=True, seed=0)
bpr = BPR(k=16, lr=0.05, reg=0.01, n_epochs=30, seed=0).fit(train)
curve = []


def log(model, epoch, rec):
    curve.append(evaluate_sampled(model, tu, ti, negs).metrics["HR@10"])


cnn = ConvNCF(k=16, channels=8, dropout=0.0, reg=0.01, lr=0.003, batch_size=256,
              n_epochs=4 if _course.FULL else 2,
              sample_fraction=1.0 if _course.FULL else 0.3,
              init_from=bpr)  # fmt: skip
cnn.fit(train, on_epoch=log)
hr_bpr = evaluate_sampled(bpr, tu, ti, negs).metrics["HR@10"]
print(f"HR@10: BPR (start) {hr_bpr:.3f}, ConvNCF per epoch {np.round(curve, 3)}")

# the library's ConvNCF is the network of section 1; its convolutions are
# `PatchConv`s (channels last, one matrix product per layer): copy the trained
# weights into ours, each PatchConv as the equivalent Conv2d weight
ours = ConvNCFNet(train.n_users, train.n_items, k=16, channels=8)
ours.P.W.data[...] = cnn.net_.P.W.data
ours.Q.W.data[...] = cnn.net_.Q.W.data
for mine, theirs in zip(ours.convs, cnn.net_.convs, strict=True):
    mine.W.data[...] = theirs.conv2d_weight()
    mine.b.data[...] = theirs.lin.b.data
ours.fc.W.data[...], ours.fc.b.data[...] = cnn.net_.fc.W.data, cnn.net_.fc.b.data
pu = np.random.default_rng(1).integers(0, train.n_users, 300)
pi = np.random.default_rng(2).integers(0, train.n_items, 300)
np.testing.assert_allclose(
    ours(pu, pi).numpy(), cnn.predict_pairs(pu, pi), rtol=1e-4, atol=1e-5
)
print("ConvNCF's trained scores == our Conv2d network with its weights (300 pairs)")

fig, ax = plt.subplots(1, 2, figsize=(8, 3))
E1 = cnn.net_.interaction_map(tu[:1], ti[:1]).numpy()[0, :, :, 0]
ax[0].imshow(E1, cmap="RdBu")
ax[0].set(title="interaction map p_u q_iᵀ", xlabel="item dimension",
          ylabel="user dimension")  # fmt: skip
ax[1].plot(range(1, len(curve) + 1), curve, "o-", label="ConvNCF")
ax[1].axhline(hr_bpr, ls="--", c="gray", label="MF-BPR (the start)")
ax[1].set(xlabel="epoch", ylabel="HR@10 (1+99)", title="ConvNCF started from MF-BPR")
ax[1].legend()
_course.savefig(fig, "14_convncf.png")
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * The outer product keeps every pair of embedding dimensions; the CNN reads
#   local blocks of it and halves the map at every layer.
# * Non-overlapping 2×2 / stride-2 convolutions are one matrix product on a
#   reshaped map (`PatchConv`), equal to `conv2d` and much cheaper.
# * BPR compares a positive with a sampled negative; the gradient goes through the
#   whole CNN (checked).
# * Started from MF-BPR, ConvNCF first drops below its start (the CNN is random and
#   has to learn to read the map) and climbs back epoch by epoch; on this slice a
#   few epochs do not pass MF-BPR (on 943 users, FULL=1: BPR 0.632, ConvNCF 0.539
#   -> 0.594 in 4 epochs, measured here).


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: replace the outer product
# by GMF's element-wise product — what does the CNN lose? Train from a random
# init instead of MF-BPR: how many more epochs are needed?

# %% [markdown] tags=["exercise"]
# ### Exercise 14.1: a 2×2 / stride-2 convolution as one matrix product
#
# `E` is (B, H, W, C_in) (channels last), `Wc` is (C_out, C_in, 2, 2), `b` is
# (C_out,). Return the (B, H/2, W/2, C_out) output
# $\mathrm{out}[n, a, c, o] = b_o + \sum_{ch, di, dj} Wc[o, ch, di, dj]\,
# E[n, 2a + di, 2c + dj, ch]$ — without Python loops: reshape `E` into the
# non-overlapping 2×2 patches and use one `@` or `einsum`.


# %% tags=["exercise"]
def exercise_14_1(E, Wc, b):
    # your code here
    B, H, W, _ = E.shape
    return np.zeros((B, H // 2, W // 2, Wc.shape[0]))


attempt("14_1", exercise_14_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 14.2: the cost of one ConvNCF score
#
# Count the multiply-adds of one (u, i) score of `ConvNCFNet(k=k,
# channels=C)`: the outer product (k² multiplications), every conv layer (from
# k × k with one channel, halving the map down to 2 × 2; each output value costs
# 4 · C_in multiply-adds; the first layer has C_in = 1, the others C), and the
# output layer (C). Max pooling and the biases count 0. Then estimate an ML-1M
# epoch (about 1M positives, 2 scores each, forward only) on your CPU.


# %% tags=["exercise"]
def exercise_14_2(k, channels):
    # your code here
    return k * k


attempt("14_2", exercise_14_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 14.3: the BPR loss and its gradient
#
# Return `(loss, g_pos, g_neg)`: the mean of $-\log\sigma(s^+ - s^-)$ over the
# pairs and its gradients with respect to `s_pos` and `s_neg`, finite for
# differences like ±500.


# %% tags=["exercise"]
def exercise_14_3(s_pos, s_neg):
    # your code here
    return 0.0, np.zeros_like(s_pos), np.zeros_like(s_neg)


attempt("14_3", exercise_14_3)
