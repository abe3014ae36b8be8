"""minirec.nn: modules, layers, losses and initializers on minirec.autograd.

What to import::

    from minirec import nn                   # nn.Linear, nn.MLP, nn.losses.bpr, ...
    from minirec.nn import losses, init
    from minirec.optim import Adam, SGD
    from minirec.autograd import Tensor, no_grad, ops as F

* ``Module``: set ``Parameter``s / sub-Modules (or lists of them) as attributes in
  ``__init__``, define ``forward``. ``parameters()``, ``named_parameters()``,
  ``train()`` / ``eval()`` (dropout on/off), ``zero_grad()``, ``state_dict()`` (name
  -> array copy, ready for ``np.savez``) / ``load_state_dict()`` (in place, checks
  names and shapes), ``to(xp)``.
* Layers (``rng=`` a seed or Generator, ``xp=`` the namespace, float32 parameters):
  ``Linear(in, out, init="xavier"|"he")`` (y = x W + b, W is (in, out)),
  ``Embedding(n, dim, std=0.01, sparse=False)`` (``emb(idx)``; sparse=True gives RowGrad
  grads for lazy optimizer updates), ``Dropout(p)``, ``ReLU``/``Tanh``/``Sigmoid``/
  ``Identity``, ``Sequential(*mods)``, ``MLP(sizes, activation="relu", dropout=0,
  activate_last=True)``, ``Conv2d(in_ch, out_ch, kernel, stride, padding)``,
  ``MaxPool2d(kernel)``, ``LayerNorm(dim)``, ``PositionalEmbedding(max_len, dim)``,
  ``GRUCell(in, hidden)``, ``GRU(in, hidden)`` (``gru(x (B,T,in), h0=None,
  mask=None) -> (outputs (B,T,H), h_last (B,H))``, mask (B,T) bool for variable
  lengths), ``MultiHeadSelfAttention(dim, heads, causal=True, dropout=0)``
  (``attn(x (B,T,d), pad_mask=None)``), ``AttentionPooling(h_dim, x_dim, attn_dim)``
  (doc 002 §4.2: ``pool(h, x, mask=None) -> (c (B,h_dim), alpha (B,T))``).
* ``losses``: ``mse``, ``bce_with_logits`` (fused, stable), ``bpr``, ``top1``,
  ``bpr_max``, ``hinge``, ``cross_entropy`` (full softmax, optional per-example
  weights), ``sampled_softmax`` (with logQ correction), ``l2_penalty(tensors, reg)``.
* ``init``: ``xavier_uniform``, ``he_normal``, ``normal``, ``zeros``.

A training step::

    opt = Adam(model.parameters(), lr=1e-3)
    loss = losses.bce_with_logits(model(u, i), y)
    opt.zero_grad(); loss.backward(); opt.step()
"""

from . import init, losses
from .attention import AttentionPooling, MultiHeadSelfAttention
from .layers import (
    MLP,
    Conv2d,
    Dropout,
    Embedding,
    Identity,
    LayerNorm,
    Linear,
    MaxPool2d,
    PositionalEmbedding,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter
from .recurrent import GRU, GRUCell

__all__ = [
    "GRU",
    "MLP",
    "AttentionPooling",
    "Conv2d",
    "Dropout",
    "Embedding",
    "GRUCell",
    "Identity",
    "LayerNorm",
    "Linear",
    "MaxPool2d",
    "Module",
    "MultiHeadSelfAttention",
    "Parameter",
    "PositionalEmbedding",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "init",
    "losses",
]
