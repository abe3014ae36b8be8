# %% [markdown]
# # 02 · Building the autograd: derivatives as formulas, checked by finite differences
#
# **Goal.** Every neural model in minirec (NCF, DeepFM, ConvNCF, GRU4Rec, SASRec,
# AutoRec) trains through `minirec.autograd`, a reverse-mode autodiff of about 900
# lines (`minirec/autograd/tensor.py` + `ops.py`). Here we build its idea from scratch:
# each op is a forward formula plus one line of derivative, the chain rule glues them,
# and `gradcheck` (central differences in float64) is the referee. Then we apply the
# referee to a formula printed in the source documents — the matrix-factorization
# gradient of doc 000 §4.1 — and find its sign error (erratum **E1**).
#
# **Covers:** `000-4.1` with erratum **E1** (doc 000 §4.1.3, the MF loss and its
# gradients), `000-2.2` in part (doc 000 §2.2.1.2, forward and backward propagation of
# a multilayer perceptron). Library: `minirec/autograd/`, `minirec/nn/`,
# `minirec/optim.py`.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.data import random_split
from minirec.optim import Adam

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A derivative is a number you can check
#
# For a scalar function $f$ the central difference
# $\frac{f(x+\varepsilon) - f(x-\varepsilon)}{2\varepsilon}$ has error
# $O(\varepsilon^2)$: with $\varepsilon = 10^{-6}$ in float64 it agrees with the true
# derivative to about 9 digits. That is the whole of `gradcheck`: perturb each input
# element, compare. Ten lines of NumPy:


# %%
def numeric_grad(f, x, eps=1e-6):
    """d f(x) / dx for a scalar function f of an array x, by central differences."""
    g = np.zeros_like(x)
    for k in range(x.size):
        old = x.flat[k]
        x.flat[k] = old + eps
        up = f(x)
        x.flat[k] = old - eps
        down = f(x)
        x.flat[k] = old
        g.flat[k] = (up - down) / (2 * eps)
    return g


x = rng.normal(size=5)
sig = 1 / (1 + np.exp(-x))
by_formula = sig * (1 - sig)  # d sigma / dx = sigma (1 - sigma)
by_numbers = numeric_grad(lambda v: np.sum(1 / (1 + np.exp(-v))), x.copy())
np.testing.assert_allclose(by_formula, by_numbers, rtol=1e-8)
print("sigmoid' by formula:", np.round(by_formula, 6))

# %% [markdown]
# ## 2. An op = forward + the derivative right under it
#
# Reverse mode needs, for each op $y = f(a, b)$, the map from the upstream gradient
# $g = \partial L / \partial y$ to $\partial L / \partial a$ and $\partial L / \partial b$.
# These are the lines of `minirec/autograd/ops.py` (one comment each):
#
# | op | forward | backward (given $g$) |
# |---|---|---|
# | mul | $a b$ | $g b$, $g a$ (then summed over broadcast axes) |
# | div | $a / b$ | $g / b$, $-g a / b^2$ |
# | exp | $e^a$ | $g e^a$ |
# | log | $\log a$ | $g / a$ |
# | sigmoid | $\sigma(a)$ | $g \sigma(a)(1-\sigma(a))$ |
# | tanh | $\tanh a$ | $g (1 - \tanh^2 a)$ |
# | relu | $\max(a, 0)$ | $g [a > 0]$ |
# | log_sigmoid | $-\mathrm{softplus}(-a)$ | $g \sigma(-a)$ |
# | matmul | $A B$ | $g B^\top$, $A^\top g$ |
# | sum | $\sum a$ | $g$ broadcast back |
# | softmax | $s_i = e^{a_i} / \sum_j e^{a_j}$ | $s \odot (g - \sum_j g_j s_j)$ |
# | embedding | $W[\mathrm{idx}]$ | scatter-add: row $\mathrm{idx}_k$ of $\partial W$ gets $g_k$ |
#
# A tiny engine that records these closures and runs them in reverse topological
# order is what `Tensor.backward()` does. Here is the same idea in NumPy for
# $L = \sum \sigma(x W)$, written out by hand and compared with minirec:

