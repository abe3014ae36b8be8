# %% [markdown]
# # 13 · DeepFM: an FM and a DNN on the same field embeddings, for click prediction
#
# **Goal.** Build DeepFM (Guo et al., IJCAI 2017) on a click-through-rate task made
# from MovieLens: the FM part (first-order weights + pairwise interactions of the
# feature embeddings), the DNN part (an MLP on the concatenated field embeddings),
# the sigmoid of their sum and the cross-entropy loss — check each against NumPy,
# gradcheck the loss, then compare DeepFM with the FM alone.
#
# **Covers:** `000-4.3` (doc 000 §4.3 DeepFM) and `002-2.1` (doc 002 §2.1, the three
# tasks: rating prediction, ranking, CTR prediction). Library:
# `minirec/models/deepfm.py`, `minirec/data/ctr.py`, `minirec/data/features.py`.
#
# Doc 000 §4.3 (`000_b4c4b935d973744a.txt`):
#
# > $\hat{y}=sigmoid(y_{FM}+y_{DNN})$ …
# > $y_{FM}=\langle w, x \rangle + \sum_{i=1}^n \sum_{j=i+1}^n \langle v_i, v_j \rangle x_i x_j$ …
# > $a^{(l+1)}=\sigma(W^{(l)}a^{(l)}+b^{(l)})$ … $y_{DNN}=W^{(L)}a^{(L)}+b^{(L)}$ …
# > $\mathcal{L}=-\frac{1}{N}\sum_{i=1}^N (y^{(i)}\log(\hat{y}^{(i)})+(1-y^{(i)})\log(1-\hat{y}^{(i)}))$
#
# The FM and the DNN read the **same** embeddings $v_j$; the DNN input is one
# embedding per field, $e_F = \sum_{j\in F} v_j x_j$.
#
# Doc 002 §2.1 names the three tasks; minirec has one protocol for each: rating
# prediction (`evaluate_ratings`, RMSE — lessons 06, 15), ranking
# (`evaluate_sampled` / `evaluate_full`, HR/NDCG — lessons 11, 12, 14) and CTR
# prediction (`evaluate_ctr`, AUC/logloss — here and lesson 16).

# %%
import itertools
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import ops as F
from minirec.data.ctr import ctr_task, evaluate_ctr, global_auc
from minirec.models._train import gradcheck_module
from minirec.models.deepfm import DeepFM
from minirec.nn import losses

T0 = time.perf_counter()
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The network from `minirec.nn` parts; the FM part: pairwise sum = O(kn)
#
# Rows come in *field format*: `idx` (N, W) feature indices and `val` (N, W) their
# values, slot `s` belonging to field `slot_field[s]`. DeepFM is an `Embedding` of
# the k-dim vectors $v_j$, an `Embedding` of the first-order weights $w_j$, a bias
# $w_0$, and an `MLP` + `Linear` DNN on the field embeddings $e_F$. Section 3 shows
# that the library's `DeepFM` runs exactly this network.


# %%
class DeepFMNet(nn.Module):
    def __init__(self, n_features, slot_field, k, hidden, rng=0):
        self.V = nn.Embedding(n_features, k, rng=rng)
        self.w = nn.Embedding(n_features, 1, std=0.0, rng=rng)
        self.w0 = nn.Parameter(np.zeros(1, np.float32))
        self.slot_field, self.n_fields = slot_field, int(slot_field.max()) + 1
        self.dnn = nn.MLP([self.n_fields * k, *hidden], rng=rng)
        self.out = nn.Linear(hidden[-1], 1, rng=rng)

    def parts(self, idx, val):
        """(y_FM, y_DNN) logits of the rows."""
        e = self.V(idx) * val[..., None]  # v_j x_j, (N, W, k)
        first = F.sum(F.reshape(self.w(idx), idx.shape) * val, axis=1)
        s = F.sum(e, axis=1)
        y_fm = self.w0 + first + 0.5 * F.sum(s * s - F.sum(e * e, axis=1), axis=1)
        S = (self.slot_field[:, None] == np.arange(self.n_fields)).astype(np.float32)
        fields = F.matmul(F.transpose(e, (0, 2, 1)), S)  # e_F = Σ_{s∈F} v x, (N,k,F)
        a0 = F.reshape(F.transpose(fields, (0, 2, 1)), (idx.shape[0], -1))
        return y_fm, F.reshape(self.out(self.dnn(a0)), (-1,))

    def forward(self, idx, val):
        y_fm, y_dnn = self.parts(idx, val)
        return y_fm + y_dnn


idx = np.array([[0, 3, 5, 6], [1, 4, 7, 5]])  # 2 rows, 4 feature slots
val = np.array([[1, 1, 0.5, 0.5], [1, 1, 1, 0.0]], dtype=np.float32)
slot_field = np.array([0, 1, 2, 2])  # user, item, genres (2 slots)
net = DeepFMNet(8, slot_field, 3, (4,), rng=0)
net.w.W.data[:, 0] = rng.normal(size=8)
V, w = net.V.W.data.astype(np.float64), net.w.W.data[:, 0].astype(np.float64)
pair = np.array([
    sum(w[j] * x for j, x in zip(idx[n], val[n]))
    + sum(V[idx[n, a]] @ V[idx[n, b]] * val[n, a] * val[n, b]
          for a, b in itertools.combinations(range(4), 2))
    for n in range(2)
])  # fmt: skip
E = V[idx] * val[..., None]
fast = (w[idx] * val).sum(1) + 0.5 * ((E.sum(1) ** 2) - (E**2).sum(1)).sum(1)
np.testing.assert_allclose(fast, pair, rtol=1e-6)
y_fm, y_dnn = net.parts(idx, val)
np.testing.assert_allclose(y_fm.numpy(), pair, rtol=1e-4, atol=1e-6)
print("y_FM: pairwise sum == O(kn) form == minirec")

