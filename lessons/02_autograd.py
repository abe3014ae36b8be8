# %% [markdown]
# # 02 · Building the autograd: derivatives as formulas, checked by finite differences
#
# **Goal.** Every neural model in minirec (NCF, DeepFM, ConvNCF, GRU4Rec, SASRec,
# AutoRec) trains through `minirec.autograd`, a reverse-mode autodiff of about 900
# lines (`minirec/autograd/tensor.py` + `ops.py`). Here we build one from scratch,
# first on scalars in about 70 lines (the size of micrograd), checked against finite
# differences and against minirec, then on arrays: each op is a forward formula plus
# one line of derivative, the chain rule glues them, and `gradcheck` (central
# differences in float64) is the referee. Then we apply the referee to a formula
# printed in the source documents, the matrix-factorization gradient of doc 000
# §4.1, and find its sign error (erratum **E1**; this is the course's full
# treatment of E1, which lessons 06 and 23 refer back to).
#
# **Covers:** `000-4.1` with erratum **E1** (doc 000 §4.1.3, the MF loss and its
# gradients), `000-2.2` in part (doc 000 §2.2.1.2, forward and backward propagation of
# a multilayer perceptron). Library: `minirec/autograd/`, `minirec/nn/`.

# %%
import math

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F

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
# ## 2. A scalar autograd engine, built here
#
# Reverse mode in one idea: every value remembers the values it was computed from
# and the local derivative with respect to each of them. To differentiate an output
# $L$, visit the values in reverse topological order (every value after all the
# values computed from it) and push its gradient to its parents with the chain rule,
# $\partial L / \partial a \mathrel{+}= (\partial L / \partial v)
# (\partial v / \partial a)$. The `+=` matters: a value used twice (like $x$ in
# $x \cdot x$) collects a gradient from each use.


# %%
def as_value(x):
    return x if isinstance(x, Value) else Value(x)


class Value:
    """A scalar that records how it was computed, for reverse-mode autodiff."""

    def __init__(self, data, parents=(), partials=()):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents  # the inputs of the op that made this value
        self.partials = partials  # d self / d parent, one number per parent

    def __add__(self, other):
        other = as_value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = as_value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, p):  # p is a plain number
        return Value(self.data**p, (self,), (p * self.data ** (p - 1),))

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-as_value(other))

    def __rsub__(self, other):
        return as_value(other) + (-self)

    def __truediv__(self, other):
        return self * as_value(other) ** -1.0

    def __rtruediv__(self, other):
        return as_value(other) * self**-1.0

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), (e,))  # (e^a)' = e^a

    def log(self):
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,))

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data))
        return Value(s, (self,), (s * (1.0 - s),))

    def relu(self):
        return Value(max(self.data, 0.0), (self,), (float(self.data > 0),))

    def backward(self):
        """Fill .grad of every value this one depends on with d self / d value."""
        order, seen = [], set()

        def visit(v):  # depth first: a value is appended after all its parents
            if id(v) not in seen:
                seen.add(id(v))
                for parent in v.parents:
                    visit(parent)
                order.append(v)

        visit(self)
        for v in order:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):  # outputs first, inputs last
            for parent, d in zip(v.parents, v.partials, strict=True):
                parent.grad += d * v.grad


# %% [markdown]
# A tiny neuron with a squared error and a penalty, where `w1` is used three
# times:
# $L = (\tanh(w_1 x_1 + w_2 x_2 + b) - y)^2 + \log(1 + e^{w_1}) + w_1 / \sigma(b)$.
# Its gradient by the engine, by central differences (section 1), and by minirec's
# array engine on 0-dimensional arrays:


# %%
x1, x2, y = 0.7, -1.3, 0.4
w0 = np.array([0.3, -0.8, 0.1])  # w1, w2, b


def neuron_loss(w1, w2, b, exp, log, tanh, sigmoid):
    z = w1 * x1 + w2 * x2 + b
    return (tanh(z) - y) ** 2 + log(1.0 + exp(w1)) + w1 / sigmoid(b)