# %%
X = rng.normal(size=(4, 3))
W = rng.normal(size=(3, 2))
# forward, keeping what the backward needs
Z = X @ W
S = 1 / (1 + np.exp(-Z))
L = S.sum()
# backward, one op at a time in reverse order
gS = np.ones_like(S)  # d L / d S
gZ = gS * S * (1 - S)  # sigmoid
gW = X.T @ gZ  # matmul, right operand
gX = gZ @ W.T  # matmul, left operand

Xt, Wt = Tensor(X, requires_grad=True), Tensor(W, requires_grad=True)
Lt = F.sigmoid(Xt @ Wt).sum()
Lt.backward()
np.testing.assert_allclose(Lt.item(), L)
np.testing.assert_allclose(Wt.grad, gW, rtol=1e-12)
np.testing.assert_allclose(Xt.grad, gX, rtol=1e-12)
print("hand-written backward == minirec autograd")

# %% [markdown]
# Now let `gradcheck` referee every op in the table (and a few more) at once. It
# reduces any output to a scalar with fixed random weights, perturbs every input
# element, and reports the worst element it found.

# %%
a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))  # b broadcasts against a
idx = np.array([0, 2, 2, 1])
checks = {
    "mul (broadcast)": (lambda a, b: a * b, (a, b)),
    "div": (lambda a, b: a / (b * b + 1), (a, b)),
    "exp": (F.exp, (a,)),
    "log": (lambda a: F.log(a * a + 1), (a,)),
    "sigmoid": (F.sigmoid, (a,)),
    "tanh": (F.tanh, (a,)),
    "relu": (F.relu, (a + np.sign(a) * 0.1,)),  # stay away from the kink at 0
    "log_sigmoid": (F.log_sigmoid, (a,)),
    "matmul": (F.matmul, (a, rng.normal(size=(4, 2)))),
    "sum(axis=0)": (lambda a: F.sum(a, axis=0), (a,)),
    "max(axis=1)": (lambda a: F.max(a, axis=1), (a,)),
    "softmax": (F.softmax, (a,)),
    "log_softmax": (F.log_softmax, (a,)),
    "embedding": (lambda W: F.embedding(W, idx), (rng.normal(size=(3, 2)),)),
    "layer_norm": (F.layer_norm, (a,)),
    "conv2d": (
        lambda x, w: F.conv2d(x, w, stride=2),
        (rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(3, 2, 2, 2))),
    ),
}
errors = {}
for name, (f, inputs) in checks.items():
    res = gradcheck(f, *inputs)  # raises AssertionError with the worst element
    errors[name] = res.max_abs_err
    print(f"{name:<16} worst abs error {res.max_abs_err:.1e}")
assert max(errors.values()) < 1e-7

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(list(errors), [max(e, 1e-17) for e in errors.values()], color="tab:blue")
ax.set_yscale("log")
ax.set_ylabel("worst |autograd - finite diff.|")
ax.set_title("gradcheck of each op (float64, eps = 1e-6)")
ax.tick_params(axis="x", rotation=60)
_course.savefig(fig, "02_autograd_gradcheck.png")
plt.close(fig)

# %% [markdown]
# ## 3. Forward and backward of a multilayer perceptron (`000-2.2`, in part)
#
# Doc 000 §2.2.1.2 is titled "多层感知机的前向传播与反向传播" (forward and backward
# propagation of the multilayer perceptron) but gives no formulas. The standard ones,
# for $a^{(0)} = x$, $z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}$, $a^{(l)} = \phi(z^{(l)})$:
#
# $$\delta^{(L)} = \frac{\partial L}{\partial z^{(L)}}, \qquad
#   \delta^{(l)} = \big(\delta^{(l+1)} W^{(l+1)\top}\big) \odot \phi'(z^{(l)}), \qquad
#   \frac{\partial L}{\partial W^{(l)}} = a^{(l-1)\top} \delta^{(l)}, \qquad
#   \frac{\partial L}{\partial b^{(l)}} = \textstyle\sum_{\text{rows}} \delta^{(l)}$$
#
# (row-vector convention of `docs/notation.md`). A 2-layer tanh network with a
# logistic output and the binary log loss, whose $\delta^{(L)} = (\hat y - y)/N$:

