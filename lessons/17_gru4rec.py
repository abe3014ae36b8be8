# %% [markdown]
# # 17 · GRU4Rec: a GRU by hand, session-parallel batches, and four ranking losses
#
# **Goal.** Recommend the next click of an anonymous session. Write the GRU
# equations in NumPy, check minirec's fused GRU (forward and back-propagation
# through time, BPTT) against them and against finite differences, draw the
# session-parallel mini-batches of GRU4Rec, and measure why the documents' TOP1 and
# BPR losses train worse than BPR-max and cross-entropy.
#
# **Covers** (see `lessons/README.md`): `000-3.3` (RNN session-based
# recommendation: GRU, session embedding, session-parallel mini-batches, TOP1 and BPR
# losses, gradient clipping, ranking items against the session embedding) and the
# RNN / GRU part of `000-2.2` (RNN unrolling and BPTT, GRU). No erratum here.
#
# Data: the YOOCHOOSE 100k sample of session-rec (`sessions/rsc15-100k` under
# `MINIREC_DATA`) when present, else synthetic sessions from a planted Markov chain.
# Quick mode trains on a subset for one epoch; `FULL=1` trains on all of it.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.data import load_session_split, synthetic_sessions
from minirec.evaluation_seq import evaluate_next_item
from minirec.models.gru4rec import GRU4Rec
from minirec.models.session_baselines import (
    MarkovChain,
    SessionItemKNN,
    SessionPop,
    as_sequences,
)
from minirec.nn import GRU, losses

FULL = _course.FULL
root = _course.data_root()
if root is not None and (root / "sessions" / "rsc15-100k").is_dir():
    tr, te = load_session_split("rsc15-100k", path=root / "sessions" / "rsc15-100k")
    train, test = as_sequences(tr), as_sequences(te)
    DATA = "rsc15-100k"
else:
    s = as_sequences(synthetic_sessions(6000, n_items=300, seed=0))
    train, test = s[:5000], s[5000:]
    DATA = "synthetic"
if not FULL:
    train, test = train[-4000:], test[:600]  # the most recent 4,000 train sessions
print(f"data: {DATA}, {len(train):,} train sessions, {len(test):,} test sessions")

# %% [markdown]
# ## What the document says
#
# Doc 000 §3.3 (`000_b4c4b935d973744a.txt`, "RNN based Session-based
# Recommendation") gives the plan, not the formulas:
#
# > 3.3.1.2 GRU的设计 · 3.3.1.3 Session Embedding的生成 · 3.3.2.1 Session序列的构建 ·
# > 3.3.2.2 Top1 loss与BPR loss · 3.3.2.3 梯度裁剪 ·
# > 3.3.3.2 物品Embedding与Session Embedding的相似度计算 · 3.3.3.3 基于相似度的物品排序
#
# > *English:* 3.3.1.2 designing the GRU · 3.3.1.3 generating the session
# > embedding · 3.3.2.1 building the session sequences · 3.3.2.2 the Top1 loss and
# > the BPR loss · 3.3.2.3 gradient clipping · 3.3.3.2 the similarity of item
# > embeddings and the session embedding · 3.3.3.3 ranking items by similarity
#
# and §2.2.3 lists "RNN的展开式与BPTT算法" (*the unrolled RNN and the BPTT
# algorithm*) and "LSTM与GRU" (*LSTM and GRU*). The formulas are the
# GRU's (Cho et al. 2014, in GRU4Rec's form, Hidasi et al. 2016), for input x_t and
# state h:
#
# $$r = \sigma(x_t W_r + b_r + h U_r + c_r),\quad z = \sigma(x_t W_z + b_z + h U_z + c_z)$$
# $$n = \tanh(x_t W_n + b_n + r \odot (h U_n + c_n)),\quad
#   h_t = (1 - z) \odot n + z \odot h_{t-1}$$
#
# The session embedding is $h_t$; item $j$ scores $\hat s_j = h_t \cdot O_j + b_j$.
#
# ## The GRU in a few lines of NumPy


# %%
def gru_numpy(x, h, Wx, Wh, bx, bh):
    """x (B, T, in), h (B, H); gates [r, z, n] side by side as in minirec."""
    H = h.shape[1]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    out = []
    for t in range(x.shape[1]):
        a, u = x[:, t] @ Wx + bx, h @ Wh + bh
        r = sig(a[:, :H] + u[:, :H])
        z = sig(a[:, H : 2 * H] + u[:, H : 2 * H])
        n = np.tanh(a[:, 2 * H :] + r * u[:, 2 * H :])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out, axis=1)


