# %% [markdown]
# # 18 · Attention: pooling a behaviour sequence, and SASRec
#
# **Goal.** Implement doc 002's attention pooling in NumPy and check minirec's layer
# against it (values and gradients), watch it learn *which* step of a sequence
# matters (a plot of the weights α), then build on the same idea: SASRec, where every
# position attends to the earlier ones (causal self-attention), trained with one
# negative per position and evaluated with SASRec's own protocol.
#
# **Covers** (see `lessons/README.md`): `002-3.2` (GRU4Rec and SASRec: embed the
# sequence, encode it with a GRU or self-attention, the final state is the interest
# representation) and `002-4.2` (attention pooling e_t = vᵀ tanh(W_h h_t + W_x x_t),
# α = softmax(e), c = Σ α_t h_t). No erratum here.
#
# Data: ML-100k user histories sorted by timestamp (`MINIREC_DATA`), else synthetic
# sequences from a planted Markov chain. ML-1M in ../shared/data has no timestamps,
# so it has no sequences. Quick mode trains SASRec for a few epochs; `FULL=1` longer.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor, gradcheck, no_grad
from minirec.autograd import ops as F
from minirec.data import synthetic_sessions
from minirec.evaluation_seq import evaluate_sampled_next, sasrec_cases
from minirec.models.sasrec import SASRec
from minirec.models.session_baselines import MarkovChain, SessionPop
from minirec.nn import AttentionPooling
from minirec.optim import Adam

FULL = _course.FULL

# %% [markdown]
# ## What the document says
#
# Doc 002 §4.2 (`002_d2c789357b2f7be6.txt`, "注意力机制", *the attention mechanism*):
#
# > 给定用户历史行为序列 $\{x_1, x_2, \cdots, x_T\}$,我们首先通过embedding层和编码层
# > (如GRU)获得每个行为的隐状态 $\{h_1, h_2, \cdots, h_T\}$。然后计算注意力权重:
# > $$e_t = v^T \tanh(W_h h_t + W_x x_t)$$ $$\alpha_t = \text{softmax}(e_t)$$
# > 其中 $v$, $W_h$, $W_x$ 是可学习的参数。最终的用户兴趣表示 $c$ 是加权隐状态的和:
# > $$c = \sum_{t=1}^T \alpha_t h_t$$
#
# > *English:* given a user's behaviour sequence $\{x_1, x_2, \cdots, x_T\}$, we
# > first obtain the hidden state of every behaviour $\{h_1, h_2, \cdots, h_T\}$
# > through an embedding layer and an encoding layer (such as a GRU). Then we compute
# > the attention weights: $e_t = v^T \tanh(W_h h_t + W_x x_t)$,
# > $\alpha_t = \text{softmax}(e_t)$, where $v$, $W_h$, $W_x$ are learnable
# > parameters. The final user-interest representation $c$ is the weighted sum of
# > the hidden states: $c = \sum_{t=1}^T \alpha_t h_t$.
#
# and doc 002 §3.2:
#
# > **SASRec(Self-Attentive Sequential Recommendation)** 在GRU4Rec的基础上,引入了
# > Self-Attention机制,能够自动学习不同行为对预测的重要程度。算法步骤: 1) 将用户历史
# > 行为序列输入到Embedding层获取行为嵌入序列 2) 通过GRU或Self-Attention网络对行为嵌入
# > 序列进行编码 3) 将最终状态作为用户的兴趣表示 4) 计算用户兴趣表示与候选商品的相似度,
# > 作为预测分数
#
# > *English:* on top of GRU4Rec, SASRec introduces the self-attention mechanism,
# > which learns by itself how much each behaviour matters to the prediction. Steps:
# > 1) feed the user's behaviour sequence into the embedding layer to get the
# > sequence of behaviour embeddings 2) encode it with a GRU or a self-attention
# > network 3) take the final state as the user's interest representation 4) score a
# > candidate item by its similarity to the interest representation
#
# ## Attention pooling in NumPy, checked against minirec
#
# minirec's row-vector convention: W_h h_t is `h @ Wh` (Wh of shape (h_dim, a)).
# The softmax runs over the T steps of each sequence.


# %%
def attention_pool_numpy(h, x, Wh, Wx, bx, v):
    e = np.tanh(h @ Wh + x @ Wx + bx) @ v  # (B, T)
    e = e - e.max(axis=1, keepdims=True)
    alpha = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    return (alpha[..., None] * h).sum(axis=1), alpha