# %%
N = 8
Xm = rng.normal(size=(N, 3))
ym = (rng.random(N) < 0.5).astype(float)
W1, b1 = rng.normal(size=(3, 5)), rng.normal(size=5)
W2, b2 = rng.normal(size=(5, 1)), rng.normal(size=1)
# forward
z1 = Xm @ W1 + b1
a1 = np.tanh(z1)
z2 = (a1 @ W2 + b2)[:, 0]
y_hat = 1 / (1 + np.exp(-z2))
loss = -np.mean(ym * np.log(y_hat) + (1 - ym) * np.log(1 - y_hat))
# backward (the delta rule)
d2 = (y_hat - ym)[:, None] / N
dW2, db2 = a1.T @ d2, d2.sum(0)
d1 = (d2 @ W2.T) * (1 - a1**2)
dW1, db1 = Xm.T @ d1, d1.sum(0)

mlp = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
for p, v in zip(mlp.parameters(), (W1, b1, W2, b2), strict=True):
    p.data = v.copy()  # float64 copies of the same weights
out = nn.losses.bce_with_logits(F.reshape(mlp(Tensor(Xm)), (-1,)), ym)
out.backward()
np.testing.assert_allclose(out.item(), loss, rtol=1e-12)
for p, hand in zip(mlp.parameters(), (dW1, db1, dW2, db2), strict=True):
    np.testing.assert_allclose(p.grad, hand, rtol=1e-10, atol=1e-14)
print(f"MLP: loss {loss:.6f}; delta-rule gradients == autograd for W1, b1, W2, b2")

# %% [markdown]
# ## 4. The chain rule on the MF loss of doc 000 §4.1 (`000-4.1`, erratum E1)
#
# Doc 000 (`000_b4c4b935d973744a.txt`, §4.1.3 目标函数与优化求解) writes, with
# $\hat r_{ui} = p_u^\top q_i$ ($P \in \mathbb{R}^{k \times m}$ holds the $p_u$ as
# columns; minirec stores them as rows, the same model transposed):
#
# $$\mathcal{L}=\frac{1}{2}\sum_{u,i \in R}(r_{ui}-\hat{r}_{ui})^2
#   +\frac{\lambda}{2}(\lVert P \rVert_F^2 + \lVert Q \rVert_F^2)$$
#
# and prints the gradients
#
# $$\frac{\partial \mathcal{L}}{\partial p_u}=\sum_{i \in R_u}(r_{ui}-\hat{r}_{ui})q_i
#   +\lambda p_u, \qquad
#   \frac{\partial \mathcal{L}}{\partial q_i}=\sum_{u \in R_i}(r_{ui}-\hat{r}_{ui})p_u
#   +\lambda q_i .$$
#
# **Erratum E1.** The chain rule through $e_{ui} = r_{ui} - p_u^\top q_i$ gives
# $\partial e_{ui} / \partial p_u = -q_i$, so the error term needs a minus sign:
#
# $$\frac{\partial \mathcal{L}}{\partial p_u}=-\sum_{i \in R_u}(r_{ui}-\hat{r}_{ui})q_i
#   +\lambda p_u .$$
#
# (Stepping *along* the printed "gradient" happens to be the right SGD update
# $p_u \leftarrow p_u + \eta (e_{ui} q_i - \lambda p_u)$ only if one also flips the
# sign of the $\lambda$ term — which the printed form does not do.) Let the numbers
# decide, on a tiny problem: 5 users, 4 items, $k = 2$.

# %%
m, n, k, lam = 5, 4, 2, 0.1
P0 = rng.normal(size=(m, k))  # rows p_u
Q0 = rng.normal(size=(n, k))  # rows q_i
obs_u, obs_i = np.nonzero(rng.random((m, n)) < 0.6)
r = rng.integers(1, 6, size=len(obs_u)).astype(float)


def mf_loss(P, Q):
    e = r - np.sum(P[obs_u] * Q[obs_i], axis=1)
    return 0.5 * np.sum(e**2) + lam / 2 * (np.sum(P**2) + np.sum(Q**2))