rng = np.random.default_rng(0)
gru = GRU(3, 4, rng=0)
x = rng.normal(size=(2, 5, 3))
h0 = rng.normal(size=(2, 4))
ours = gru(Tensor(x.astype(np.float32)), h0=Tensor(h0.astype(np.float32)))[0].data
ref = gru_numpy(
    x, h0, *(p.data.astype(np.float64) for p in (gru.Wx, gru.Wh, gru.bx, gru.bh))
)
np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
print("minirec.nn.GRU forward == NumPy GRU equations (5 steps)")

# %% [markdown]
# ## BPTT, checked by finite differences
#
# minirec runs the whole sequence as one fused op whose backward is BPTT written out
# (`minirec/nn/recurrent.py`): walk t = T..1, add the upstream gradient of h_t to
# the one carried from step t+1, push it through n, z, r into the inputs, U and c,
# and carry dh_{t-1} = dh_t ⊙ z + (gate terms) Uᵀ. `gradcheck` compares it in
# float64 with central differences, for every input, weight and the initial state,
# with a mask (sequences of different lengths in one batch).

# %%
mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)


def f(x, h0, Wx, Wh, bx, bh):
    xw = F.linear(x, Wx, bx)
    from minirec.nn.recurrent import gru_scan

    return gru_scan(xw, h0, Wh, bh, mask)


args = [
    Tensor(a, requires_grad=True)
    for a in (
        x,
        h0,
        *(p.data.astype(np.float64) for p in (gru.Wx, gru.Wh, gru.bx, gru.bh)),
    )
]
res = gradcheck(f, *args)
print(res)
assert res.ok and res.max_abs_err < 1e-6

# %% [markdown]
# ## Session-parallel mini-batches (GRU4Rec, Fig. 2 of the paper)
#
# Sessions have different lengths, so GRU4Rec does not pad them. B "slots" each hold
# a session; at every step each slot feeds its current item and predicts the next
# one. When a session ends, the slot takes the next session and its state is reset
# to 0. The state is carried between steps; the gradient is not (one-step BPTT).

# %%
lens = [4, 2, 6, 3, 3, 2, 5]
B, slots, nxt = 3, [[0, 0], [1, 0], [2, 0]], 3
grid = []  # (step, slot, session, position)
for step in range(12):
    if not any(s is not None for s in slots):
        break
    for k, s in enumerate(slots):
        if s is None:
            continue
        grid.append((step, k, s[0], s[1]))
        s[1] += 1
        if s[1] + 1 >= lens[s[0]]:
            slots[k] = [nxt, 0] if nxt < len(lens) else None
            nxt += 1
fig, ax = plt.subplots(figsize=(8, 2.4))
cmap = plt.get_cmap("tab10")
for step, k, sid, p in grid:
    ax.add_patch(plt.Rectangle((step, B - 1 - k), 0.95, 0.9, color=cmap(sid)))
    ax.text(
        step + 0.47,
        B - 1 - k + 0.45,
        f"s{sid}:{p}→{p + 1}",
        ha="center",
        va="center",
        fontsize=7,
        color="white",
    )
ax.set_xlim(0, max(g[0] for g in grid) + 1)
ax.set_ylim(0, B)
ax.set_yticks([B - 0.55 - k for k in range(B)], [f"slot {k}" for k in range(B)])
ax.set_xlabel("mini-batch step (input item → target item of session s)")
ax.set_title("session-parallel mini-batches: a finished session's slot takes the next")
_course.savefig(fig, "17_session_parallel.png")
events = sum(n - 1 for n in lens)
assert len(grid) == events  # every (item, next item) event is used exactly once
print(f"{events} events in {max(g[0] for g in grid) + 1} steps of at most {B}")

# %% [markdown]
# ## The network from `minirec.nn` parts
#
# GRU4Rec is an item `Embedding` E, a `GRU` over the embedded session, and the
# scores $\hat s_j = h_t \cdot E_j + b_j$ of every item against the last state (the
# library's default `tied=True` reuses E as the output table). The last section
# copies a trained `GRU4Rec`'s weights into this module and checks the scores.


