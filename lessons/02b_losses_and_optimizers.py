# %% [markdown]
# # 02b · Losses and optimizers: cross-entropy, Adam, dropout, clipping, schedules
#
# **Goal.** The neural models of this course (lessons 03 and 11-23) train with a
# handful of pieces that the source documents name but never write out: the
# cross-entropy (log) loss, the Adam optimizer, dropout, gradient clipping and a
# learning-rate schedule. Each one is derived here, written in a few lines of NumPy,
# and checked against minirec (`minirec/nn/losses.py`, `minirec/optim.py`,
# `minirec/nn/layers.py::Dropout`), against finite differences, and against PyTorch
# when it is installed. Later lessons use them and refer back here.
#
# **Covers:** the losses and optimizers behind `000-2.2` (doc 000 §2.2, training a
# neural network), `004-ce` (doc 004's cross-entropy, whose printed gradient lesson
# 16 corrects: erratum E7) and `000-3.1` (NCF's log loss, lesson 11). Library:
# `minirec/nn/losses.py`, `minirec/optim.py`, `minirec/nn/layers.py`.

# %%
import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.optim import SGD, Adam, CosineLR, ExponentialLR, StepLR, clip_grad_norm

try:  # PyTorch is an independent reference when installed (it is not required)
    import torch
except ImportError:
    torch = None
    print("PyTorch not installed: its comparisons below are skipped")

rng = np.random.default_rng(0)


def T(a):
    """A float64 leaf tensor that wants its gradient."""
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def numeric_grad(f, x, eps=1e-6):
    """d f(x) / dx by central differences (lesson 02, section 1)."""
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


# %% [markdown]
# ## 1. Binary cross-entropy, derived
#
# A click (or a "liked" rating) is a 0/1 label $y$. Model its probability with the
# logistic function of a score (logit) $z$: $p = \sigma(z) = 1 / (1 + e^{-z})$. The
# likelihood of one label is $p^y (1-p)^{1-y}$; its negative log is the
# **binary cross-entropy** (log loss)
#
# $$\ell(z, y) = -y \log \sigma(z) - (1 - y) \log(1 - \sigma(z)).$$
#
# With $\log \sigma(z) = -\log(1 + e^{-z})$ and $\log(1 - \sigma(z)) = -z - \log(1 +
# e^{-z})$, it simplifies to $\ell = \mathrm{softplus}(z) - y z$, where
# $\mathrm{softplus}(z) = \log(1 + e^z)$. Since $\mathrm{softplus}'(z) = \sigma(z)$,
#
# $$\frac{\partial \ell}{\partial z} = \sigma(z) - y,$$
#
# the prediction minus the label: the same form as the squared error's $\hat y - y$,
# which is why the log loss trains well even when $\sigma$ saturates. Averaged over
# $N$ examples, the gradient is $(\sigma(z) - y) / N$. Written naively,
# $\log \sigma(z)$ gives $\log 0 = -\infty$ once $e^{-z}$ overflows; the softplus
# form computed as $\max(z, 0) + \log(1 + e^{-|z|})$ stays finite for any $z$.

# %%
z = np.array([-800.0, -4.0, -0.5, 0.0, 1.5, 30.0, 800.0])
y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])


def bce_naive(z, y):
    p = 1 / (1 + np.exp(-z))
    return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))


def bce(z, y):
    softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    return np.mean(softplus - y * z)


def bce_grad(z, y):
    sigmoid = 0.5 * (1 + np.tanh(z / 2))  # = 1 / (1 + e^-z), without overflow
    return (sigmoid - y) / len(z)


with np.errstate(all="ignore"):
    print(
        f"naive log loss at logits ±800: {bce_naive(z, y)}; softplus form: {bce(z, y):.4f}"
    )
    assert not np.isfinite(bce_naive(z, y))