w1, w2, b = (Value(v) for v in w0)
L = neuron_loss(w1, w2, b, Value.exp, Value.log, Value.tanh, Value.sigmoid)
L.backward()
engine = np.array([w1.grad, w2.grad, b.grad])


def np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


by_numbers = numeric_grad(
    lambda w: neuron_loss(*w, np.exp, np.log, np.tanh, np_sigmoid), w0.copy()
)
wt = [Tensor(np.array(v), requires_grad=True) for v in w0]
Lt = neuron_loss(*wt, F.exp, F.log, F.tanh, F.sigmoid)
Lt.backward()
library = np.array([float(t.grad) for t in wt])
print(f"L = {L.data:.6f}; gradient, scalar engine: {np.round(engine, 8)}")
np.testing.assert_allclose(L.data, Lt.item(), rtol=1e-12)
np.testing.assert_allclose(engine, by_numbers, rtol=1e-7)
np.testing.assert_allclose(engine, library, rtol=1e-12)
print("scalar engine == central differences == minirec.autograd")

# %% [markdown]
# The engine can also train. Gradient descent, $w \leftarrow w - \eta \nabla L$,
# on a line fit $\hat y = a x + c$ to five points (mean squared error), reaches the
# least-squares solution that `np.polyfit` computes in closed form:

# %%
xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
ys = np.array([1.1, 2.9, 5.2, 6.8, 9.1])
a, c = Value(0.0), Value(0.0)
for _ in range(2000):
    mse = sum(((a * xv + c) - yv) ** 2 for xv, yv in zip(xs, ys, strict=True)) / 5
    mse.backward()
    a, c = Value(a.data - 0.05 * a.grad), Value(c.data - 0.05 * c.grad)
slope, intercept = np.polyfit(xs, ys, 1)
print(
    f"gradient descent: a = {a.data:.5f}, c = {c.data:.5f}; polyfit {slope:.5f}, "
    f"{intercept:.5f}"
)
np.testing.assert_allclose([a.data, c.data], [slope, intercept], atol=1e-6)

# %% [markdown]
# One `Value` per number is far too slow for matrices (a 1000 x 1000 product would
# be a million nodes). minirec's `Tensor` is the same engine with an array in each
# node: the local derivative is no longer a number but a rule mapping the gradient
# of the output to the gradient of each input (a vector-Jacobian product), written
# once per op.

# %% [markdown]
# ## 3. From scalars to arrays: an op = forward + the derivative right under it
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
ax.set_xlabel("op")
ax.set_title("gradcheck of each op (float64, eps = 1e-6)")
ax.tick_params(axis="x", rotation=60)
_course.savefig(fig, "02_autograd_gradcheck.png")
plt.close(fig)

# %% [markdown]
# ## 4. Forward and backward of a multilayer perceptron (`000-2.2`, in part)
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
# linear output and the mean squared error
# $L = \frac{1}{N}\sum_n (z^{(2)}_n - y_n)^2$, whose $\delta^{(2)} = 2(z^{(2)} - y)/N$:

# %%
N = 8
Xm = rng.normal(size=(N, 3))
ym = rng.normal(size=N)
W1, b1 = rng.normal(size=(3, 5)), rng.normal(size=5)
W2, b2 = rng.normal(size=(5, 1)), rng.normal(size=1)
# forward
z1 = Xm @ W1 + b1
a1 = np.tanh(z1)
z2 = (a1 @ W2 + b2)[:, 0]
loss = np.mean((z2 - ym) ** 2)
# backward (the delta rule)
d2 = 2 * (z2 - ym)[:, None] / N
dW2, db2 = a1.T @ d2, d2.sum(0)
d1 = (d2 @ W2.T) * (1 - a1**2)
dW1, db1 = Xm.T @ d1, d1.sum(0)

mlp = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
for p, v in zip(mlp.parameters(), (W1, b1, W2, b2), strict=True):
    p.data = v.copy()  # float64 copies of the same weights