def mf_grads(P, Q, sign):
    """sign=+1: the printed form; sign=-1: the corrected one."""
    e = r - np.sum(P[obs_u] * Q[obs_i], axis=1)
    gP, gQ = lam * P, lam * Q
    np.add.at(gP, obs_u, sign * e[:, None] * Q[obs_i])  # Σ_i e_ui q_i, per user
    np.add.at(gQ, obs_i, sign * e[:, None] * P[obs_u])  # Σ_u e_ui p_u, per item
    return gP, gQ


num_P = numeric_grad(lambda P: mf_loss(P, Q0), P0.copy())
num_Q = numeric_grad(lambda Q: mf_loss(P0, Q), Q0.copy())
printed_P, printed_Q = mf_grads(P0, Q0, sign=+1)
fixed_P, fixed_Q = mf_grads(P0, Q0, sign=-1)
err_printed = max(np.abs(printed_P - num_P).max(), np.abs(printed_Q - num_Q).max())
err_fixed = max(np.abs(fixed_P - num_P).max(), np.abs(fixed_Q - num_Q).max())
print(f"printed gradient  : worst error vs finite differences {err_printed:.3g}")
print(f"corrected gradient: worst error vs finite differences {err_fixed:.3g}")
assert err_printed > 0.1  # the printed form fails the check
assert err_fixed < 1e-6  # the corrected form passes

# %% [markdown]
# The same check with the library's referee: write the loss with minirec ops (an
# `embedding` gather for $p_u$, $q_i$ — its backward is the scatter-add that the
# `np.add.at` lines above do by hand), let autograd differentiate it, and compare
# with both hand-written forms. `gradcheck` passes the autograd gradient; the
# printed form disagrees with it, the corrected form matches.


# %%
def mf_loss_t(P, Q):
    pu, qi = F.embedding(P, obs_u), F.embedding(Q, obs_i)
    e = Tensor(r) - F.sum(pu * qi, axis=1)
    return 0.5 * F.sum(e * e) + lam / 2 * (F.sum(P * P) + F.sum(Q * Q))


res = gradcheck(mf_loss_t, P0, Q0)
print(res)
Pt, Qt = Tensor(P0, requires_grad=True), Tensor(Q0, requires_grad=True)
mf_loss_t(Pt, Qt).backward()
np.testing.assert_allclose(Pt.grad, fixed_P, rtol=1e-10)
np.testing.assert_allclose(Qt.grad, fixed_Q, rtol=1e-10)
assert not np.allclose(Pt.grad, printed_P)
print("autograd == corrected gradient (E1); autograd != printed gradient")

# %% [markdown]
# What the sign error does in practice: gradient descent with the printed gradient
# climbs the loss instead of descending it.

# %%
curves = {}
for label, sign in (("printed (E1)", +1), ("corrected", -1)):
    P, Q = P0.copy(), Q0.copy()
    hist = [mf_loss(P, Q)]
    for _ in range(30):
        gP, gQ = mf_grads(P, Q, sign)
        P, Q = P - 0.01 * gP, Q - 0.01 * gQ
        hist.append(mf_loss(P, Q))
        if hist[-1] > 1e6:  # diverging: stop before it overflows
            break
    curves[label] = hist
assert curves["corrected"][-1] < curves["corrected"][0] < curves["printed (E1)"][-1]
for label, hist in curves.items():
    print(
        f"{label:<13} loss {hist[0]:.3g} -> {hist[-1]:.3g} after {len(hist) - 1} steps"
    )

# %% [markdown]
# ## 5. The library call: MF trained by autograd + Adam
#
# The same loss on real ratings, written with `nn.Embedding` and trained by
# `minirec.optim.Adam` — no hand-written gradient at all. Protocol: MovieLens 100K
# when `MINIREC_DATA` is set (else the synthetic planted-rank data), random 90/10
# split of the ratings (seed 0); mean squared error on the mini-batch plus
# $\lambda/2$ times the squared norms of the batch's embedding rows; RMSE on the
# held-out 10%.

# %%
data = _course.load_ratings("ml-100k")
train, test = random_split(data, test_fraction=0.1, seed=0)
mu = float(train.ratings.mean())