# %% [markdown]
# ## 2. The DNN part on the field embeddings, and the gradient

# %%
fields = np.stack([E[:, slot_field == f].sum(1) for f in range(3)], axis=1)
a = fields.reshape(2, -1)
for layer in net.dnn.layers[::2]:
    a = np.maximum(a @ layer.W.data + layer.b.data, 0)
y_dnn_np = (a @ net.out.W.data + net.out.b.data)[:, 0]
np.testing.assert_allclose(y_dnn.numpy(), y_dnn_np, rtol=1e-4, atol=1e-6)
y = np.array([1.0, 0.0])
net.V.W.data[...] *= 30  # so the tiny ReLU layer is active in the check
assert gradcheck_module(net, lambda: losses.bce_with_logits(net(idx, val), y)).ok
print("y_DNN matches NumPy; cross-entropy gradient checked (shared embeddings)")

# %% [markdown]
# ## 3. The CTR task: rating >= 4 is a click
#
# Fields: user, item, gender, age, occupation, genres (multi-hot, values 1/#genres).
# Random 80/20 split; AUC and logloss on the 20%.

# %%
data = _course.load_ratings("ml-100k")
task = ctr_task(data, test_fraction=0.2, seed=0)
train = task.train
if not _course.FULL:
    train = train.subset(np.arange(min(len(train), 30_000)))
print(f"{task.positive_rate:.1%} clicks; training on {len(train):,} examples")
n_ep = 5 if _course.FULL else 2
res = {}
for name, hidden in [("FM (DNN off)", ()), ("DeepFM", (64, 32))]:
    m = DeepFM(k=8, hidden=hidden, n_epochs=n_ep, batch_size=256, lr=0.002)
    m.fit(train)
    res[name] = evaluate_ctr(m, task.test)
    print(name, {k: round(v, 4) for k, v in res[name].items()})
# the library's DeepFM runs the network of section 1: ours with its trained weights
# (same parameter names) gives the same click probabilities σ(logit) on test pairs
ours = DeepFMNet(m.net_.net.V.W.shape[0], m.fields_.slot_field, 8, (64, 32))
ours.load_state_dict(m.net_.net.state_dict())
tu, ti = task.test.users[:500], task.test.items[:500]
p_ours = 1 / (1 + np.exp(-ours(*m.fields_.rows(tu, ti)).numpy()))
np.testing.assert_allclose(p_ours, m.predict_pairs(tu, ti), rtol=1e-4, atol=1e-6)
print("DeepFM's trained scores == our DeepFMNet with its weights (500 test pairs)")
# the library's AUC is the Mann-Whitney statistic: check it on a sample
s = m.predict_pairs(task.test.users[:400], task.test.items[:400])
lab = task.test.ratings[:400].astype(bool)
brute = (s[lab][:, None] > s[~lab][None]) + 0.5 * (s[lab][:, None] == s[~lab][None])
assert abs(global_auc(lab, s) - brute.mean()) < 1e-9

fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(list(res), [r["AUC"] for r in res.values()])
ax.set(xlabel="test AUC (0.5 = chance)", title="CTR on ML-100k: FM alone vs DeepFM",
       xlim=(0.5, max(r["AUC"] for r in res.values()) + 0.05))  # fmt: skip
_course.savefig(fig, "13_deepfm.png")
print(f"lesson ran in {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Summary
# * $y_{FM}$: first-order weights + pairwise interactions, computed in O(kn).
# * $y_{DNN}$: an MLP on the per-field embeddings — the same $v_j$ as the FM.
# * $\hat y = \sigma(y_{FM} + y_{DNN})$, cross-entropy from the logit.
# * On ML-1M (800k training examples) DeepFM's AUC is above the FM's:
#   `benchmarks/results/ctr.md` (`minirec reproduce ctr`).


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: drop the genres field
# (`item_fields=None`) — how much AUC does it cost? Give the DNN its own
# embeddings instead of the shared ones; try sigmoid hidden units (doc 000's σ).

# %% [markdown] tags=["exercise"]
# ### Exercise 13.1: the FM interaction term in O(kn)
#
# For rows of feature indices `idx` (B, n) with values `val` (B, n) and the
# embedding table `V`, return $\sum_{a<b}\langle v_a, v_b\rangle x_a x_b$ per row
# (B,), without a double loop: use
# $\frac12\big[(\sum_a v_a x_a)^2 - \sum_a (v_a x_a)^2\big]$ summed over the k
# dimensions.


# %% tags=["exercise"]
def exercise_13_1(V, idx, val):
    # your code here
    return np.zeros(len(idx))


attempt("13_1", exercise_13_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 13.2: the DNN's input, one embedding per field
#
# `slot_field[a]` is the field of slot `a`. Return the array (B, n_fields, k) of
# $e_F = \sum_{a \in F} v_{idx_a} x_a$.


# %% tags=["exercise"]
def exercise_13_2(V, idx, val, slot_field, n_fields):
    # your code here
    return np.zeros((len(idx), n_fields, V.shape[1]))


attempt("13_2", exercise_13_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 13.3: AUC as the Mann-Whitney statistic
#
# Return the share of (positive, negative) pairs whose positive scores higher,
# counting ties as one half, for 0/1 `labels` and `scores`.


# %% tags=["exercise"]
def exercise_13_3(labels, scores):
    # your code here
    return 0.5


attempt("13_3", exercise_13_3)