zt = T(z)
lib = nn.losses.bce_with_logits(zt, y)
lib.backward()
np.testing.assert_allclose(bce(z, y), lib.item(), rtol=1e-12)
np.testing.assert_allclose(bce_grad(z, y), zt.grad, rtol=1e-10, atol=1e-15)
zm = z[1:-1]  # finite differences away from the ±800 plateaus
num = numeric_grad(lambda v: bce(v, y[1:-1]), zm.copy())
np.testing.assert_allclose(bce_grad(zm, y[1:-1]), num, rtol=1e-6, atol=1e-9)
print(
    "BCE: softplus(z) - y z; gradient (sigmoid(z) - y)/N == minirec == finite differences"
)
if torch is not None:
    zt_ = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(zt_, torch.tensor(y))
    lt.backward()
    np.testing.assert_allclose(bce(z, y), lt.item(), rtol=1e-12)
    np.testing.assert_allclose(bce_grad(z, y), zt_.grad.numpy(), rtol=1e-10, atol=1e-15)
    print(
        "               == torch binary_cross_entropy_with_logits (loss and gradient)"
    )

# %% [markdown]
# ## 2. Softmax cross-entropy, the multi-class case
#
# With $C$ classes (for a next-item model: every item of the catalog) and logits
# $z \in \mathbb{R}^C$, the softmax $s_c = e^{z_c} / \sum_j e^{z_j}$ is a
# distribution, and the negative log-likelihood of the true class $y$ is
#
# $$\ell(z, y) = -\log s_y = \log \sum_j e^{z_j} - z_y, \qquad
#   \frac{\partial \ell}{\partial z_c} = s_c - [c = y].$$
#
# Again "prediction minus label", now with a one-hot label. Subtracting
# $\max_j z_j$ before exponentiating leaves $\ell$ unchanged and avoids overflow.
# With $C = 2$ and logits $(0, z)$ it is exactly the binary cross-entropy above.

# %%
Z = rng.normal(size=(5, 4)) * 3
labels = np.array([0, 3, 1, 1, 2])


def softmax_ce(Z, labels):
    M = Z - Z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(M).sum(axis=1))
    return np.mean(logsumexp - M[np.arange(len(Z)), labels])


def softmax_ce_grad(Z, labels):
    S = np.exp(Z - Z.max(axis=1, keepdims=True))
    S /= S.sum(axis=1, keepdims=True)
    S[np.arange(len(Z)), labels] -= 1
    return S / len(Z)