class MF(nn.Module):
    """r_hat = mu + b_u + b_i + p_u . q_i"""

    def __init__(self, n_users, n_items, k):
        self.P = nn.Embedding(n_users, k, std=0.1, rng=1)
        self.Q = nn.Embedding(n_items, k, std=0.1, rng=2)
        self.bu = nn.Embedding(n_users, 1, std=0.0, rng=3)
        self.bi = nn.Embedding(n_items, 1, std=0.0, rng=4)

    def forward(self, u, i):
        pu, qi = self.P(u), self.Q(i)
        dot = F.sum(pu * qi, axis=1)
        bias = F.reshape(self.bu(u) + self.bi(i), (-1,))
        return mu + bias + dot, (pu, qi)


model = MF(data.n_users, data.n_items, k=16)
opt = Adam(model.parameters(), lr=0.01)
epochs = 30 if _course.FULL else 8
batch, reg = (1024 if len(train) > 50_000 else 256), 0.5
losses, rmses = [], []
t0 = time.perf_counter()
for epoch in range(epochs):
    order = np.random.default_rng(epoch).permutation(len(train))
    total = 0.0
    for s in range(0, len(order), batch):
        rows = order[s : s + batch]
        pred, (pu, qi) = model(train.users[rows], train.items[rows])
        loss = nn.losses.mse(pred, train.ratings[rows])
        loss = loss + nn.losses.l2_penalty([pu, qi], reg) * (1 / len(rows))
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(rows)
    losses.append(total / len(order))
    pred, _ = model(test.users, test.items)
    rmses.append(float(np.sqrt(np.mean((pred.data - test.ratings) ** 2))))
secs = time.perf_counter() - t0
rmse_mean = float(np.sqrt(np.mean((mu - test.ratings) ** 2)))
print(
    f"{epochs} epochs in {secs:.1f} s; test RMSE {rmses[-1]:.4f} "
    f"(global mean: {rmse_mean:.4f})"
)
assert rmses[-1] < rmse_mean - 0.05
assert losses[-1] < losses[0]

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
ax[0].plot(curves["printed (E1)"], label="printed gradient (E1)")
ax[0].plot(curves["corrected"], label="corrected gradient")
ax[0].set_yscale("log")
ax[0].set_xlabel("gradient-descent step (lr 0.01)")
ax[0].set_ylabel("MF loss (tiny problem)")
ax[0].legend()
ax[1].plot(range(1, epochs + 1), rmses, marker="o", label="MF (autograd + Adam)")
ax[1].axhline(rmse_mean, color="gray", ls="--", label="global mean")
ax[1].set_xlabel("epoch")
ax[1].set_ylabel("test RMSE")
ax[1].legend()
fig.tight_layout()
_course.savefig(fig, "02_autograd_mf.png")
plt.close(fig)

# %% [markdown]
# ## Summary
#
# * An op is a forward formula and one line of derivative; `Tensor.backward()` applies
#   the chain rule by running those lines in reverse topological order and summing
#   the contributions of every path (here: every rating that touches $p_u$).
# * Central differences in float64 are an independent referee: `gradcheck` found the
#   printed MF gradient of doc 000 §4.1 wrong by the sign of its error term (E1), and
#   gradient descent with it diverges, while the corrected form matches autograd to
#   ~10 digits.
# * The embedding gather's backward is a scatter-add (`np.add.at` above); minirec does
#   it with a sort-free CSR product, several times faster (see
#   `benchmarks/results/autograd.md`).
#
# ## Exercises
#
# 1. Write `F.softplus`'s backward from $\log(1 + e^a)$ and check it with
#    `gradcheck`. Why does minirec compute softplus as
#    $\max(a, 0) + \log(1 + e^{-|a|})$?
# 2. Derive $\partial \mathcal{L} / \partial b_u$ for the biased MF of section 5 and
#    check it against `model.bu.W.grad` after one `backward()`.
# 3. Break an op on purpose (drop the 2 in the derivative of $a^2$ via
#    `minirec.autograd.tensor.make_node`) and read `gradcheck`'s report: which
#    element is the worst, and by how much?
# 4. Take the FM gradient of doc 000 §4.2,
#    $\partial \hat y / \partial v_{i,f} = x_i \sum_j v_{j,f} x_j - v_{i,f} x_i^2$,
#    and verify it with `gradcheck` on the $O(kn)$ form of $\hat y$.
