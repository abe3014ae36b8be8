# %% [markdown]
# # 03 · Neural-network basics: perceptron, MLP, convolution, RNN/BPTT, LSTM/GRU
#
# **Goal.** Doc 000 §2.2 lists the building blocks that every neural recommender of
# this course is made of. Each one is written here in a few lines of NumPy with its
# backward pass by hand, checked against minirec's autograd (and the autograd
# against finite differences with `gradcheck`), then used through `minirec.nn`.
#
# **Covers:** `000-2.2` (perceptron and MLP forward/backward; convolution and
# pooling; RNN unrolling and BPTT; LSTM and GRU). Library: `minirec/autograd/`
# (`Tensor`, `ops`, `gradcheck`), `minirec/nn/` (`MLP`, `Conv2d`, `MaxPool2d`,
# `GRUCell`, `GRU`), `minirec/optim.py`.
#
# Doc 000 §2.2 (`000_b4c4b935d973744a.txt`) gives the outline only:
#
# > 2.2.1 感知机与多层感知机 (感知机的数学模型; 多层感知机的前向传播与反向传播)
# > 2.2.2 卷积神经网络 (卷积层与池化层) · 2.2.3 循环神经网络 (RNN的展开式与BPTT算法;
# > LSTM与GRU)
#
# > *English:* 2.2.1 The perceptron and the multilayer perceptron (the perceptron's
# > mathematical model; forward and backward propagation of the multilayer
# > perceptron) · 2.2.2 Convolutional neural networks (convolution and pooling
# > layers) · 2.2.3 Recurrent neural networks (the unrolled RNN and the BPTT
# > algorithm; LSTM and GRU)
#
# so the formulas below are the standard ones (Rosenblatt 1958; Rumelhart et al.
# 1986; LeCun et al. 1998; Werbos 1990; Hochreiter & Schmidhuber 1997; Cho et al.
# 2014).

# %%
import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import nn
from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.optim import Adam

rng = np.random.default_rng(0)


def T(a):
    """A float64 leaf tensor that wants its gradient."""
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


# %% [markdown]
# ## 1. The perceptron
#
# $$\hat y = \mathrm{sign}(w^\top x + b), \qquad
#   \text{on a mistake: } w \leftarrow w + y\,x,\; b \leftarrow b + y$$
#
# It converges on linearly separable data (AND) and can never fit XOR.

# %%
Xb = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y_and = np.array([-1, -1, -1, 1])
y_xor = np.array([-1, 1, 1, -1])


def perceptron(X, y, epochs=25):
    w, b, acc = np.zeros(2), 0.0, []
    for _ in range(epochs):
        for x_, y_ in zip(X, y):
            if y_ * (x_ @ w + b) <= 0:
                w, b = w + y_ * x_, b + y_
        acc.append(np.mean(np.where(X @ w + b > 0, 1, -1) == y))
    return acc


acc_and, acc_xor = perceptron(Xb, y_and), perceptron(Xb, y_xor)
print(
    f"perceptron accuracy after 25 epochs: AND {acc_and[-1]:.2f}, "
    f"XOR best {max(acc_xor):.2f}"
)
assert acc_and[-1] == 1.0 and max(acc_xor) < 1.0

# %% [markdown]
# ## 2. The MLP: forward and backward by hand
#
# Two layers, $h = \tanh(x W_1 + b_1)$, $p = \sigma(h W_2 + b_2)$, log loss
# $L = -\frac1N \sum [y \log p + (1-y)\log(1-p)]$. Back-propagation is the chain
# rule from the loss down:
#
# $$\delta_2 = \tfrac1N (p - y),\; \frac{\partial L}{\partial W_2} = h^\top \delta_2,
#   \; \delta_1 = (\delta_2 W_2^\top) \odot (1 - h^2),\;
#   \frac{\partial L}{\partial W_1} = x^\top \delta_1$$
#
# (and the biases get the column sums of the δ's).

# %%
y01 = (y_xor > 0).astype(float)[:, None]
W1, b1 = rng.normal(0, 1, (2, 8)), np.zeros(8)
W2, b2 = rng.normal(0, 1, (8, 1)), np.zeros(1)