Zt = T(Z)
lib = nn.losses.cross_entropy(Zt, labels)
lib.backward()
np.testing.assert_allclose(softmax_ce(Z, labels), lib.item(), rtol=1e-12)
np.testing.assert_allclose(softmax_ce_grad(Z, labels), Zt.grad, rtol=1e-10, atol=1e-15)
num = numeric_grad(lambda V: softmax_ce(V, labels), Z.copy())
np.testing.assert_allclose(softmax_ce_grad(Z, labels), num, rtol=1e-6, atol=1e-9)
two = np.stack([np.zeros(len(z) - 2), z[1:-1]], axis=1)  # logits (0, z)
np.testing.assert_allclose(softmax_ce(two, y[1:-1].astype(int)), bce(z[1:-1], y[1:-1]))
print("softmax CE: gradient softmax(z) - onehot(y) == minirec == finite differences;")
print("            with two classes (0, z) it is the binary cross-entropy")
if torch is not None:
    Zt_ = torch.tensor(Z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(Zt_, torch.tensor(labels))
    lt.backward()
    np.testing.assert_allclose(softmax_ce(Z, labels), lt.item(), rtol=1e-12)
    np.testing.assert_allclose(softmax_ce_grad(Z, labels), Zt_.grad.numpy(), rtol=1e-10)
    print("            == torch cross_entropy (loss and gradient)")

# %% [markdown]
# ## 3. Optimizers: SGD, momentum, Adam
#
# Plain gradient descent (lesson 02) steps $\theta \leftarrow \theta - \eta g$ with
# $g = \nabla L(\theta)$; *stochastic* gradient descent uses the gradient of a
# mini-batch. **Momentum** keeps a running sum of past gradients,
# $v \leftarrow \mu v + g$, $\theta \leftarrow \theta - \eta v$, which speeds up
# progress along directions where successive gradients agree. **Adam** (Kingma & Ba
# 2015) keeps running means of the gradient and of its square, corrects their bias
# towards 0 in the first steps, and scales each coordinate's step by the inverse
# root of its mean square, so every parameter moves by about $\eta$ per step
# whatever the scale of its gradient:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
#   v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
#   \hat m_t = \frac{m_t}{1-\beta_1^t}, \quad \hat v_t = \frac{v_t}{1-\beta_2^t}, \quad
#   \theta_t = \theta_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}.$$
#
# Written out, on a badly scaled quadratic $L = \frac12 \sum_j h_j \theta_j^2$ with
# curvatures $h$ from 0.01 to 100, then checked against `minirec.optim.Adam` and
# `torch.optim.Adam` step by step.

# %%
h = np.array([100.0, 1.0, 0.01])
theta0 = np.array([1.0, -2.0, 3.0])


def quad(theta):
    return 0.5 * np.sum(h * theta**2)


def adam_steps(theta, n_steps, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    m, v, path = np.zeros_like(theta), np.zeros_like(theta), [theta.copy()]
    for t in range(1, n_steps + 1):
        g = h * theta  # gradient of the quadratic
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(theta.copy())
    return np.array(path)


def library_steps(make_opt, n_steps):
    p = nn.Parameter(theta0.copy())
    opt, path = make_opt([p]), [theta0.copy()]
    for _ in range(n_steps):
        opt.zero_grad()
        (0.5 * (Tensor(h) * p * p).sum()).backward()
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


n_steps = 200
mine = adam_steps(theta0, n_steps)
lib = library_steps(lambda ps: Adam(ps, lr=0.1), n_steps)
np.testing.assert_allclose(mine, lib, rtol=1e-10, atol=1e-12)
print(f"Adam by hand == minirec.optim.Adam over {n_steps} steps")
if torch is not None:
    pt = torch.tensor(theta0, requires_grad=True)
    opt_t, path_t = torch.optim.Adam([pt], lr=0.1), [theta0.copy()]
    for _ in range(n_steps):
        opt_t.zero_grad()
        (0.5 * (torch.tensor(h) * pt * pt).sum()).backward()
        opt_t.step()
        path_t.append(pt.detach().numpy().copy())
    np.testing.assert_allclose(mine, np.array(path_t), rtol=1e-10, atol=1e-12)
    print("                == torch.optim.Adam")

# the largest stable plain-SGD step is 2 / max(h) = 0.02: the flat direction crawls
sgd = library_steps(lambda ps: SGD(ps, lr=0.019), n_steps)
mom = library_steps(lambda ps: SGD(ps, lr=0.019, momentum=0.9), n_steps)
# momentum by hand: v <- mu v + g, theta <- theta - lr v
v_, th_ = np.zeros(3), theta0.copy()
for _ in range(n_steps):
    v_ = 0.9 * v_ + h * th_
    th_ = th_ - 0.019 * v_
np.testing.assert_allclose(th_, mom[-1], rtol=1e-10, atol=1e-12)
losses = {
    "SGD (lr 0.019)": [quad(t) for t in sgd],
    "SGD + momentum 0.9": [quad(t) for t in mom],
    "Adam (lr 0.1)": [quad(t) for t in mine],
}
for name, curve in losses.items():
    print(f"{name:<20} loss {curve[0]:.3g} -> {curve[-1]:.3g} after {n_steps} steps")
assert losses["Adam (lr 0.1)"][-1] < losses["SGD (lr 0.019)"][-1]
assert losses["SGD + momentum 0.9"][-1] < losses["SGD (lr 0.019)"][-1]

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, curve in losses.items():
    ax.plot(curve, label=name)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("loss (log scale)")
ax.set_title("A badly scaled quadratic (curvatures 100, 1, 0.01)")
ax.legend()
_course.savefig(fig, "02b_optimizers.png")

# %% [markdown]
# ## 4. Dropout: noise in training, identity in evaluation
#
# Dropout (Srivastava et al. 2014) zeroes each activation with probability $p$
# during training, so that no unit can rely on a particular other one. *Inverted*
# dropout scales the survivors by $1/(1-p)$, so the expected output equals the
# input, $\mathbb{E}[m_j x_j / (1-p)] = x_j$ with $m_j \sim \mathrm{Bernoulli}(1-p)$,
# and evaluation needs no rescaling: it is the identity. The gradient flows only
# through the kept units, scaled the same way.

# %%
p_drop = 0.3
x = rng.normal(size=(400, 50)).astype(np.float32)
layer = nn.Dropout(p_drop, rng=np.random.default_rng(5))
xt = Tensor(x, requires_grad=True)
out = layer(xt)
(out * Tensor(np.ones_like(x))).sum().backward()
u = np.random.default_rng(5).random(x.shape, dtype=np.float32)  # minirec's draw
keep = u >= p_drop
np.testing.assert_allclose(out.data, np.where(keep, x / (1 - p_drop), 0), rtol=1e-6)
np.testing.assert_allclose(xt.grad, keep / (1 - p_drop), rtol=1e-6)
share = 1 - keep.mean()
sd = np.sqrt(p_drop * (1 - p_drop) / keep.size)
print(
    f"training: {share:.4f} of the units dropped (p = {p_drop}, ±{sd:.4f}); "
    "survivors scaled by 1/(1-p)"
)
assert abs(share - p_drop) < 4 * sd
# the mean over many draws approaches the input (inverted scaling)
many = np.mean([nn.Dropout(p_drop, rng=s)(Tensor(x[:4])).data for s in range(2000)], 0)
assert np.abs(many - x[:4]).max() < 0.15 * np.abs(x[:4]).max()
layer.eval()
np.testing.assert_array_equal(layer(Tensor(x)).data, x)
print("evaluation: identity; mean of 2,000 training draws ≈ the input")
if torch is not None:
    td = torch.nn.Dropout(p_drop)
    ot = td(torch.tensor(x)).numpy()
    kept = ot != 0
    np.testing.assert_allclose(ot[kept], x[kept] / (1 - p_drop), rtol=1e-6)
    td.eval()
    np.testing.assert_array_equal(td(torch.tensor(x)).numpy(), x)
    print("torch.nn.Dropout: the same scaling of the survivors, identity in eval mode")

# %% [markdown]
# ## 5. Gradient clipping by the global norm
#
# Recurrent networks (lesson 03's BPTT, GRU4Rec in lesson 17) can produce a rare
# huge gradient that throws the parameters far away. Clipping by the global norm
# rescales all gradients together when their joint L2 norm
# $\lVert g \rVert = \sqrt{\sum_{\text{params}} \sum g^2}$ exceeds a threshold $c$:
# $g \leftarrow g \cdot c / \lVert g \rVert$. The direction is kept, only the length
# changes, and gradients already shorter than $c$ are left alone.

# %%
grads = [rng.normal(size=(3, 4)) * 5, rng.normal(size=4) * 5]
max_norm = 2.0


def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(float((g * g).sum()) for g in grads))
    scale = min(1.0, max_norm / (norm + 1e-6))  # the 1e-6 of torch and minirec
    return [g * scale for g in grads], norm


clipped, norm = clip_by_norm(grads, max_norm)
after = np.sqrt(sum(float((g * g).sum()) for g in clipped))
print(f"norm before {norm:.4f}, after clipping {after:.6f} (max_norm {max_norm})")
assert norm > max_norm and abs(after - max_norm) < 1e-5
np.testing.assert_allclose(
    clipped[0] / np.linalg.norm(clipped[0]), grads[0] / np.linalg.norm(grads[0])
)  # same direction
params = [T(np.zeros_like(g)) for g in grads]
for p, g in zip(params, grads, strict=True):
    p.grad = g.copy()
lib_norm = clip_grad_norm(params, max_norm)
np.testing.assert_allclose(lib_norm, norm, rtol=1e-12)
for p, c in zip(params, clipped, strict=True):
    np.testing.assert_allclose(p.grad, c, rtol=1e-12)
small, small_norm = clip_by_norm([g * 0.01 for g in grads], max_norm)
np.testing.assert_allclose(small[0], grads[0] * 0.01)  # short gradients unchanged
print("clip by hand == minirec.optim.clip_grad_norm; short gradients are unchanged")
if torch is not None:
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(tp, grads, strict=True):
        p.grad = torch.tensor(g)
    t_norm = torch.nn.utils.clip_grad_norm_(tp, max_norm)
    np.testing.assert_allclose(float(t_norm), norm, rtol=1e-12)
    for p, c in zip(tp, clipped, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), c, rtol=1e-12)
    print("                == torch.nn.utils.clip_grad_norm_")