out = nn.losses.mse(F.reshape(mlp(Tensor(Xm)), (-1,)), ym)
out.backward()
np.testing.assert_allclose(out.item(), loss, rtol=1e-12)
for p, hand in zip(mlp.parameters(), (dW1, db1, dW2, db2), strict=True):
    np.testing.assert_allclose(p.grad, hand, rtol=1e-10, atol=1e-14)
print(f"MLP: loss {loss:.6f}; delta-rule gradients == autograd for W1, b1, W2, b2")

# %% [markdown]
# ## 5. The chain rule on the MF loss of doc 000 §4.1 (`000-4.1`, erratum E1)
#
# Doc 000 (`000_b4c4b935d973744a.txt`, §4.1.3 目标函数与优化求解, "objective
# function and its optimization") writes, with
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

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(curves["printed (E1)"], label="printed gradient (E1)")
ax.plot(curves["corrected"], label="corrected gradient")
ax.set_yscale("log")
ax.set_xlabel("gradient-descent step (lr 0.01)")
ax.set_ylabel("MF loss (tiny problem, log scale)")
ax.set_title("Gradient descent on the MF loss of doc 000 §4.1")
ax.legend()
fig.tight_layout()
_course.savefig(fig, "02_autograd_mf.png")
plt.close(fig)

# %% [markdown]
# ## Summary
#
# * Reverse-mode autodiff is the chain rule run backwards over the recorded
#   computation: the 70-line scalar engine above and minirec's array engine give
#   the same gradients, and both agree with central differences.
# * An array op is a forward formula and one line of derivative (a vector-Jacobian
#   product); `Tensor.backward()` runs those lines in reverse topological order and
#   sums the contributions of every path (here: every rating that touches $p_u$).
# * Central differences in float64 are an independent referee: `gradcheck` found the
#   printed MF gradient of doc 000 §4.1 wrong by the sign of its error term (E1), and
#   gradient descent with it diverges, while the corrected form matches autograd to
#   ~10 digits.
# * The embedding gather's backward is a scatter-add (`np.add.at` above); minirec does
#   it with a sort-free CSR product, several times faster (see
#   `benchmarks/results/autograd.md`).
#
# Lesson 02b uses this engine to derive the losses and optimizers the models train
# with (cross-entropy, Adam, dropout, clipping, learning-rate schedules).
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the reference solutions are in `lessons/solutions/`). Open
# questions: break an op on purpose (drop the 2 in the derivative of $a^2$ in
# `Value.__pow__`) and see which check of section 2 catches it; add `Value.__pow__`
# for a `Value` exponent.

# %% [markdown] tags=["exercise"]
# ### Exercise 02.1: central differences
#
# Return the gradient of the scalar function `f` at the float64 array `x` (any
# shape) by central differences with step `eps`, as in section 1. Leave `x` as you
# found it.


# %% tags=["exercise"]
def exercise_02_1(f, x, eps=1e-6):
    # your code here
    return np.zeros_like(x)


attempt("02_1", exercise_02_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 02.2: softplus and its derivative, stable for any input
#
# Return `(value, derivative)` of $\mathrm{softplus}(a) = \log(1 + e^a)$,
# elementwise for an array `a`. Both must stay finite for inputs like ±800 (write
# it as $\max(a, 0) + \log(1 + e^{-|a|})$; what is its derivative?).


# %% tags=["exercise"]
def exercise_02_2(a):
    # your code here
    return np.zeros_like(a), np.zeros_like(a)


attempt("02_2", exercise_02_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 02.3: the item-side MF gradient, corrected (E1)
#
# For the loss of section 5,
# $\mathcal{L} = \frac{1}{2}\sum_{(u,i)}(r_{ui} - p_u \cdot q_i)^2
# + \frac{\lambda}{2}(\lVert P \rVert_F^2 + \lVert Q \rVert_F^2)$, with the
# observed pairs `(u[t], i[t])` and ratings `r[t]`, return
# $\partial \mathcal{L} / \partial Q$ (same shape as `Q`).


# %% tags=["exercise"]
def exercise_02_3(P, Q, u, i, r, lam):
    # your code here
    return np.zeros_like(Q)


attempt("02_3", exercise_02_3)