def mlp_by_hand(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    p = 1 / (1 + np.exp(-(h @ W2 + b2)))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    d2 = (p - y) / len(X)
    d1 = (d2 @ W2.T) * (1 - h**2)
    return loss, (X.T @ d1, d1.sum(0), h.T @ d2, d2.sum(0))


def mlp_autograd(W1, b1, W2, b2):
    h = F.tanh(F.linear(Tensor(Xb, dtype=np.float64), W1, b1))
    z = F.linear(h, W2, b2)
    return F.bce_with_logits(z, Tensor(y01, dtype=np.float64)).mean()


params = [T(W1), T(b1), T(W2), T(b2)]
loss_t = mlp_autograd(*params)
loss_t.backward()
loss_h, grads_h = mlp_by_hand(W1, b1, W2, b2, Xb, y01)
np.testing.assert_allclose(loss_h, loss_t.item(), rtol=1e-10)
for g_hand, p in zip(grads_h, params):
    np.testing.assert_allclose(g_hand, np.asarray(p.grad), rtol=1e-8, atol=1e-12)
print("hand backprop == autograd;", gradcheck(mlp_autograd, *params))

# %% [markdown]
# The library version: `nn.MLP` + Adam fits XOR, which the perceptron cannot.

# %%
net = nn.MLP([2, 8, 1], activation="tanh", activate_last=False, rng=0)
opt = Adam(net.parameters(), lr=0.05)
curve = []
for _step in range(300):
    loss = F.bce_with_logits(net(Tensor(Xb)), Tensor(y01)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    curve.append(loss.item())
pred = net(Tensor(Xb)).numpy().ravel() > 0
print(f"nn.MLP on XOR: loss {curve[-1]:.4f}, predictions {pred.astype(int)}")
assert (pred == (y_xor > 0)).all()

fig, ax = plt.subplots(1, 3, figsize=(14, 3.6))
ax[0].plot(acc_and, label="AND")
ax[0].plot(acc_xor, label="XOR")
ax[0].set(title="perceptron accuracy", xlabel="epoch", ylabel="training accuracy")
ax[0].legend()
ax[1].semilogy(curve)
ax[1].set(title="nn.MLP on XOR: log loss", xlabel="Adam step", ylabel="log loss")
g = np.linspace(-0.5, 1.5, 80)
grid = np.array(np.meshgrid(g, g)).reshape(2, -1).T
ax[2].contourf(g, g, net(Tensor(grid)).numpy().reshape(80, 80) > 0, alpha=0.3)
ax[2].scatter(Xb[:, 0], Xb[:, 1], c=y_xor, cmap="bwr")
ax[2].set(title="MLP decision regions on XOR", xlabel="$x_1$", ylabel="$x_2$")

# %% [markdown]
# ## 3. Convolution and pooling
#
# A convolution layer (a cross-correlation, as in every deep-learning library)
# slides a $k_h \times k_w$ kernel over the input:
#
# $$y_{o,r,c} = b_o + \sum_{ch} \sum_{i<k_h} \sum_{j<k_w} w_{o,ch,i,j}\,
#   x_{ch, r s + i, c s + j}$$
#
# and max pooling keeps the largest value of each window (its gradient goes to the
# arg max only). In recommendation, ConvNCF (lesson 14) convolves the *interaction
# map* $e_u e_i^\top$ of a user and an item embedding — that is the input used here.

# %%
eu, ei = rng.normal(size=6), rng.normal(size=6)
x = np.outer(eu, ei)[None, None]  # (N=1, C=1, 6, 6)
w = rng.normal(size=(2, 1, 3, 3))
b = rng.normal(size=2)
y_hand = np.zeros((1, 2, 4, 4))
for o in range(2):
    for r in range(4):
        for c in range(4):
            y_hand[0, o, r, c] = b[o] + np.sum(w[o, 0] * x[0, 0, r : r + 3, c : c + 3])
np.testing.assert_allclose(F.conv2d(T(x), T(w), T(b)).numpy(), y_hand, rtol=1e-12)
pool_hand = y_hand.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5))
pool = F.max_pool2d(Tensor(y_hand, dtype=np.float64), 2).numpy()
np.testing.assert_allclose(pool, pool_hand)
print(gradcheck(lambda x, w, b: F.max_pool2d(F.conv2d(x, w, b), 2), T(x), T(w), T(b)))
conv = nn.Conv2d(1, 2, 3, rng=0)
print("nn.Conv2d + nn.MaxPool2d output:", nn.MaxPool2d(2)(conv(Tensor(x))).shape)
ax[2].figure.tight_layout()
_course.savefig(fig, "03_perceptron_mlp.png")
plt.close(fig)