# %% [markdown]
# ## 6. Learning-rate schedules
#
# A step size that is right at the start (far from a minimum) is too large near
# the end, where mini-batch noise keeps the parameters bouncing. A schedule lowers
# $\eta$ over the epochs $e$: **step** decay $\eta_0 \gamma^{\lfloor e / s \rfloor}$,
# **exponential** $\eta_0 \gamma^e$, **cosine**
# $\eta_{\min} + \frac12(\eta_0 - \eta_{\min})(1 + \cos(\pi e / E))$ over $E$ epochs.
# minirec's schedulers set `optimizer.lr` once per `step()`; here they are checked
# against the formulas and against torch's.

# %%
lr0, n_epochs = 0.1, 30
formulas = {
    "step (s=10, γ=0.5)": lambda e: lr0 * 0.5 ** (e // 10),
    "exponential (γ=0.9)": lambda e: lr0 * 0.9**e,
    "cosine (E=30, to 0.01)": lambda e: (
        0.01 * lr0 + 0.5 * (lr0 - 0.01 * lr0) * (1 + np.cos(np.pi * e / 30))
    ),
}
makers = {
    "step (s=10, γ=0.5)": lambda o: StepLR(o, step_size=10, gamma=0.5),
    "exponential (γ=0.9)": lambda o: ExponentialLR(o, gamma=0.9),
    "cosine (E=30, to 0.01)": lambda o: CosineLR(o, total=30, min_factor=0.01),
}
torch_makers = {
    "step (s=10, γ=0.5)": lambda o: torch.optim.lr_scheduler.StepLR(o, 10, 0.5),
    "exponential (γ=0.9)": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
    "cosine (E=30, to 0.01)": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=30, eta_min=0.01 * lr0
    ),
}
schedules = {}
for name, make in makers.items():
    opt = SGD([T(np.zeros(1))], lr=lr0)
    sched = make(opt)
    ours = [opt.lr] + [sched.step() for _ in range(n_epochs)]
    np.testing.assert_allclose(
        ours, [formulas[name](e) for e in range(n_epochs + 1)], rtol=1e-12
    )
    if torch is not None:
        o_t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
        s_t = torch_makers[name](o_t)
        theirs = [o_t.param_groups[0]["lr"]]
        for _ in range(n_epochs):
            o_t.step()
            s_t.step()
            theirs.append(o_t.param_groups[0]["lr"])
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    schedules[name] = ours
print(
    "StepLR, ExponentialLR, CosineLR == their formulas"
    + (" == torch's schedulers" if torch is not None else "")
)