rng = np.random.default_rng(0)
B, T, hd, xd = 3, 6, 5, 4
pool = AttentionPooling(hd, xd, attn_dim=8, rng=0)
h = rng.normal(size=(B, T, hd)).astype(np.float32)
x = rng.normal(size=(B, T, xd)).astype(np.float32)
c, alpha = pool(Tensor(h), Tensor(x))
c_np, a_np = attention_pool_numpy(
    h, x, pool.Wh.W.data, pool.Wx.W.data, pool.Wx.b.data, pool.v.data
)
np.testing.assert_allclose(c.data, c_np, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(alpha.data, a_np, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(alpha.data.sum(axis=1), 1.0, rtol=1e-6)
print("AttentionPooling == NumPy formula; each row of α sums to 1")

# gradients of c w.r.t. h, x and every parameter, by central differences (float64)
params64 = [pool.Wh.W.data, pool.Wx.W.data, pool.Wx.b.data, pool.v.data]
args = [Tensor(a.astype(np.float64), requires_grad=True) for a in (h, x, *params64)]


def pool_f(h, x, Wh, Wx, bx, v):
    e = F.tanh(h @ Wh + F.linear(x, Wx, bx)) @ v
    a = F.softmax(e, axis=-1)
    return F.sum(F.reshape(a, a.shape + (1,)) * h, axis=1)


res = gradcheck(pool_f, *args)
print(res)
assert res.ok

# %% [markdown]
# ## Does it learn *where* to look?
#
# A toy: sequences of T = 8 steps with random h_t; the target is the h_t whose first
# feature is largest. Pooling can only hit the target by putting its weight α on
# that step. Train the layer's parameters with Adam on the squared error of c.

# %%
T, hd = 8, 4
toy = AttentionPooling(hd, None, attn_dim=16, rng=1)
opt = Adam(toy.parameters(), lr=0.03)
g = np.random.default_rng(2)
for _step in range(300):
    hb = g.normal(size=(64, T, hd)).astype(np.float32)
    tgt = hb[np.arange(64), hb[:, :, 0].argmax(axis=1)]
    c, _ = toy(Tensor(hb))
    loss = F.mean((c - tgt) * (c - tgt))
    opt.zero_grad()
    loss.backward()
    opt.step()
hb = g.normal(size=(500, T, hd)).astype(np.float32)
with no_grad():
    _, a = toy(Tensor(hb))
hit = (a.data.argmax(axis=1) == hb[:, :, 0].argmax(axis=1)).mean()
print(
    f"after 300 steps: loss {loss.item():.3f}; α peaks on the right step in "
    f"{hit:.0%} of 500 new sequences"
)
assert hit > 0.8
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
axes[0].imshow(a.data[:12], cmap="Blues", aspect="auto")
axes[0].scatter(
    hb[:12, :, 0].argmax(axis=1),
    np.arange(12),
    marker="x",
    c="red",
    label="step with largest h_t[0]",
)
axes[0].set_xlabel("step t")
axes[0].set_ylabel("sequence")
axes[0].set_title("learned attention weights α_t")
axes[0].legend(loc="lower right", fontsize=7)
axes[1].bar(np.arange(T), a.data[0])
axes[1].set_title("α of sequence 0")
axes[1].set_xlabel("step t")
axes[1].set_ylabel("α_t")
_course.savefig(fig, "18_attention_weights.png")

# %% [markdown]
# ## SASRec: every position attends to the earlier ones
#
# SASRec (Kang & McAuley 2018) replaces pooling by causal self-attention: position t
# builds its state from all positions t' ≤ t with weights softmax(q_t · k_t' / √d),
# and predicts item s_{t+1} with r = F_t · E_j. Training: binary cross-entropy with
# one random negative per position. Protocol (SASRec's): last item test, second-to-
# last validation, the test item ranked against 100 random items the user never
# touched, HR@10 and NDCG@10.


# %%
class SASRecBlock(nn.Module):
    """Pre-LN block: x + attn(LN(x)), then x + W2 ReLU(W1 LN(x)); padding zeroed."""

    def __init__(self, d, heads, rng=0):
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiHeadSelfAttention(d, heads, causal=True, rng=rng)
        self.W1, self.W2 = nn.Linear(d, d, rng=rng), nn.Linear(d, d, rng=rng)

    def forward(self, x, m, pad):
        x = (x + self.attn(self.ln1(x), pad_mask=pad)) * m
        return (x + self.W2(F.relu(self.W1(self.ln2(x))))) * m


class SASRecNet(nn.Module):
    """Tokens (B, T) (item index + 1, 0 = padding on the left) -> states F (B, T, d)."""

    def __init__(self, n_items, d, maxlen, n_blocks=2, heads=1, rng=0):
        self.E = nn.Embedding(n_items + 1, d, rng=rng)  # row 0: the padding token
        self.P = nn.Parameter(np.zeros((maxlen, d), np.float32))  # learned positions
        self.blocks = [SASRecBlock(d, heads, rng=rng) for _ in range(n_blocks)]
        self.ln = nn.LayerNorm(d)

    def forward(self, seq):
        pad = seq > 0
        m = pad[..., None].astype(np.float32)
        x = (self.E(seq) * np.sqrt(self.P.shape[1]) + self.P[: seq.shape[1]]) * m
        for block in self.blocks:
            x = block(x, m, pad)
        return self.ln(x)

    def score_next(self, seq):
        """Scores (B, n_items) of every item after each sequence: F_T . E_j."""
        return self(seq)[:, -1] @ F.transpose(self.E.W[1:], (1, 0))


# %% [markdown]
# That is SASRec, assembled from `minirec.nn` parts (`Embedding`, `LayerNorm`,
# `MultiHeadSelfAttention`, `Linear`); dropout, used only in training, is left out.
# Now the library's `SASRec` (which trains this network with Adam) on real
# sequences; afterwards its trained weights go into ours.

# %%
root = _course.data_root()
if root is not None and (root / "ml-100k").is_dir():
    from minirec.data import load_movielens

    data = load_movielens("ml-100k", path=root)
    DATA = "ml-100k (by timestamp)"
else:
    data = synthetic_sessions(
        900, n_items=400, mean_length=30, n_next=2, seed=0
    ).to_interactions()
    DATA = "synthetic"
cases = sasrec_cases(data)  # SASRec's split: last = test, second-to-last = valid
train = cases.train
print(
    f"{DATA}: {data.n_users} users, {len(data):,} interactions, "
    f"{len(cases.users)} evaluated"
)
t0 = time.perf_counter()
kw = dict(
    k=50,
    maxlen=200 if FULL else 50,
    dropout=0.2,
    n_epochs=40 if FULL else 6,
    lr=0.002,
    seed=0,
)
sas = SASRec(**kw).fit(train)
print(
    f"SASRec {kw}: fit {time.perf_counter() - t0:.1f} s, loss per epoch "
    f"{[round(r['loss'], 3) for r in sas.history_]}"
)
rows = {}
for m in (SessionPop().fit(train), MarkovChain().fit(train), sas):
    r = evaluate_sampled_next(m, cases.test_prefix, cases.test, history=cases.history)
    rows[type(m).__name__] = r.metrics
    print(
        f"{type(m).__name__:12s} {r.protocol}: HR@10 {r.metrics['HR@10']:.4f} "
        f"NDCG@10 {r.metrics['NDCG@10']:.4f} ({r.n_test} users)"
    )
assert sas.history_[-1]["loss"] < sas.history_[0]["loss"]

# the library's network is the one above: copy the trained weights into ours (the
# item table is `E` there, `E.W` in our nn.Embedding) and score 50 test prefixes
ours = SASRecNet(sas.n_items, sas.k, sas.maxlen, sas.n_blocks, sas.heads)
ours.load_state_dict(
    {("E.W" if k == "E" else k): v for k, v in sas.net_.state_dict().items()}
)
prefixes = cases.test_prefix[:50]
tokens = np.zeros((len(prefixes), sas.maxlen), dtype=np.int64)  # left-padded
for r, pre in enumerate(prefixes):
    idx = sas.item_index(pre[-sas.maxlen :]) + 1
    tokens[r, sas.maxlen - len(idx) :] = idx
with no_grad():
    got = ours.score_next(tokens).numpy()
np.testing.assert_allclose(got, sas.score_next(prefixes), rtol=1e-4, atol=1e-4)
print("SASRec's trained scores == our SASRecNet with its weights (50 users)")
assert rows["SASRec"]["HR@10"] > rows["SessionPop"]["HR@10"] - 0.05

# %% [markdown]
# ## Looking inside: the causal attention map
#
# Recompute block 1's weights A = softmax(QKᵀ/√d + M) for one user from the trained
# parameters, for the picture. Causality is then tested on the library's network
# itself, not on the mask we just applied: change the items *after* position t and
# the states F_1..F_t must not move, while the later states do.

# %%
net = sas.net_
u = int(np.argmax([len(s) for s in cases.test_prefix]))
from minirec.models.sasrec import _left_pad  # noqa: E402

tok = _left_pad([sas.item_index(cases.test_prefix[u])], sas.maxlen)
with no_grad():
    x = F.embedding(net.E, tok) * net.scale + net.P[: sas.maxlen]
    q = net.blocks[0].ln1(x)
    blk = net.blocks[0].attn
    s = (blk.Wq(q).data @ blk.Wk(q).data.transpose(0, 2, 1)) / np.sqrt(sas.k)
L = sas.maxlen
allowed = np.tril(np.ones((L, L), bool)) & (tok[0] > 0)[None, :]
s = np.where(allowed, s[0], -1e9)
A = np.exp(s - s.max(axis=1, keepdims=True))
A /= A.sum(axis=1, keepdims=True)

t_cut = L - 10  # keep positions 0..t_cut, replace the 9 items after it
changed = tok.copy()
changed[0, t_cut + 1 :] = 1 + (tok[0, t_cut + 1 :] % sas.n_items)  # other real items
net.eval()
with no_grad():
    F_orig, F_changed = net(tok).data[0], net(changed).data[0]
past = np.abs(F_orig[: t_cut + 1] - F_changed[: t_cut + 1]).max()
future = np.abs(F_orig[t_cut + 1 :] - F_changed[t_cut + 1 :]).max()
print(f"changing the last 9 items moves the earlier states by {past:.1e}, "
      f"the later ones by {future:.2f}")  # fmt: skip
assert past < 1e-5 and future > 1e-2
fig, ax = plt.subplots(figsize=(4, 3.5))
ax.imshow(A[-20:, -20:], cmap="viridis")
ax.set_title("SASRec block-1 attention (last 20 positions)")
ax.set_xlabel("key position t'")
ax.set_ylabel("query position t")
_course.savefig(fig, "18_sasrec_attention.png")

# %% [markdown]
# ## Against the paper
#
# The SASRec paper's Games row (Kang & McAuley, ICDM 2018, Table III; quoted from
# paperswithcode.com/paper/180809781, "Results from the Paper"): **HR@10 = 0.7410,
# NDCG@10 = 0.5360**. minirec's run on the same file (`sasrec/Video.txt`) and
# protocol is in `benchmarks/results/sequential_accuracy.md`, made by
# `MINIREC_DATA=../shared/data minirec reproduce sequential`.
#
# The library call:
#
# ```python
# from minirec.models.sasrec import SASRec
# model = SASRec(k=50, maxlen=50, n_epochs=20).fit(user_sequences)
# ids, scores = model.recommend_next([history], n=10)
# ```
#
# ## Summary
#
# * Attention pooling is a softmax-weighted average of the states; its weights are
#   learned, and they find the step that matters.
# * SASRec's self-attention does this at every position, with a mask that hides the
#   future, and shares item embeddings between input and output.


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: put `AttentionPooling` on
# top of `minirec.nn.GRU` states (GRU4Rec + attention, like NARM) and compare with
# the last state alone; train SASRec without positional embeddings; evaluate with
# full ranking instead of 1 + 100 negatives.

# %% [markdown] tags=["exercise"]
# ### Exercise 18.1: attention pooling over sequences of different lengths
#
# `h` is (B, T, d), `mask` (B, T) is True on real steps. Return `(c, alpha)`:
# $e_t = v^\top\tanh(W_h h_t)$ (row convention: `h @ Wh`), α the softmax of e over
# the real steps only (exactly 0 on padded ones), $c = \sum_t \alpha_t h_t$.


# %% tags=["exercise"]
def exercise_18_1(h, Wh, v, mask):
    # your code here
    alpha = np.full(h.shape[:2], 1.0 / h.shape[1])
    return (alpha[..., None] * h).sum(axis=1), alpha


attempt("18_1", exercise_18_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 18.2: causal self-attention, one head
#
# For one sequence `X` (T, d) return $\mathrm{softmax}(QK^\top/\sqrt d + M)\,V$
# with $Q = XW_q$, $K = XW_k$, $V = XW_v$ and M hiding the future (position t
# attends to t' <= t only).


# %% tags=["exercise"]
def exercise_18_2(X, Wq, Wk, Wv):
    # your code here
    return X @ Wv


attempt("18_2", exercise_18_2)