# %% [markdown]
# ## 4. RNN unrolled in time, and back-propagation through time
#
# $$h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad L = \tfrac12 \lVert h_T - y\rVert^2$$
#
# Unrolled, the RNN is a T-layer network that shares $W_x, W_h$. BPTT walks back
# through the steps: with $g_T = h_T - y$,
#
# $$\delta_t = g_t \odot (1 - h_t^2),\quad
#   \frac{\partial L}{\partial W_h} \mathrel{+}= h_{t-1}^\top \delta_t,\quad
#   \frac{\partial L}{\partial W_x} \mathrel{+}= x_t^\top \delta_t,\quad
#   g_{t-1} = \delta_t W_h^\top$$

# %%
Tn, B, D, H = 12, 3, 4, 5
xs = rng.normal(size=(Tn, B, D))
ytarget = rng.normal(size=(B, H))
Wx, Wh, bh = rng.normal(0, 0.5, (D, H)), rng.normal(0, 0.5, (H, H)), np.zeros(H)


def rnn_bptt(Wx, Wh, bh):
    hs = [np.zeros((B, H))]
    for t in range(Tn):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + bh))
    loss = 0.5 * np.sum((hs[-1] - ytarget) ** 2)
    gWx, gWh, gb = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(bh)
    g = hs[-1] - ytarget
    gnorm = []
    for t in range(Tn, 0, -1):
        gnorm.append(np.linalg.norm(g))
        delta = g * (1 - hs[t] ** 2)
        gWx += xs[t - 1].T @ delta
        gWh += hs[t - 1].T @ delta
        gb += delta.sum(0)
        g = delta @ Wh.T
    return loss, (gWx, gWh, gb), gnorm[::-1]


def rnn_autograd(Wx, Wh, bh):
    h = Tensor(np.zeros((B, H)), dtype=np.float64)
    for t in range(Tn):
        h = F.tanh(F.linear(Tensor(xs[t], dtype=np.float64), Wx, bh) + h @ Wh)
    return 0.5 * ((h - Tensor(ytarget, dtype=np.float64)) ** 2).sum()


p_rnn = [T(Wx), T(Wh), T(bh)]
lt = rnn_autograd(*p_rnn)
lt.backward()
loss_h, grads_h, gnorm = rnn_bptt(Wx, Wh, bh)
np.testing.assert_allclose(loss_h, lt.item(), rtol=1e-10)
for gh, p in zip(grads_h, p_rnn):
    np.testing.assert_allclose(gh, np.asarray(p.grad), rtol=1e-8, atol=1e-10)
print("hand BPTT == autograd;", gradcheck(rnn_autograd, *p_rnn))
print("‖∂L/∂h_t‖ from t = 1 to T:", np.round(gnorm, 3))

# %% [markdown]
# The gradient norm reaching early steps shrinks (or explodes) geometrically with
# the distance — the reason for gates, and for gradient clipping in GRU4Rec.
#
# ## 5. LSTM and GRU
#
# LSTM: $[i, f, o, g] = [\sigma, \sigma, \sigma, \tanh](x_t W + h_{t-1} U + b)$,
# $c_t = f \odot c_{t-1} + i \odot g$, $h_t = o \odot \tanh(c_t)$.
#
# GRU (minirec's convention, as PyTorch): $r = \sigma(x W_r + b_r + h U_r + c_r)$,
# $z = \sigma(x W_z + b_z + h U_z + c_z)$,
# $n = \tanh(x W_n + b_n + r \odot (h U_n + c_n))$, $h' = (1 - z) \odot n + z \odot h$.


# %%
def lstm_step(x, h, c, W, U, b):
    a = F.linear(x, W, b) + h @ U
    i, f = F.sigmoid(a[:, :H]), F.sigmoid(a[:, H : 2 * H])
    o, g = F.sigmoid(a[:, 2 * H : 3 * H]), F.tanh(a[:, 3 * H :])
    c = f * c + i * g
    return o * F.tanh(c), c