# %% [markdown]
# What a schedule buys: SGD on a noisy least-squares problem (each step sees a
# mini-batch of 8 of 2,000 rows) with a constant step stalls at a noise floor set
# by the step size; decaying the step lowers that floor.

# %%
A = rng.normal(size=(2000, 10))
w_true = rng.normal(size=10)
b_obs = A @ w_true + rng.normal(0, 0.5, 2000)
w_best = np.linalg.lstsq(A, b_obs, rcond=None)[0]


def excess(w):  # mean squared error above the least-squares optimum
    return np.mean((A @ w - b_obs) ** 2) - np.mean((A @ w_best - b_obs) ** 2)


runs = {}
for name in ("constant", "exponential (γ=0.9)"):
    w, g_rng, curve = np.zeros(10), np.random.default_rng(1), []
    for e in range(n_epochs + 1):
        lr = 0.05 if name == "constant" else schedules[name][e] / 2
        for _ in range(250):  # one epoch = 2000 / 8 mini-batches
            rows = g_rng.integers(0, 2000, 8)
            w -= lr * 2 * A[rows].T @ (A[rows] @ w - b_obs[rows]) / 8
        curve.append(excess(w))
    runs[name] = curve
    print(
        f"{name:<20} excess MSE after {n_epochs + 1} epochs: {np.mean(curve[-5:]):.2e}"
    )