# %%
class GRU4RecNet(nn.Module):
    def __init__(self, n_items, k, rng=0):
        self.E = nn.Embedding(n_items, k, std=0.05, rng=rng)
        self.gru = GRU(k, k, rng=rng)
        self.b = nn.Parameter(np.zeros((n_items, 1), np.float32))

    def forward(self, seq):
        """seq (B, T) item indices -> scores (B, n_items) of the item after seq."""
        _, h_last = self.gru(self.E(seq))
        return h_last @ F.transpose(self.E.W, (1, 0)) + F.reshape(self.b, (-1,))


# %% [markdown]
# ## TOP1 and its gradient
#
# GRU4Rec's TOP1 loss (Hidasi et al. 2016, §3.1.2) for a target score $r_i$ and
# $S$ negative scores $r_j$ is the share of negatives ranked above the target,
# made smooth, plus a term that pushes the negatives' scores to 0:
#
# $$L_{TOP1} = \frac1S\sum_{j=1}^S \sigma(r_j - r_i) + \sigma(r_j^2)$$
#
# With $\sigma' = \sigma(1-\sigma)$ and $d_j = \sigma(r_j - r_i)$,
# $q_j = \sigma(r_j^2)$:
#
# $$\frac{\partial L}{\partial r_i} = -\frac1S\sum_j d_j(1 - d_j),\qquad
#   \frac{\partial L}{\partial r_j} = \frac1S\big[d_j(1 - d_j) +
#   2 r_j\, q_j(1 - q_j)\big]$$
#
# Over a batch of B rows minirec averages over the B·S terms. Checked against
# central differences, minirec's autograd and PyTorch's autograd.


# %%
def top1_numpy(pos, neg):
    """TOP1 of pos (B,) vs neg (B, S): (mean loss, d/d pos, d/d neg)."""
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    d, q = sig(neg - pos[:, None]), sig(neg * neg)
    n = neg.size  # B * S terms in the mean
    return (
        (d + q).mean(),
        -(d * (1 - d)).sum(1) / n,
        (d * (1 - d) + 2 * neg * q * (1 - q)) / n,
    )


g = np.random.default_rng(4)
pos0, neg0 = g.normal(size=3), g.normal(size=(3, 5))
L_np, gp_np, gn_np = top1_numpy(pos0, neg0)
eps = 1e-6
fd_pos = [
    (top1_numpy(pos0 + eps * e, neg0)[0] - top1_numpy(pos0 - eps * e, neg0)[0])
    / (2 * eps)
    for e in np.eye(3)
]
fd_neg = np.zeros_like(neg0)
for j in np.ndindex(neg0.shape):
    e = np.zeros_like(neg0)
    e[j] = eps
    fd_neg[j] = (top1_numpy(pos0, neg0 + e)[0] - top1_numpy(pos0, neg0 - e)[0]) / (
        2 * eps
    )
np.testing.assert_allclose(gp_np, fd_pos, rtol=1e-6, atol=1e-10)
np.testing.assert_allclose(gn_np, fd_neg, rtol=1e-6, atol=1e-10)
pt, nt = Tensor(pos0, requires_grad=True), Tensor(neg0, requires_grad=True)
L_mr = losses.top1(pt, nt)
L_mr.backward()
assert abs(L_mr.item() - L_np) < 1e-12
np.testing.assert_allclose(pt.grad, gp_np, rtol=1e-10)
np.testing.assert_allclose(nt.grad, gn_np, rtol=1e-10)
try:
    import torch

    tp = torch.tensor(pos0, requires_grad=True)
    tn = torch.tensor(neg0, requires_grad=True)
    L_t = (torch.sigmoid(tn - tp[:, None]) + torch.sigmoid(tn**2)).mean()
    L_t.backward()
    np.testing.assert_allclose(tp.grad.numpy(), gp_np, rtol=1e-10)
    np.testing.assert_allclose(tn.grad.numpy(), gn_np, rtol=1e-10)
    print("TOP1 gradient == central differences == minirec autograd == PyTorch")
except ImportError:
    print("TOP1 gradient == central differences == minirec autograd (no PyTorch)")