def lstm_loss(W, U, b):
    h = c = Tensor(np.zeros((B, H)), dtype=np.float64)
    for t in range(4):
        h, c = lstm_step(Tensor(xs[t], dtype=np.float64), h, c, W, U, b)
    return (h * h).sum()


p_lstm = [
    T(rng.normal(0, 0.5, (D, 4 * H))),
    T(rng.normal(0, 0.5, (H, 4 * H))),
    T(np.zeros(4 * H)),
]
print("LSTM", gradcheck(lstm_loss, *p_lstm))

cell = nn.GRUCell(D, H, rng=0)
Wxg, Whg = cell.Wx.numpy().astype(np.float64), cell.Wh.numpy().astype(np.float64)
bx, bhh = cell.bx.numpy().astype(np.float64), cell.bh.numpy().astype(np.float64)


def gru_numpy(x, h):
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    xw, hw = x @ Wxg + bx, h @ Whg + bhh
    r, z = sig(xw[:, :H] + hw[:, :H]), sig(xw[:, H : 2 * H] + hw[:, H : 2 * H])
    n = np.tanh(xw[:, 2 * H :] + r * hw[:, 2 * H :])
    return (1 - z) * n + z * h


h_np = np.zeros((B, H))
h_lib = None
for t in range(Tn):
    h_np = gru_numpy(xs[t], h_np)
    h_lib = cell(Tensor(xs[t]), h_lib)
np.testing.assert_allclose(h_lib.numpy(), h_np, rtol=1e-4, atol=1e-5)  # float32

# the fused nn.GRU (one node whose backward is BPTT) vs the unrolled GRUCell
gru = nn.GRU(D, H, rng=0)
gru.Wx.data[...], gru.Wh.data[...] = cell.Wx.data, cell.Wh.data
seq = Tensor(xs.transpose(1, 0, 2).astype(np.float32))
out, h_last = gru(seq)
np.testing.assert_allclose(h_last.numpy(), h_lib.numpy(), rtol=1e-5, atol=1e-6)
print(f"GRU: NumPy step == nn.GRUCell == fused nn.GRU over {Tn} steps")

# %% [markdown]
# ## Summary
# * A perceptron is one linear unit with a step; it cannot represent XOR, an MLP
#   with one hidden layer can.
# * Back-propagation is the chain rule, layer by layer; BPTT is the same on the
#   unrolled recurrence, and its gradients shrink or grow geometrically with time.
# * Convolution slides shared weights; pooling keeps a window's maximum. Both
#   appear in ConvNCF (lesson 14); GRUs in GRU4Rec (lesson 17); the MLP in NCF and
#   DeepFM (lessons 11–13).
# * Every hand-written gradient above matches minirec's autograd, and autograd
#   matches finite differences.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically against minirec (the solutions are in `lessons/solutions/`). Open
# questions: shuffle the perceptron's data order every epoch (does XOR ever reach
# 100%? why not?); plot ‖∂L/∂h_t‖ for $W_h$ scaled by 0.5, 1 and 2 (where is the
# boundary between vanishing and exploding?); write the LSTM backward for one step
# and compare it with autograd.

# %% [markdown] tags=["exercise"]
# ### Exercise 03.1: a strided convolution, one channel
#
# Return the "valid" convolution (cross-correlation, as in section 3) of the image
# `x` (H x W) with the kernel `w` (kh x kw) at stride `stride`, without bias.


# %% tags=["exercise"]
def exercise_03_1(x, w, stride):
    # your code here
    kh, kw = w.shape
    return np.zeros(((x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1))


attempt("03_1", exercise_03_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 03.2: the backward of 2 x 2 max pooling
#
# `x` is an (H x W) input with even sides and `g` the upstream gradient of its
# 2 x 2 / stride-2 max pooling, (H/2 x W/2). Return the gradient with respect to
# `x`.


# %% tags=["exercise"]
def exercise_03_2(x, g):
    # your code here
    return np.repeat(np.repeat(g, 2, axis=0), 2, axis=1) / 4


attempt("03_2", exercise_03_2)