assert np.mean(runs["exponential (γ=0.9)"][-5:]) < np.mean(runs["constant"][-5:])

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
for name, lrs in schedules.items():
    ax[0].plot(lrs, label=name)
ax[0].set_xlabel("epoch")
ax[0].set_ylabel("learning rate")
ax[0].set_title("Learning-rate schedules (minirec)")
ax[0].legend()
for name, curve in runs.items():
    ax[1].plot(curve, label=name)
ax[1].set_yscale("log")
ax[1].set_xlabel("epoch")
ax[1].set_ylabel("MSE above the optimum (log scale)")
ax[1].set_title("Mini-batch SGD on least squares")
ax[1].legend()
fig.tight_layout()
_course.savefig(fig, "02b_schedules.png")

# %% [markdown]
# Finally, `gradcheck` on the library losses: they are autograd compositions, and
# their gradients are the formulas above.

# %%
print(gradcheck(lambda v: nn.losses.bce_with_logits(v, y[1:-1]), z[1:-1]))
print(gradcheck(lambda V: nn.losses.cross_entropy(V, labels), Z))

# %% [markdown]
# ## Summary
#
# * Binary cross-entropy is the negative log-likelihood of a Bernoulli label,
#   $\mathrm{softplus}(z) - yz$, with gradient $\sigma(z) - y$; the softmax
#   cross-entropy has gradient $\mathrm{softmax}(z) - \mathrm{onehot}(y)$. Lessons
#   08, 11-13, 16 and 20 train with them; lesson 16 corrects doc 004's printed
#   gradient (E7) against this derivation.
# * Adam divides a running mean of the gradient by the root of a running mean of its
#   square (both bias-corrected): on a badly scaled problem it makes progress in
#   every direction where SGD's stable step crawls along the flat one.
# * Inverted dropout scales survivors by $1/(1-p)$ in training and is the identity
#   in evaluation; clipping by the global norm keeps the direction and caps the
#   length; a schedule lowers the step over the epochs and with it the noise floor
#   of SGD.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically against minirec (the solutions are in `lessons/solutions/`).

# %% [markdown] tags=["exercise"]
# ### Exercise 02b.1: softmax cross-entropy and its gradient
#
# Given logits `Z` (N x C) and integer labels `y` (N,), return `(loss, grad)`: the
# mean softmax cross-entropy and its gradient with respect to `Z`. It must stay
# finite for logits in the thousands.


# %% tags=["exercise"]
def exercise_02b_1(Z, y):
    # your code here
    return 0.0, np.zeros_like(Z)


attempt("02b_1", exercise_02b_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 02b.2: one Adam step
#
# Given the parameters `theta`, their gradient `g`, the running means `m`, `v` and
# the step number `t` (1 for the first step), return the new `(theta, m, v)` of one
# Adam step with learning rate `lr`, `b1`, `b2` and `eps` (section 3).


# %% tags=["exercise"]
def exercise_02b_2(theta, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    # your code here
    return theta, m, v


attempt("02b_2", exercise_02b_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 02b.3: clipping by the global norm
#
# Given a list of gradient arrays and `max_norm`, return `(clipped, norm)`: the
# list rescaled by `max_norm / (norm + 1e-6)` when their joint L2 norm exceeds
# `max_norm` (unchanged otherwise), and the norm before clipping.


# %% tags=["exercise"]
def exercise_02b_3(grads, max_norm):
    # your code here
    return list(grads), 0.0


attempt("02b_3", exercise_02b_3)

# %% [markdown] tags=["exercise"]
# ### Exercise 02b.4: inverted dropout
#
# Given activations `x`, the drop probability `p`, uniform draws `u` in [0, 1) of
# the same shape (keep an entry where `u >= p`) and a flag `training`, return the
# output of inverted dropout (section 4).


# %% tags=["exercise"]
def exercise_02b_4(x, p, u, training):
    # your code here
    return x * (u >= p)


attempt("02b_4", exercise_02b_4)