# %% [markdown]
# ## Four losses on one score matrix
#
# With in-batch negatives, a step's scores form R (B, B+S): row i scores slot i's
# target (the diagonal) against the other slots' targets and S sampled items. TOP1
# and BPR (the document's losses) *average* over all negatives; BPR-max weights
# negatives by softmax(score), and cross-entropy is a softmax over the row. Late in
# training the target already beats most negatives by a wide margin; only a few
# "hard" negatives still score above it. A controlled experiment: one row with 575
# negatives, k of them 0.5 above the target, the rest 5 below; measure the gradient
# on the target score for each loss (autograd, float64).


# %%
def target_grad(loss_name, k, n_neg=575):
    neg0 = np.full((1, n_neg), -5.0)
    neg0[0, :k] = 0.5
    pos = Tensor(np.zeros(1), requires_grad=True)
    neg = Tensor(neg0, requires_grad=True)
    L = {
        "top1": lambda: losses.top1(pos, neg),
        "bpr": lambda: losses.bpr(pos, neg),
        "bpr-max": lambda: losses.bpr_max(pos, neg),
        "cross-entropy": lambda: losses.sampled_softmax(pos, neg),
    }[loss_name]()
    L.backward()
    return abs(float(pos.grad[0]))


NAMES = ("top1", "bpr", "bpr-max", "cross-entropy")
ks = [1, 5, 50, 500]
grads = {name: [target_grad(name, k) for k in ks] for name in NAMES}
print("|dL/d s_target| with k hard negatives out of 575:")
for name in NAMES:
    print(
        f"  {name:14s}", "  ".join(f"k={k}: {g:.2e}" for k, g in zip(ks, grads[name]))
    )
assert grads["bpr-max"][0] > 10 * grads["bpr"][0]
assert grads["cross-entropy"][0] > 20 * grads["top1"][0]
fig, ax = plt.subplots(figsize=(5, 3))
for name in NAMES:
    ax.loglog(ks, grads[name], marker="o", label=name)
ax.set_xlabel("hard negatives (scored above the target) out of 575")
ax.set_ylabel("|dL / d s_target|")
ax.set_title("gradient reaching the target score")
ax.legend()
_course.savefig(fig, "17_target_gradient.png")

# %% [markdown]
# TOP1 and BPR divide every pairwise term by the number of negatives, so with one
# hard negative the target's gradient is ~1/575 of what it could be; BPR-max and
# cross-entropy put almost all the weight on the few negatives that still compete
# (Hidasi & Karatzoglou 2018, the reason GRU4Rec's author now recommends them). Now train with each loss and measure the ranking, with the three
# baselines, under the session-rec protocol (full ranking, Recall@20, MRR@20).

# %%
rows = []
for m in (SessionPop(), MarkovChain(), SessionItemKNN()):
    r = evaluate_next_item(m.fit(train), test)
    rows.append((type(m).__name__, r.metrics["Recall@20"], r.metrics["MRR@20"]))
models = {}
for loss in NAMES:
    t0 = time.perf_counter()
    m = GRU4Rec(loss=loss, k=64, n_epochs=3 if FULL else 1, seed=0).fit(train)
    models[loss] = m
    r = evaluate_next_item(m, test)
    rows.append((f"GRU4Rec {loss}", r.metrics["Recall@20"], r.metrics["MRR@20"]))
    print(f"{loss}: fit {time.perf_counter() - t0:.1f} s")
print(f"protocol {r.protocol}, {r.n_test} test events ({DATA})")
for name, rec, mrr in rows:
    print(f"{name:24s} Recall@20 {rec:.4f}  MRR@20 {mrr:.4f}")
res = dict((n, (a, b)) for n, a, b in rows)
assert res["GRU4Rec bpr-max"][1] > res["GRU4Rec top1"][1]
assert res["GRU4Rec bpr-max"][0] > res["SessionPop"][0]

fig, ax = plt.subplots(figsize=(7, 3))
names = [n for n, _, _ in rows]
ax.barh(names, [b for _, _, b in rows], color="tab:blue", label="MRR@20")
ax.barh(names, [a for _, a, _ in rows], color="tab:blue", alpha=0.3, label="Recall@20")
ax.invert_yaxis()
ax.set_xlabel("Recall@20 (light) and MRR@20 (dark)")
ax.legend()
ax.set_title(f"next-item ranking on {DATA} (session-rec protocol, full ranking)")
_course.savefig(fig, "17_losses.png")

# %% [markdown]
# The full-data numbers (5 epochs, all of rsc15-100k; GRU4Rec beats all three
# baselines on Recall@20 and MRR@20) are in `benchmarks/results/sequential.md`,
# made by `minirec reproduce sequential --only gru4rec-rsc15`.
#
# ## Gradient clipping and the library call
#
# Every step clips the joint gradient norm to `clip` (`minirec.optim.clip_grad_norm`)
# so an exploding step cannot throw the embeddings away; a NaN loss stops training
# with `TrainingDivergedError`. The library call:
#
# ```python
# from minirec.models.gru4rec import GRU4Rec
# model = GRU4Rec(loss="bpr-max", k=100, n_epochs=5).fit(train_sessions)
# ids, scores = model.recommend_next([[214716935, 214716935]], n=20)
# ```

# %%
base = models["bpr-max"]
ids, scores = base.recommend_next([test[0][:2]], n=5)
print("session", [int(v) for v in test[0][:2]], "-> next", [int(v) for v in ids[0]])
# the five returned are the five best of the scores of every item
full = base.score_next([test[0][:2]])[0]
np.testing.assert_allclose(scores[0], np.sort(full)[::-1][:5], rtol=1e-6)

# the library runs the network built above: copy the trained weights into ours
# (the embedding table is `E` there, `E.W` in our nn.Embedding) and score sessions
ours = GRU4RecNet(base.n_items, base.k)
ours.load_state_dict(
    {("E.W" if k == "E" else k): v for k, v in base.net_.state_dict().items()}
)
n_checked = 0
for sess in test[:30]:
    idx = base.item_index(sess[:3], unknown="skip")  # score_next skips unknown items
    if len(idx):
        want = base.score_next([sess[:3]])[0]
        got = ours(idx[None].astype(np.int64)).numpy()[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        n_checked += 1
assert n_checked >= 10
print(
    f"GRU4Rec's trained scores == our GRU4RecNet with its weights ({n_checked} sessions)"
)

# %% [markdown]
# ## Summary
#
# * The GRU is four lines; minirec runs a sequence as one fused op whose backward is
#   BPTT, and gradcheck agrees with it to 1e-6.
# * Session-parallel batches use every event once with no padding.
# * TOP1 is a smoothed share of negatives above the target plus a pull of the
#   negatives' scores to 0; its gradient is written out and checked three ways.
# * Averaging losses (TOP1, BPR) starve the target of gradient once most negatives
#   are beaten; BPR-max and cross-entropy keep learning, and rank better.


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: carry the gradient through
# k > 1 steps (truncated BPTT with `nn.GRU` over windows) — does MRR@20 change?
# Set `n_negatives=0` (in-batch negatives only) and compare the popularity bias.
# Plot `model.history_` for the four losses.

# %% [markdown] tags=["exercise"]
# ### Exercise 17.1: one GRU step
#
# Gates side by side as in minirec: `x @ Wx + bx` and `h @ Wh + bh` are (B, 3H)
# blocks [r, z, n]. Return the new state $h_t = (1 - z) \odot n + z \odot h$.


# %% tags=["exercise"]
def exercise_17_1(x, h, Wx, Wh, bx, bh):
    # your code here
    return h.copy()


attempt("17_1", exercise_17_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 17.2: the BPR-max loss
#
# For target scores `pos` (B,) and negative scores `neg` (B, S), with
# $s_j = \mathrm{softmax}(neg)_j$ over each row, return the mean over the rows of
# $-\log\sum_j s_j\,\sigma(r^+ - r_j) + \lambda\sum_j s_j r_j^2$ (`reg` = λ).


# %% tags=["exercise"]
def exercise_17_2(pos, neg, reg):
    # your code here
    return float(np.mean(-np.log(1 / (1 + np.exp(-(pos[:, None] - neg))))))


attempt("17_2", exercise_17_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 17.3: clipping the joint gradient norm
#
# Given a list of gradient arrays, return the list scaled by
# `max_norm / norm` when their joint L2 norm exceeds `max_norm`, unchanged
# otherwise (the direction is kept; only the length changes).


# %% tags=["exercise"]
def exercise_17_3(grads, max_norm):
    # your code here
    return [np.clip(g, -max_norm, max_norm) for g in grads]


attempt("17_3", exercise_17_3)
